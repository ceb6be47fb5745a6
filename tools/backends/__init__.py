"""Where telemetry comes from: one small protocol per kind of backend.

The sandbox implements all of them (`tools.sandbox.backend`); real systems implement the same
protocols: `prometheus` (metrics), `alertmanager` (alerts from Alertmanager and Prometheus),
`loki` (logs), `jaeger` and `tempo` (traces), `change_store` + `webhook` (deploy and change
events CI/CD posts), `topology` (a service graph file, merged with what traces and backends
show). `selection` decides from settings which one serves each seam (docs/backends.md).
Tools only see these protocols.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


# The trace format every trace backend returns.
@dataclass(frozen=True)
class Span:
    trace_id: str
    span_id: str
    parent_id: str  # "" for the root span
    service: str
    operation: str
    start_ms: float  # unix milliseconds
    duration_ms: float
    error: bool = False


@dataclass(frozen=True)
class Trace:
    trace_id: str
    spans: tuple[Span, ...]

    @property
    def root(self) -> Span:
        return next(s for s in self.spans if not s.parent_id)


@dataclass
class Series:
    service: str
    metric: str
    timestamps: np.ndarray  # unix seconds, int64, ascending
    values: np.ndarray  # float64, NaN where there was no sample
    query: str  # the exact query that produced it
    link: str | None = None  # where a person can see it (a Prometheus graph page, ...)
    warnings: list[str] = field(default_factory=list)  # partial data, as the backend said it


@dataclass
class LogLine:
    ts: int
    service: str
    level: str
    message: str
    template_id: str = ""  # empty when the backend does not know templates


@dataclass
class LogQueryResult:
    lines: list[LogLine]
    query: str
    truncated: bool = False  # the backend had more lines than it returned
    link: str | None = None
    warnings: list[str] = field(default_factory=list)  # partial data, as the backend said it


@dataclass
class Change:
    ts: int
    service: str
    kind: str  # "deploy", "config_change"
    description: str
    author: str = ""
    version: str = ""


@dataclass
class FiringAlert:
    name: str
    service: str
    severity: str
    starts_at: int
    summary: str
    labels: dict[str, str] = field(default_factory=dict)
    ends_at: int | None = None  # firing: not ended (alert correlation reads it)


class MetricsBackend(Protocol):
    source: str

    def services(self) -> list[str]: ...

    def metric_names(self, service: str) -> list[str]: ...

    def range_query(self, service: str, metric: str, start: int, end: int) -> Series: ...


class LogsBackend(Protocol):
    source: str

    def search(
        self,
        services: list[str],
        start: int,
        end: int,
        level: str | None = None,
        contains: str | None = None,
        limit: int = 5000,
    ) -> LogQueryResult: ...


class ChangesBackend(Protocol):
    source: str

    def changes(self, services: list[str], start: int, end: int) -> tuple[list[Change], str]: ...


class AlertsBackend(Protocol):
    source: str

    def firing(self, at: int) -> tuple[list[FiringAlert], str]: ...


class TracesBackend(Protocol):
    source: str

    def find_traces(self, service: str | None, start: int, end: int,
                    limit: int) -> tuple[list[Trace], str]: ...


class TopologySource(Protocol):
    """Who calls whom: the service graph the planner and the root-cause ranking walk."""

    def services(self) -> list[str]: ...

    def dependencies(self, service: str) -> list[str]: ...

    def callers(self, service: str) -> list[str]: ...


class EveryBackend(MetricsBackend, LogsBackend, ChangesBackend, AlertsBackend, TracesBackend,
                   TopologySource, Protocol):
    """One backend serving every seam: the sandbox (`tools.sandbox.backend`), which fills the
    seams no real backend is configured for."""


def downstream(topology: TopologySource, service: str) -> list[str]:
    """The service and everything it calls, directly or not, nearest first."""
    seen = [service]
    i = 0
    while i < len(seen):
        for dep in topology.dependencies(seen[i]):
            if dep not in seen:
                seen.append(dep)
        i += 1
    return seen
