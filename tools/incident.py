"""The incident context tool: one call that gathers, for a window, what an on-call engineer looks
at first (metric anomalies, firing alerts, recent changes, top log templates) and ranks the
likely root causes from all of it (`tools.rca`).

The gathering reuses the metric, log, change and alert tools, so findings and evidence read the
same as when those run alone; the ranking adds one `root_cause` finding per candidate, whose
evidence holds every number its text quotes.
"""

from __future__ import annotations

import contextvars
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import ClassVar

import numpy as np
from pydantic import BaseModel, Field

from tools.backends import (
    AlertsBackend,
    ChangesBackend,
    LogLine,
    LogsBackend,
    MetricsBackend,
    TopologySource,
)
from tools.base import BackendError, Evidence, Finding, Tool, ToolResult, ToolStatus
from tools.events import FiringAlerts, FiringAlertsParams, RecentChanges, RecentChangesParams
from tools.formatting import fmt_time, fmt_window
from tools.logs import SearchLogs, SearchLogsParams
from tools.logstore import line_templates
from tools.metrics import DetectAnomaliesParams, DetectMetricAnomalies, Window
from tools.rca.graph import Graph, graph_from_topology
from tools.rca.model import ChangeRecord, LogTemplateRecord, RcaInput, RcaResult
from tools.rca.rank import rank_causes
from tools.rca.signals import POST_S, PRE_S

CHANGES_LOOKBACK_S = 3 * 3600
TOP_LOG_TEMPLATES = 5
MAX_CAUSES = 3
RCA_SOURCE = "rca"  # the ranking is ours, whichever backend the series came from


class IncidentContextParams(Window):
    services: list[str] = Field(
        default_factory=list, description="services in scope (the asked-about service and what "
                                          "it calls); empty means all")
    onset: int | None = Field(default=None, description="when the trouble began, unix seconds, "
                                                        "if known; else the first anomaly")


class IncidentContext:
    name: ClassVar[str] = "incident_context"
    description: ClassVar[str] = (
        "Everything about an incident window in one call: metric anomalies, firing alerts, "
        "recent deploys and config changes, top log templates, and the ranked likely root "
        "causes with their evidence."
    )
    Params: ClassVar[type[BaseModel]] = IncidentContextParams
    side_effects: ClassVar[bool] = False

    def __init__(self, metrics: MetricsBackend, topology: TopologySource,
                 logs: LogsBackend | None = None, changes: ChangesBackend | None = None,
                 alerts: AlertsBackend | None = None,
                 anomalies: DetectMetricAnomalies | None = None) -> None:
        """`anomalies`: the metric scan to reuse (with the fitted detector and its shadow);
        by default a plain one over `metrics`."""
        self.metrics = metrics
        self.anomalies = anomalies or DetectMetricAnomalies(metrics)
        self.topology = topology
        self.logs = logs
        self.changes = changes
        self.alerts = alerts

    def run(self, params: IncidentContextParams) -> ToolResult:
        # The graph's services, not the metrics backend's: that one may be the part that is down.
        known = self.topology.services()
        scope = params.services or known
        jobs: list[tuple[Tool, BaseModel]] = [(self.anomalies, DetectAnomaliesParams(
            services=scope, start=params.start, end=params.end))]
        if self.logs is not None:
            jobs.append((SearchLogs(self.logs, self.topology), SearchLogsParams(
                services=scope, start=params.start, end=params.end, level="WARN")))
        if self.changes is not None:
            jobs.append((RecentChanges(self.changes), RecentChangesParams(
                services=scope, start=min(params.start, params.end - CHANGES_LOOKBACK_S),
                end=params.end)))
        if self.alerts is not None:
            jobs.append((FiringAlerts(self.alerts), FiringAlertsParams(
                at=params.end, services=scope)))
        parts = _gather(jobs)
        findings = [f for p in parts for f in p.findings]
        evidence = [e for p in parts for e in p.evidence]
        anomalies = [f for f in findings if f.kind == "metric_anomaly"]
        data: dict[str, object] = {"scan": parts[0].summary, "scope": scope,
                                   "parts": {p.tool: p.status.value for p in parts},
                                   "failed": {p.tool: p.summary for p in parts
                                              if p.status is ToolStatus.ERROR}}
        if parts[0].status is ToolStatus.ERROR:
            # Metrics are down: say so, and still hand over what the other systems said.
            others = [p for p in parts[1:] if p.status is not ToolStatus.ERROR]
            status = ToolStatus.OK if any(p.findings for p in others) else ToolStatus.ERROR
            summary = parts[0].summary + (
                "; " + "; ".join(p.summary for p in others) if others else "")
            return ToolResult(self.name, status, summary, findings, evidence, data)
        if parts[0].status is ToolStatus.NO_DATA:
            return ToolResult(self.name, ToolStatus.NO_DATA, parts[0].summary, findings,
                              evidence, data)
        summary = parts[0].summary
        if anomalies:
            onset = params.onset or estimate_onset(anomalies, params.start, params.end)
            without_logs = ""
            try:
                result, templates, without_logs = self._rank(scope, onset, params.end, findings)
            except BackendError as exc:  # a read for the ranking failed after the scan worked
                result = RcaResult([], False, onset, None, [], f"ranking not possible: {exc}")
                templates = []
            causes, cause_evidence = cause_findings(result, RCA_SOURCE)
            findings += causes
            evidence += cause_evidence
            data |= {"onset": onset, "clear": result.clear, "note": result.note,
                     "root_causes": [c.to_dict() for c in result.candidates],
                     "changes_near_onset": [c.description for c in result.changes_near_onset],
                     "log_templates": [t.template for t in templates]}
            if without_logs:  # ranked from the metrics alone; the answer can say why
                data["ranked_without_logs"] = without_logs
            if result.clear and result.candidates:
                top = result.candidates[0]
                summary += f"; likely root cause {top.service}"
            else:
                summary += "; no clear root cause"
        return ToolResult(self.name, ToolStatus.OK, summary, findings, evidence, data)

    def _rank(self, scope: list[str], onset: int, end: int,
              findings: list[Finding]) -> tuple[RcaResult, list[LogTemplateRecord], str]:
        """The ranking, the log templates it used, and why logs could not be used ("": they
        were)."""
        start = onset - PRE_S
        stop = max(end, onset + 60)
        timestamps: np.ndarray | None = None
        signals: dict[tuple[str, str], np.ndarray] = {}
        for service in scope:
            for metric in self.metrics.metric_names(service):
                series = self.metrics.range_query(service, metric, start, stop)
                if timestamps is None:
                    timestamps = series.timestamps
                if len(series.values) == len(timestamps) and np.array_equal(series.timestamps,
                                                                            timestamps):
                    signals[(service, metric)] = series.values
        changes = [ChangeRecord(f.since, f.service, "change", f.detail)
                   for f in findings if f.kind == "change" and f.since is not None]
        without_logs = ""
        try:
            templates = self._templates(scope, onset, stop)
        except BackendError as exc:  # no logs (or logs down): rank from the metrics alone
            templates, without_logs = [], str(exc)
        # A topology that knows the services but no calls between them (Prometheus alone: no
        # traces, no graph file) is no call graph: rank with the rules for none.
        graph: Graph | None = graph_from_topology(self.topology)
        if graph is not None and not any(graph.values()):
            graph = None
        if timestamps is None or len(timestamps) == 0:
            return (RcaResult([], False, onset, None, [], "no metric data to rank"), templates,
                    without_logs)
        inp = RcaInput(timestamps, signals, onset, graph, changes, templates)
        return rank_causes(inp, limit=MAX_CAUSES), templates, without_logs

    def _templates(self, scope: list[str], onset: int, end: int) -> list[LogTemplateRecord]:
        """WARN/ERROR templates since the onset, with their count in as long a span before."""
        if self.logs is None:
            return []
        span = max(end - onset, 60)
        after = self.logs.search(scope, onset, end, level="WARN").lines
        before = self.logs.search(scope, onset - span, onset, level="WARN").lines

        # One store for both windows, mined together in time order: an event has one template
        # before and after the onset, as search_logs shows it.
        mined = line_templates(before + after)
        seen_before = Counter(t.key for t in mined[:len(before)])
        counts: Counter[str] = Counter()
        first: dict[str, tuple[LogLine, str]] = {}
        for line, tpl in zip(after, mined[len(before):], strict=True):
            counts[tpl.key] += 1
            first.setdefault(tpl.key, (line, tpl.text))
        return [LogTemplateRecord(first[k][0].service, first[k][1], first[k][0].level, n,
                                  seen_before.get(k, 0), first[k][0].ts)
                for k, n in counts.most_common(TOP_LOG_TEMPLATES * 4)]


def _gather(jobs: list[tuple[Tool, BaseModel]]) -> list[ToolResult]:
    """Run the gathering tools side by side, results in the order given. Each reads another
    system, so a slow or hanging one costs its own timeout, not the sum of all of them. Every
    thread runs in a copy of this context: the answer's memory of failed servers
    (tools/backends/health.py) is shared."""
    if len(jobs) == 1:
        return [_part(*jobs[0])]
    with ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="incident-part") as pool:
        futures = [pool.submit(contextvars.copy_context().run, _part, tool, params)
                   for tool, params in jobs]
        return [f.result() for f in futures]


def _part(tool: Tool, params: BaseModel) -> ToolResult:
    """Run one gathering tool; a backend that is down becomes its ERROR result (as the registry
    does), so the other parts are still gathered."""
    try:
        return tool.run(params)
    except BackendError as exc:
        return ToolResult(tool.name, ToolStatus.ERROR, str(exc))


def estimate_onset(anomalies: list[Finding], start: int, end: int) -> int:
    """The first anomaly's start. A series already abnormal when the window opens (a level past
    its alarm, such as a certificate days from expiry) says nothing about when trouble began."""
    since = [f.since for f in anomalies if f.since is not None]
    inside = [t for t in since if t > start + 60]
    return min(inside or since or [end - POST_S // 3])


def cause_findings(result: RcaResult, source: str) -> tuple[list[Finding], list[Evidence]]:
    """One `root_cause` finding per candidate of a clear ranking; its evidence (`source`: the
    ranking) quotes the reasons verbatim, so every number in the text is grounded."""
    if not result.clear:
        if not result.note:
            return [], []
        return [], [Evidence("rca:unclear", IncidentContext.name, source,
                             f"rank_causes(onset={result.onset})", "no clear root cause",
                             {"note": result.note})]
    findings, evidence = [], []
    for rank, c in enumerate(result.candidates, 1):
        ev_id = f"rca:{c.service}"
        values: dict[str, object] = {"rank": rank, "score": f"{c.score:.2f}",
                                     "service": c.service, "metric": c.metric or ""}
        values |= {f"reason{i}": r for i, r in enumerate(c.reasons, 1)}
        if result.first_anomaly is not None:
            values["first_anomaly"] = fmt_time(result.first_anomaly)
        evidence.append(Evidence(ev_id, IncidentContext.name, source,
                                 f"rank_causes(onset={result.onset}, window "
                                 f"{fmt_window(result.onset - PRE_S, result.onset + POST_S)})",
                                 f"root-cause candidate {rank}: {c.service}", values))
        metric = f" ({c.metric})" if c.metric else ""
        findings.append(Finding("root_cause", c.service,
                                f"{c.service}{metric}: {'; '.join(c.reasons)}", c.score,
                                metric=c.metric, since=result.first_anomaly, evidence=[ev_id],
                                detail="; ".join(c.reasons),
                                change=c.changes[0].description if c.changes else ""))
    return findings, evidence
