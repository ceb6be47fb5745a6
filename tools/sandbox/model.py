"""The sandbox's records: what a simulated shop emits and what was really wrong with it.

Times are unix seconds (int) in UTC everywhere. These are plain data; the simulator fills them.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    kind: str  # "web", "api", "worker", "cache", "database"
    calls: tuple[str, ...] = ()  # services this one calls (its dependencies)
    base_rps: float = 50.0  # request rate at the daily mean
    base_latency_ms: float = 20.0  # own p50 processing time, before its dependencies
    cpu_limit_cores: float = 1.0
    memory_limit_mb: float = 1024.0
    pool_size: int = 0  # connection pool size, 0 when it has none
    has_disk: bool = False  # has a data volume (databases, queues)
    team: str = ""


@dataclass(frozen=True)
class AffectedMetric:
    """One metric a fault moved, with the clean (noise-free) values at the scenario's `now`."""

    service: str
    metric: str
    baseline: float  # what the metric would have been without the fault
    observed: float  # what it is with the fault


@dataclass(frozen=True)
class GroundTruth:
    service: str
    kind: str  # one of tools.catalog.FAULT_KINDS
    start: int
    end: int
    affected: tuple[AffectedMetric, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class LogRecord:
    ts: int
    service: str
    level: str  # "DEBUG", "INFO", "WARN", "ERROR"
    template_id: str  # stable id of the template the line came from, e.g. "checkout-007"
    message: str
    trace_id: str = ""


@dataclass(frozen=True)
class ChangeEvent:
    ts: int
    service: str
    kind: str  # "deploy" or "config_change"
    description: str  # e.g. "deploy checkout v2.14.0 -> v2.15.0"
    author: str = ""
    version: str = ""


@dataclass(frozen=True)
class Alert:
    name: str  # e.g. "HighErrorRate"
    service: str
    severity: str  # "critical", "warning"
    starts_at: int
    ends_at: int | None  # None while still firing at the end of the data
    summary: str
    labels: dict[str, str] = field(default_factory=dict)
