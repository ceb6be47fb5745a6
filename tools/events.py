"""What changed (deploys, config changes) and what is firing (alerts): the two things an on-call
engineer checks right after the dashboards."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, Field

from tools.backends import AlertsBackend, ChangesBackend
from tools.base import Evidence, Finding, ToolResult, ToolStatus
from tools.formatting import fmt_time, fmt_window
from tools.metrics import Window


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
                           "author": c.author})
            evidence.append(ev)
            kind = "deploy" if c.kind == "deploy" else "config change"
            findings.append(Finding("change", c.service,
                                    f"{kind} at {fmt_time(c.ts)}: {c.description}",
                                    0.5, since=c.ts, evidence=[ev.id]))
        return ToolResult(self.name, ToolStatus.OK,
                          f"{len(changes)} changes in {window}", findings, evidence,
                          data={"changes": len(changes)})


class FiringAlertsParams(BaseModel):
    at: int = Field(description="the moment to look at, unix seconds")
    services: list[str] = Field(default_factory=list, description="only these services")


class FiringAlerts:
    name: ClassVar[str] = "firing_alerts"
    description: ClassVar[str] = "List the alerts firing at a moment, most severe first."
    Params: ClassVar[type[BaseModel]] = FiringAlertsParams
    side_effects: ClassVar[bool] = False

    def __init__(self, backend: AlertsBackend) -> None:
        self.backend = backend

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
        alerts.sort(key=lambda a: (order.get(a.severity, 2), a.starts_at))
        findings, evidence = [], []
        for a in alerts:
            ev = Evidence(f"alert:{a.name}:{a.service}", self.name, self.backend.source, query,
                          a.summary,
                          {"name": a.name, "service": a.service, "severity": a.severity,
                           "since": fmt_time(a.starts_at), "summary": a.summary})
            evidence.append(ev)
            score = 0.8 if a.severity == "critical" else 0.5
            findings.append(Finding("alert", a.service,
                                    f"{a.name} ({a.severity}) on {a.service} since "
                                    f"{fmt_time(a.starts_at)}: {a.summary}",
                                    score, since=a.starts_at, evidence=[ev.id]))
        return ToolResult(self.name, ToolStatus.OK,
                          f"{len(alerts)} alerts firing at {fmt_time(params.at)}",
                          findings, evidence, data={"firing": len(alerts)})
