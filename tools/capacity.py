"""How long until a disk fills, memory hits its limit or a connection pool runs dry: the
`forecast_capacity` tool, over `tools.anomaly.forecast` (a robust line with a 90 % band).

A limit comes from the metrics backend (`capacity(service, metric, at)`: the sandbox's specs,
Prometheus' kube-state-metrics or a team's `capacity` queries); disk is a share of its volume, so
its limit is 100 %. A metric whose limit is unknown is said to be so, never guessed.
"""

from __future__ import annotations

from typing import ClassVar, Protocol

from pydantic import BaseModel, Field, field_validator

from tools.anomaly.forecast import LONG_S, CapacityForecast, forecast_recent
from tools.backends import MetricsBackend
from tools.base import Evidence, Finding, ToolResult, ToolStatus
from tools.catalog import format_value
from tools.formatting import fmt_datetime, fmt_duration, fmt_time
from tools.metrics import LABELS, Window

CAPACITY_METRICS = ("disk", "memory", "connections")


class CapacitySource(Protocol):
    def capacity(self, service: str, metric: str, at: int) -> float | None: ...


def _capacity_metrics(metrics: list[str]) -> list[str]:
    unknown = [m for m in metrics if m not in CAPACITY_METRICS]
    if unknown:
        raise ValueError(f"no capacity forecast for {unknown}; forecasts cover "
                         f"{', '.join(CAPACITY_METRICS)}")
    return metrics


class ForecastCapacityParams(Window):
    services: list[str] = Field(default_factory=list,
                                description="services to forecast; empty means every service")
    metrics: list[str] = Field(default_factory=list,
                               description="disk, memory, connections; empty means all three")

    _check_metrics = field_validator("metrics")(_capacity_metrics)


def eta_text(seconds: float) -> str:
    """'40 min', '5 h 10 min', '12.5 days'."""
    return f"{seconds / 86400:.1f} days" if seconds >= 2 * 86400 else fmt_duration(seconds)


def urgency(f: CapacityForecast) -> float:
    if f.saturated:
        return 1.0
    if f.eta_s is None:
        return 0.1
    for limit_s, score in ((3600, 0.9), (86400, 0.7), (7 * 86400, 0.5)):
        if f.eta_s <= limit_s:
            return score
    return 0.2


class ForecastCapacity:
    name: ClassVar[str] = "forecast_capacity"
    description: ClassVar[str] = (
        "Forecast when disk, memory or a connection pool of services saturates, with a 90 % "
        "band, from the growth over the last 6 hours (or since it sped up, within the last "
        "hour).")
    Params: ClassVar[type[BaseModel]] = ForecastCapacityParams
    side_effects: ClassVar[bool] = False

    def __init__(self, backend: MetricsBackend, limits: CapacitySource) -> None:
        self.backend = backend
        self.limits = limits

    def run(self, params: ForecastCapacityParams) -> ToolResult:
        services = params.services or self.backend.services()
        wanted = params.metrics or list(CAPACITY_METRICS)
        findings: list[Finding] = []
        evidence: list[Evidence] = []
        unknown: list[str] = []
        for service in services:
            have = self.backend.metric_names(service)
            for metric in (m for m in wanted if m in have):
                limit = self.limits.capacity(service, metric, params.end)
                if limit is None:
                    unknown.append(f"{LABELS[metric]} of {service}")
                    continue
                series = self.backend.range_query(service, metric,
                                                  params.end - int(LONG_S), params.end)
                forecast = forecast_recent(series.timestamps, series.values, limit)
                if forecast is None:
                    unknown.append(f"{LABELS[metric]} of {service} (too few points)")
                    continue
                last = int(series.timestamps[-1])  # the forecast counts from the last point
                ev, text = _describe(service, metric, forecast, last, series.query)
                evidence.append(ev)
                findings.append(Finding("forecast", service, text, urgency(forecast),
                                        metric=metric, value=forecast.level, baseline=limit,
                                        evidence=[ev.id]))
        findings.sort(key=lambda f: -f.score)
        if not findings:
            if unknown:
                return ToolResult(self.name, ToolStatus.NO_DATA,
                                  "no limit known for " + ", ".join(unknown[:4]))
            return ToolResult(self.name, ToolStatus.NO_DATA,
                              "none of these services has disk, memory or pool metrics")
        full = sum(f.score >= 1.0 for f in findings)
        soon = sum(0.7 <= f.score < 1.0 for f in findings)
        parts = ([f"{full} at the limit"] if full else []) + (
            [f"{soon} may reach it within a day"] if soon else [])
        n = f"{len(findings)} resource{'s' if len(findings) != 1 else ''}"
        summary = (f"{n} forecast: {', '.join(parts)}" if parts else
                   f"{n} forecast, none reaching its limit within a day")
        if unknown:
            summary += f"; no limit known for {', '.join(unknown[:3])}"
        return ToolResult(self.name, ToolStatus.OK, summary, findings, evidence,
                          data={"forecasts": len(findings)})


def _describe(service: str, metric: str, f: CapacityForecast, at: int, query: str
              ) -> tuple[Evidence, str]:
    shown = f.observed if f.observed is not None else min(f.level, f.capacity)
    now, cap = format_value(metric, shown), format_value(metric, f.capacity)
    window = f"since {fmt_duration(f.window_s)} ago" if f.window_s < LONG_S else "last 6 h"
    values: dict[str, object] = {"now": now, "limit": cap, "window": window,
                                 "growth per hour": format_value(metric, f.slope_per_hour)}
    head = f"{LABELS[metric]} of {service} is {now} of {cap}"
    if f.full_since is not None:
        values["full since"] = fmt_time(int(f.full_since))
        text = f"{head}: at its limit since {values['full since']}"
    elif f.saturated:
        text = f"{head}: at its limit now"
    elif f.eta_s is None:
        text = f"{head} and not rising ({window})"
    else:
        values["eta"] = eta_text(f.eta_s)
        when = int(at + f.eta_s)
        values["at"] = fmt_time(when) if f.eta_s < 20 * 3600 else fmt_datetime(when)
        band = (eta_text(f.eta_low_s) if f.eta_low_s is not None else "?",
                eta_text(f.eta_high_s) if f.eta_high_s is not None else "never")
        values["band"] = f"{band[0]} to {band[1]}"
        text = (f"{head}, growing {values['growth per hour']} per hour ({window}): at this "
                f"rate it reaches the limit in about {values['eta']}, around {values['at']} "
                f"(90 % band {values['band']})")
    ev = Evidence(f"forecast:{service}:{metric}", ForecastCapacity.name, "forecast", query,
                  text, values)
    return ev, text

