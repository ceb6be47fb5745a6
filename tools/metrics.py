"""Metric tools: read chosen series (`query_metrics`) or scan services for anomalies
(`detect_metric_anomalies`), each series compared with the hour before the window."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np
from pydantic import BaseModel, Field, field_validator, model_validator

from tools.anomaly.analysis import (
    BASELINE_SECONDS,
    CURRENT_SECONDS,
    Comparison,
    compare_to_baseline,
)
from tools.backends import MetricsBackend, Series
from tools.base import Evidence, Finding, ToolResult, ToolStatus
from tools.catalog import GOLDEN_SIGNALS, METRICS
from tools.formatting import fmt_ratio, fmt_time, fmt_window, format_value

if TYPE_CHECKING:
    from tools.anomaly.robust import RobustConfig
    from tools.anomaly.shadow import ShadowRecorder

LABELS = {
    "request_rate": "request rate",
    "error_rate": "error rate",
    "latency_p50": "p50 latency",
    "latency_p95": "p95 latency",
    "latency_p99": "p99 latency",
    "cpu": "CPU",
    "memory": "memory",
    "connections": "pool connections in use",
    "disk": "disk used",
    "cert_expiry": "TLS certificate lifetime left",
}


class Window(BaseModel):
    start: int = Field(description="window start, unix seconds")
    end: int = Field(description="window end (exclusive), unix seconds")

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


def _known_metrics(metrics: list[str]) -> list[str]:
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; known: {', '.join(METRICS)}")
    return metrics


class QueryMetricsParams(Window):
    services: list[str] = Field(
        default_factory=list, description="services to read; empty means every service")
    metrics: list[str] = Field(
        default_factory=list, description="metric names; empty means the golden signals"
    )
    compare_offset: int = Field(0, ge=0, description="also compare the last 5 min with the "
                                "same 5 min this many seconds earlier (86400: yesterday)")
    compare_label: str = Field("", description="how to name that earlier moment")

    _check_metrics = field_validator("metrics")(_known_metrics)


class DetectAnomaliesParams(Window):
    services: list[str] = Field(
        default_factory=list, description="services to scan; empty means every service"
    )
    metrics: list[str] = Field(
        default_factory=list, description="metric names; empty means every metric they have"
    )

    _check_metrics = field_validator("metrics")(_known_metrics)


def metric_evidence(series: Series, cmp: Comparison, start: int, end: int) -> Evidence:
    m = series.metric
    values = {
        "current": format_value(m, cmp.current),
        "baseline": format_value(m, cmp.baseline),
        "min": format_value(m, cmp.window_min),
        "max": format_value(m, cmp.window_max),
        "mean": format_value(m, cmp.window_mean),
        "window": fmt_window(start, end),
    }
    if cmp.ratio is not None:
        values["ratio"] = fmt_ratio(cmp.ratio)
    if cmp.since is not None:
        values["since"] = fmt_time(cmp.since)
    summary = (
        f"{series.service} {LABELS[m]}: {values['current']} over the last 5 min, "
        f"{values['baseline']} in the hour before {fmt_window(start, end)}"
    )
    return Evidence(
        id=f"metric:{series.service}:{m}",
        tool="",
        source="",
        query=series.query,
        summary=summary,
        values=values,
        link=series.link,
    )


def describe_change(service: str, metric: str, cmp: Comparison) -> str:
    """One grounded sentence: 'error rate of checkout is 23.4 % (last 5 min), up from ...'."""
    now = format_value(metric, cmp.current)
    before = format_value(metric, cmp.baseline)
    text = f"{LABELS[metric]} of {service} is {now} (last 5 min)"
    if cmp.anomalous:
        text += f", {cmp.direction} from {before} in the hour before"
        if cmp.ratio is not None and cmp.ratio > 0 and cmp.direction == "up":
            text += f" ({fmt_ratio(cmp.ratio)})"
        if cmp.since is not None:
            text += f", since {fmt_time(cmp.since)}"
    else:
        text += f", in line with the hour before ({before})"
    return text


class _MetricsTool:
    side_effects: ClassVar[bool] = False
    name: ClassVar[str]

    def __init__(self, backend: MetricsBackend, detector: RobustConfig | None = None,
                 shadow: ShadowRecorder | None = None) -> None:
        self.backend = backend
        self.detector = detector  # the fitted anomaly model's configuration, when one is current
        self.shadow = shadow  # a shadow version judging the same series, off the answer's path

    def _unknown_services(self, services: list[str]) -> ToolResult | None:
        known = set(self.backend.services())
        unknown = [s for s in services if s not in known]
        if unknown:
            return ToolResult(
                self.name,
                ToolStatus.ERROR,
                f"unknown service(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}",
            )
        return None

    def _compare(
        self, service: str, metric: str, start: int, end: int
    ) -> tuple[Series, Comparison | None]:
        series = self.backend.range_query(service, metric, start - BASELINE_SECONDS, end)
        cmp = compare_to_baseline(metric, series.timestamps, series.values, start, end,
                                  self.detector)
        if self.shadow is not None and cmp is not None and cmp.anomalous \
                and cmp.direction in ("up", "down"):  # the series the detector dates
            self.shadow.observe(self.name, service, metric, series.timestamps, series.values,
                                start, end, cmp.direction)
        return series, cmp

    def _evidence(self, series: Series, cmp: Comparison, start: int, end: int) -> Evidence:
        ev = metric_evidence(series, cmp, start, end)
        ev.tool, ev.source = self.name, self.backend.source
        return ev


def describe_offset(service: str, metric: str, now: float, then: float, label: str) -> str:
    """'error rate of cart is 98.5 % (last 5 min), up from 0.23 % at the same time yesterday'."""
    text = f"{LABELS[metric]} of {service} is {format_value(metric, now)} (last 5 min)"
    before = format_value(metric, then)
    if before == format_value(metric, now):
        return f"{text}, the same as {label}"
    direction = "up" if now > then else "down"
    ratio = f" ({fmt_ratio(now / then)})" if direction == "up" and then > 0 else ""
    return f"{text}, {direction} from {before} {label}{ratio}"


class QueryMetrics(_MetricsTool):
    name: ClassVar[str] = "query_metrics"
    description: ClassVar[str] = (
        "Read metrics of services over a time window: current value, min/max/mean, and the "
        "hour before for comparison."
    )
    Params: ClassVar[type[BaseModel]] = QueryMetricsParams

    def _offset(self, service: str, metric: str, cmp: Comparison, params: QueryMetricsParams,
                ev: Evidence, missing: list[str]) -> str | None:
        """The same 5 minutes `compare_offset` earlier, into the evidence; None: no data then."""
        end = params.end - params.compare_offset
        earlier = self.backend.range_query(service, metric, end - CURRENT_SECONDS, end)
        values = earlier.values[np.isfinite(earlier.values)]
        label = params.compare_label or f"{fmt_time(end)}"
        if values.size == 0:
            missing.append(f"no {LABELS[metric]} data for {service} at {label} "
                           f"({fmt_window(end - CURRENT_SECONDS, end)})")
            return None
        then = float(np.median(values))
        ev.values |= {"then": format_value(metric, then), "then_label": label,
                      "then_window": fmt_window(end - CURRENT_SECONDS, end),
                      "then_query": earlier.query}
        if then > 0 and cmp.current > then:
            ev.values["then_ratio"] = fmt_ratio(cmp.current / then)
        return describe_offset(service, metric, cmp.current, then, label)

    def run(self, params: QueryMetricsParams) -> ToolResult:
        # No service named and none discovered: the backend's own list (or why it has none).
        services = params.services or self.backend.services()
        if (bad := self._unknown_services(services)) is not None:
            return bad
        findings: list[Finding] = []
        evidence: list[Evidence] = []
        missing: list[str] = []
        for service in services:
            available = self.backend.metric_names(service)
            wanted = params.metrics or [m for m in GOLDEN_SIGNALS if m in available]
            for metric in wanted:
                if metric not in available:
                    missing.append(f"{service} has no {LABELS[metric]} metric")
                    continue
                series, cmp = self._compare(service, metric, params.start, params.end)
                if cmp is None:
                    missing.append(f"no {LABELS[metric]} data for {service}")
                    continue
                ev = self._evidence(series, cmp, params.start, params.end)
                evidence.append(ev)
                text = describe_change(service, metric, cmp)
                if params.compare_offset:
                    text = self._offset(service, metric, cmp, params, ev, missing) or text
                findings.append(Finding(
                    kind="metric_anomaly" if cmp.anomalous else "metric_value",
                    service=service, metric=metric, text=text,
                    score=cmp.score if cmp.anomalous else 0.0, value=cmp.current,
                    baseline=cmp.baseline, unit=METRICS[metric].unit, since=cmp.since,
                    evidence=[ev.id],
                ))
        if not findings:
            return ToolResult(self.name, ToolStatus.NO_DATA,
                              "; ".join(missing) or "no data", data={"missing": missing})
        n_anom = sum(f.kind == "metric_anomaly" for f in findings)
        if params.compare_offset:
            compared = sum(1 for e in evidence if "then" in e.values)
            return ToolResult(
                self.name, ToolStatus.OK,
                f"read {len(findings)} series, compared {compared} with "
                f"{params.compare_label or 'earlier'}"
                + (f" (no data from then for {len(findings) - compared})"
                   if compared < len(findings) else ""),
                findings=findings, evidence=evidence, data={"missing": missing})
        return ToolResult(
            self.name, ToolStatus.OK,
            f"read {len(findings)} series, {n_anom} outside their normal range",
            findings=findings, evidence=evidence, data={"missing": missing},
        )


class DetectMetricAnomalies(_MetricsTool):
    name: ClassVar[str] = "detect_metric_anomalies"
    description: ClassVar[str] = (
        "Scan every metric of the given services (all services when none is given) and report "
        "those outside their normal range, with when they left it."
    )
    Params: ClassVar[type[BaseModel]] = DetectAnomaliesParams

    def run(self, params: DetectAnomaliesParams) -> ToolResult:
        services = params.services or self.backend.services()
        if (bad := self._unknown_services(services)) is not None:
            return bad
        findings: list[Finding] = []
        evidence: list[Evidence] = []
        scanned = 0
        for service in services:
            available = self.backend.metric_names(service)
            for metric in params.metrics or available:
                if metric not in available:
                    continue
                series, cmp = self._compare(service, metric, params.start, params.end)
                if cmp is None:
                    continue
                scanned += 1
                if not cmp.anomalous:
                    continue
                ev = self._evidence(series, cmp, params.start, params.end)
                evidence.append(ev)
                findings.append(Finding(
                    kind="metric_anomaly", service=service, metric=metric,
                    text=describe_change(service, metric, cmp), score=cmp.score,
                    value=cmp.current, baseline=cmp.baseline, unit=METRICS[metric].unit,
                    since=cmp.since, evidence=[ev.id],
                ))
        if scanned == 0:
            return ToolResult(self.name, ToolStatus.NO_DATA,
                              f"no metric data for {', '.join(services)} in that window")
        findings.sort(key=lambda f: -f.score)
        return ToolResult(
            self.name, ToolStatus.OK,
            f"scanned {scanned} series of {len(services)} services: "
            f"{len(findings)} outside their normal range",
            findings=findings, evidence=evidence,
            data={"scanned": scanned, "services": services},
        )
