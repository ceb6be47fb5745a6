"""What changed (deploys, config changes) and what is firing (alerts): the two things an on-call
engineer checks right after the dashboards. Firing alerts come grouped into incidents (time,
service graph, text: `tools.anomaly.correlation`), each with the reason its alerts were joined."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, Field

from tools.anomaly.correlation import AlertCorrelator
from tools.backends import AlertsBackend, ChangesBackend, TopologySource
from tools.base import Evidence, Finding, ToolResult, ToolStatus
from tools.formatting import fmt_time, fmt_window, plural
from tools.metrics import Window
from tools.rca.graph import graph_from_topology


def previous_version(description: str, version: str) -> str:
    """The version a deploy replaced, from the "<old> -> <new>" its description ends with
    (every changes backend writes deploys so); "" when it does not say."""
    old, arrow, new = description.rpartition(" -> ")
    if not arrow or not version or new.strip() != version:
        return ""
    return old.rsplit(" ", 1)[-1]


class RecentChangesParams(Window):
    services: list[str] = Field(
        default_factory=list, description="services whose changes to list; empty means all"
    )


class RecentChanges:
    name: ClassVar[str] = "recent_changes"
    description: ClassVar[str] = "List deploys and configuration changes in a time window."
    Params: ClassVar[type[BaseModel]] = RecentChangesParams
    side_effects: ClassVar[bool] = False

    def __init__(self, backend: ChangesBackend) -> None:
        self.backend = backend

    def run(self, params: RecentChangesParams) -> ToolResult:
        changes, query = self.backend.changes(params.services, params.start, params.end)
        window = fmt_window(params.start, params.end)
        if not changes:
            ev = Evidence("changes:none", self.name, self.backend.source, query,
                          f"no deploys or config changes in {window}", {"window": window})
            return ToolResult(self.name, ToolStatus.NO_DATA,
                              f"no deploys or config changes in {window}", evidence=[ev])
        findings, evidence = [], []
        for i, c in enumerate(sorted(changes, key=lambda c: -c.ts), 1):
            ev = Evidence(f"change:{i}", self.name, self.backend.source, query,
                          c.description,
                          {"at": fmt_time(c.ts), "service": c.service, "kind": c.kind,
                           "description": c.description, "version": c.version,
                           "previous_version": previous_version(c.description, c.version),
                           "author": c.author})
            evidence.append(ev)
            kind = "deploy" if c.kind == "deploy" else "config change"
            by = f" by {c.author}" if c.author else ""  # "who shipped what?"
            findings.append(Finding("change", c.service,
                                    f"{kind} at {fmt_time(c.ts)}{by}: {c.description}",
                                    0.5, since=c.ts, evidence=[ev.id], detail=c.description))
        return ToolResult(self.name, ToolStatus.OK,
                          f"{plural(len(changes), 'change')} in {window}", findings, evidence,
                          data={"changes": len(changes)})


class FiringAlertsParams(BaseModel):
    at: int = Field(description="the moment to look at, unix seconds")
    services: list[str] = Field(default_factory=list, description="only these services")


class FiringAlerts:
    name: ClassVar[str] = "firing_alerts"
    description: ClassVar[str] = "List the alerts firing at a moment, most severe first."
    Params: ClassVar[type[BaseModel]] = FiringAlertsParams
    side_effects: ClassVar[bool] = False

    def __init__(self, backend: AlertsBackend, graph: TopologySource | None = None) -> None:
        self.backend = backend
        self.graph = graph  # the service graph that relates alerts; None: time and text only

    def run(self, params: FiringAlertsParams) -> ToolResult:
        alerts, query = self.backend.firing(params.at)
        if params.services:
            alerts = [a for a in alerts if a.service in params.services]
        if not alerts:
            ev = Evidence("alerts:none", self.name, self.backend.source, query,
                          f"no alerts firing at {fmt_time(params.at)}",
                          {"at": fmt_time(params.at)})
            return ToolResult(self.name, ToolStatus.NO_DATA,
                              f"no alerts firing at {fmt_time(params.at)}", evidence=[ev])
        order = {"critical": 0, "warning": 1}
        calls = graph_from_topology(self.graph) if self.graph is not None else {}
        groups = AlertCorrelator(calls).group(alerts)
        findings, evidence = [], []
        for g in sorted(groups, key=lambda g: (-len(g.alerts), g.start)):
            members = sorted(g.alerts, key=lambda a: (order.get(a.severity, 2), a.starts_at))
            group_ev = None
            if len(groups) > 1 or len(g.alerts) > 1:
                first = min(g.alerts, key=lambda a: (a.starts_at, a.service, a.name))
                why = [f"{a.name} on {a.service}: {r}" for a, r in zip(g.alerts, g.reasons,
                                                                        strict=True) if r]
                text = (f"{len(g.alerts)} related alerts on {', '.join(g.services)} since "
                        f"{fmt_time(g.start)}, first {first.name} on {first.service}")
                group_ev = Evidence(f"alert-group:{g.id}", self.name, "correlation",
                                    query, text,
                                    {"alerts": len(g.alerts), "services": g.services,
                                     "since": fmt_time(g.start),
                                     "first": f"{first.name} on {first.service}",
                                     "joined because": why[:6]})
                evidence.append(group_ev)
            for a in members:
                ev = Evidence(f"alert:{a.name}:{a.service}", self.name, self.backend.source,
                              query, a.summary,
                              {"name": a.name, "service": a.service, "severity": a.severity,
                               "since": fmt_time(a.starts_at), "summary": a.summary})
                evidence.append(ev)
                score = 0.8 if a.severity == "critical" else 0.5
                findings.append(Finding("alert", a.service,
                                        f"{a.name} ({a.severity}) on {a.service} since "
                                        f"{fmt_time(a.starts_at)}: {a.summary}",
                                        score, since=a.starts_at,
                                        evidence=[ev.id] + ([group_ev.id] if group_ev else []),
                                        detail=a.name))
        summary = f"{len(alerts)} alerts firing at {fmt_time(params.at)}"
        if len(alerts) > 1:
            summary += (f", in {len(groups)} group{'s' if len(groups) > 1 else ''} of related "
                        f"alerts")
        return ToolResult(self.name, ToolStatus.OK, summary, findings, evidence,
                          data={"firing": len(alerts), "groups": [
                              {"alerts": len(g.alerts), "services": g.services,
                               "since": g.start,
                               "reasons": [r for r in g.reasons if r]} for g in groups]})
