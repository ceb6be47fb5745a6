"""One backend per seam (`Backends`), and the stand-in for a seam nothing serves
(`Unconfigured`): every read raises `NotConfigured`, whose message says which setting to set, so
the tool registry turns it into a result the answer explains instead of a crash."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NoReturn

from tools.backends import (
    AlertsBackend,
    Change,
    ChangesBackend,
    EveryBackend,
    FiringAlert,
    LogQueryResult,
    LogsBackend,
    MetricsBackend,
    Series,
    TopologySource,
    Trace,
    TracesBackend,
)
from tools.backends.health import BackendHealth
from tools.base import BackendError

HINTS = {
    "metrics": "set OPSCOPILOT_PROMETHEUS__URL",
    "logs": "set OPSCOPILOT_LOKI__URL",
    "traces": "set OPSCOPILOT_TRACES__URL (and OPSCOPILOT_TRACES__KIND=jaeger or tempo)",
    "alerts": "set OPSCOPILOT_ALERTMANAGER__URL or OPSCOPILOT_PROMETHEUS__URL",
    "changes": "run `opscopilot events serve` and set OPSCOPILOT_EVENTS__ENABLED=true",
}


class NotConfigured(BackendError):
    """No backend serves this seam; the message says which setting to set."""


@dataclass
class Unconfigured:
    """A seam with no backend: every read says so (the tool answers with it, nothing crashes)."""

    seam: str
    source: str = "not configured"

    def _fail(self) -> NoReturn:
        raise NotConfigured(f"no {self.seam} backend is configured: {HINTS[self.seam]}")

    def services(self) -> list[str]:
        self._fail()

    def metric_names(self, service: str) -> list[str]:
        self._fail()

    def range_query(self, service: str, metric: str, start: int, end: int) -> Series:
        self._fail()

    def search(self, services: list[str], start: int, end: int, level: str | None = None,
               contains: str | None = None, limit: int = 5000) -> LogQueryResult:
        self._fail()

    def changes(self, services: list[str], start: int, end: int) -> tuple[list[Change], str]:
        self._fail()

    def firing(self, at: int) -> tuple[list[FiringAlert], str]:
        self._fail()

    def find_traces(self, service: str | None, start: int, end: int,
                    limit: int) -> tuple[list[Trace], str]:
        self._fail()


@dataclass
class Backends:
    """One implementation per seam. It also answers every backend protocol by handing the call
    to the seam's backend, so a tool written against the sandbox backend keeps working; new
    code should take the seam it reads (`backends.metrics`)."""

    metrics: MetricsBackend
    logs: LogsBackend
    traces: TracesBackend
    changes_source: ChangesBackend
    alerts: AlertsBackend
    topology: TopologySource
    sandbox: EveryBackend | None = None
    unconfigured: list[str] = field(default_factory=list)
    health: BackendHealth = field(default_factory=BackendHealth)  # every HTTP server's breaker
    source: str = field(init=False)  # the metrics backend's, for tools given the whole bundle

    def __post_init__(self) -> None:
        self.source = self.metrics.source

    @classmethod
    def from_sandbox(cls, sandbox: EveryBackend) -> Backends:
        return cls(sandbox, sandbox, sandbox, sandbox, sandbox, sandbox, sandbox)

    # -- TopologySource
    def services(self) -> list[str]:
        return self.topology.services()

    def discovery_problems(self) -> list[str]:
        """What the last service discovery could not read (empty: the list is complete)."""
        return list(getattr(self.topology, "problems", []))

    def dependencies(self, service: str) -> list[str]:
        return self.topology.dependencies(service)

    def callers(self, service: str) -> list[str]:
        return self.topology.callers(service)

    # -- the data protocols
    def metric_names(self, service: str) -> list[str]:
        return self.metrics.metric_names(service)

    def range_query(self, service: str, metric: str, start: int, end: int) -> Series:
        return self.metrics.range_query(service, metric, start, end)

    def capacity(self, service: str, metric: str, at: int) -> float | None:
        """The metric's limit, from a metrics backend that knows limits (else disk's 100 %)."""
        known = getattr(self.metrics, "capacity", None)
        if known is not None:
            limit: float | None = known(service, metric, at)
            return limit
        return 100.0 if metric == "disk" else None

    def search(self, services: list[str], start: int, end: int, level: str | None = None,
               contains: str | None = None, limit: int = 5000) -> LogQueryResult:
        return self.logs.search(services, start, end, level, contains, limit)

    def changes(self, services: list[str], start: int, end: int) -> tuple[list[Change], str]:
        return self.changes_source.changes(services, start, end)

    def firing(self, at: int) -> tuple[list[FiringAlert], str]:
        return self.alerts.firing(at)

    def find_traces(self, service: str | None, start: int, end: int,
                    limit: int) -> tuple[list[Trace], str]:
        return self.traces.find_traces(service, start, end, limit)
