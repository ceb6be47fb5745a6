"""The sandbox served through the same backend protocols as Prometheus, Loki and friends."""

from __future__ import annotations

import numpy as np

from tools.backends import Change, FiringAlert, LogLine, LogQueryResult, Series, Trace
from tools.sandbox.simulator import Sandbox


class SandboxBackend:
    """Metrics, logs, changes, alerts and topology of one simulated scenario."""

    source = "sandbox"

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.scenario_name = sandbox.scenario.name

    # -- topology
    def services(self) -> list[str]:
        return list(self.sandbox.topology.names())

    def dependencies(self, service: str) -> list[str]:
        return list(self.sandbox.topology.dependencies(service))

    def callers(self, service: str) -> list[str]:
        return list(self.sandbox.topology.callers(service))

    # -- metrics
    def metric_names(self, service: str) -> list[str]:
        return list(self.sandbox.metric_names(service))

    def range_query(self, service: str, metric: str, start: int, end: int) -> Series:
        ts, vs = self.sandbox.series(service, metric, start, end)
        query = (
            f'sandbox[{self.scenario_name}] {metric}{{service="{service}"}} '
            f"[{start}, {end}) step {self.sandbox.step}s"
        )
        return Series(service, metric, np.asarray(ts), np.asarray(vs, dtype=float), query)

    def capacity(self, service: str, metric: str, at: int) -> float | None:
        """The limit a resource metric saturates at: the spec's memory limit and pool size."""
        spec = self.sandbox.topology.services[service]
        if metric == "disk":
            return 100.0
        if metric == "memory":
            return float(spec.memory_limit_mb)
        if metric == "connections" and spec.pool_size > 0:
            return float(spec.pool_size)
        return None

    # -- logs
    def search(
        self,
        services: list[str],
        start: int,
        end: int,
        level: str | None = None,
        contains: str | None = None,
        limit: int = 5000,
    ) -> LogQueryResult:
        lines: list[LogLine] = []
        for service in services:
            # The sandbox treats `level` as a minimum, as LogsBackend.search does.
            lines += [LogLine(rec.ts, rec.service, rec.level, rec.message, rec.template_id)
                      for rec in self.sandbox.logs(service, start, end, level=level,
                                                   contains=contains)]
        lines.sort(key=lambda line: line.ts)
        truncated = len(lines) > limit
        filters = [f'service in ({", ".join(services)})']
        if level:
            filters.append(f"level >= {level}")
        if contains:
            filters.append(f"message contains {contains!r}")
        query = f"sandbox[{self.scenario_name}] logs where {' and '.join(filters)} [{start}, {end})"
        return LogQueryResult(lines[-limit:], query, truncated)

    # -- changes
    def changes(self, services: list[str], start: int, end: int) -> tuple[list[Change], str]:
        wanted = set(services)
        events = [
            Change(e.ts, e.service, e.kind, e.description, e.author, e.version)
            for e in self.sandbox.events(start, end)
            if not wanted or e.service in wanted
        ]
        scope = ", ".join(services) if services else "all services"
        return events, f"sandbox[{self.scenario_name}] change events for {scope} [{start}, {end})"

    # -- alerts
    def firing(self, at: int) -> tuple[list[FiringAlert], str]:
        alerts = [
            FiringAlert(a.name, a.service, a.severity, a.starts_at, a.summary, dict(a.labels))
            for a in self.sandbox.firing(at)
        ]
        return alerts, f"sandbox[{self.scenario_name}] alerts firing at {at}"

    # -- traces
    def find_traces(self, service: str | None, start: int, end: int,
                    limit: int) -> tuple[list[Trace], str]:
        traces = self.sandbox.traces(service, start, end, limit=limit)
        scope = f'service="{service}"' if service else "any service"
        return traces, f"sandbox[{self.scenario_name}] traces through {scope} [{start}, {end})"
