"""Trace search summarised the way an engineer reads a trace view: where the time goes (self time
per service), which services' spans fail, and the slowest requests with their trace ids."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import ClassVar

import numpy as np
from pydantic import BaseModel, Field

from tools.backends import Trace, TracesBackend
from tools.base import Evidence, Finding, ToolResult, ToolStatus
from tools.formatting import fmt_window
from tools.metrics import Window

TRACE_LIMIT = 200
TOP_OPERATIONS = 5
MIN_OPERATION_SPANS = 3  # fewer spans than this give no p95 worth ranking


def self_times(trace: Trace) -> dict[str, float]:
    """Milliseconds each service spent in its own spans, children's time taken out."""
    child_time: dict[str, float] = defaultdict(float)
    for span in trace.spans:
        if span.parent_id:
            child_time[span.parent_id] += span.duration_ms
    own: dict[str, float] = defaultdict(float)
    for span in trace.spans:
        own[span.service] += max(0.0, span.duration_ms - child_time[span.span_id])
    return own


def _slowest_operations(traces: list[Trace], values: dict[str, object], ev_id: str,
                        service: str | None = None, limit: int = TOP_OPERATIONS
                        ) -> list[Finding]:
    """The operations (endpoints, RPC methods, queries) with the highest p95 span duration, each
    seen at least MIN_OPERATION_SPANS times, with how many of their spans failed: "top 5 slowest
    endpoints". Asked about one service, its own operations come first (the traces through it
    also carry its callers' endpoints, which are slow because they wait for it)."""
    durations: dict[tuple[str, str], list[float]] = defaultdict(list)
    failed: Counter[tuple[str, str]] = Counter()
    for trace in traces:
        for span in trace.spans:
            durations[(span.service, span.operation)].append(span.duration_ms)
            failed[(span.service, span.operation)] += span.error
    ranked = sorted(((key[0] != service, -float(np.percentile(d, 95)), len(d), key)
                     for key, d in durations.items() if len(d) >= MIN_OPERATION_SPANS))[:limit]
    out = []
    for rank, (_, neg_p95, n, (svc, op)) in enumerate(ranked, 1):
        p95, errors = -neg_p95, failed[(svc, op)]
        failing = f", {errors} failed" if errors else ""
        values[f"operation{rank}"] = f"{svc} {op} p95 {p95:.0f} ms over {n} spans{failing}"
        out.append(Finding("trace_operation", svc,
                           f"slow operation: {op} on {svc}, p95 {p95:.0f} ms over "
                           f"{n} spans{failing}", 0.4 - 0.01 * rank, evidence=[ev_id]))
    return out


class SearchTracesParams(Window):
    services: list[str] = Field(default_factory=list,
                                description="services the traces pass through; empty: any")


class SearchTraces:
    name: ClassVar[str] = "search_traces"
    description: ClassVar[str] = (
        "Sample traces through a service in a time window and summarise where the time goes "
        "(self time per service), which services' spans fail, and the slowest traces."
    )
    Params: ClassVar[type[BaseModel]] = SearchTracesParams
    side_effects: ClassVar[bool] = False

    def __init__(self, backend: TracesBackend) -> None:
        self.backend = backend

    def run(self, params: SearchTracesParams) -> ToolResult:
        window = fmt_window(params.start, params.end)
        service = params.services[0] if params.services else None
        traces, query = self.backend.find_traces(service, params.start, params.end, TRACE_LIMIT)
        if not traces:
            return ToolResult(self.name, ToolStatus.NO_DATA,
                              f"no traces through {service or 'any service'} in {window}")
        total_self: Counter[str] = Counter()
        error_spans: Counter[str] = Counter()
        for trace in traces:
            total_self.update(self_times(trace))
            # A failed call marks its callers' spans failed too: blame the deepest failure.
            failed_parents = {s.parent_id for s in trace.spans if s.error and s.parent_id}
            error_spans.update(s.service for s in trace.spans
                               if s.error and s.span_id not in failed_parents)
        roots = np.array([t.root.duration_ms for t in traces])
        all_time = sum(total_self.values()) or 1.0
        slowest = sorted(traces, key=lambda t: -t.root.duration_ms)[:3]
        values: dict[str, object] = {
            "traces": len(traces),
            "window": window,
            "p50_ms": f"{np.percentile(roots, 50):.0f} ms",
            "p95_ms": f"{np.percentile(roots, 95):.0f} ms",
            "error_traces": sum(any(s.error for s in t.spans) for t in traces),
        }
        for svc, ms in total_self.most_common(5):
            values[f"self_time_share_{svc}"] = f"{100 * ms / all_time:.0f} %"
        for svc, n in error_spans.most_common(5):
            values[f"error_spans_{svc}"] = n
        for i, t in enumerate(slowest, 1):
            values[f"slowest{i}"] = f"{t.trace_id} {t.root.duration_ms:.0f} ms"
        ev = Evidence(f"traces:{service or 'all'}", self.name, self.backend.source, query,
                      f"{len(traces)} traces through {service or 'any service'} in {window}",
                      values)
        findings = []
        top_svc, top_ms = total_self.most_common(1)[0]
        findings.append(Finding(
            "trace_time", top_svc,
            f"{values[f'self_time_share_{top_svc}']} of the time in {len(traces)} sampled traces "
            f"is spent in {top_svc} (p95 request {values['p95_ms']})",
            0.5, evidence=[ev.id]))
        if error_spans:
            err_svc, n = error_spans.most_common(1)[0]
            findings.append(Finding(
                "trace_errors", err_svc,
                f"{n} failing spans come from {err_svc}; {values['error_traces']} of "
                f"{len(traces)} traces have an error", min(1.0, n / len(traces)),
                evidence=[ev.id]))
        findings += _slowest_operations(traces, values, ev.id, service)
        return ToolResult(self.name, ToolStatus.OK,
                          f"{len(traces)} traces through {service or 'any service'} in {window}",
                          findings, [ev], data={"traces": len(traces)})
