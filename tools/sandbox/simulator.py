"""Run a scenario: the `Sandbox` every tool, test, eval and benchmark reads from.

`simulate(scenario)` computes the clean signals with and without the faults (the difference is
the ground truth), adds seeded noise, and builds change events and alerts; logs and traces are
generated on demand, deterministically. `load_sandbox(name_or_path)` caches one per scenario file.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from tools.backends import Trace
from tools.catalog import METRICS
from tools.sandbox import alerts as alert_rules
from tools.sandbox.errors import UnknownSeries
from tools.sandbox.events import change_events
from tools.sandbox.logs import LogGenerator
from tools.sandbox.model import AffectedMetric, Alert, ChangeEvent, GroundTruth, LogRecord
from tools.sandbox.scenario import Scenario, load_scenario, resolve_path
from tools.sandbox.signals import LATENCY, ShopSignals, clean_signals, metric_names
from tools.sandbox.traces import TraceGenerator

GROUND_TRUTH_WINDOW_S = 300
REL_CHANGE = 0.2


class Sandbox:
    """One simulated scenario: its series, logs, traces, changes, alerts and ground truth."""

    def __init__(self, scenario: Scenario, values: dict[str, dict[str, np.ndarray]],
                 clean: ShopSignals, normal: ShopSignals,
                 ground_truth: list[GroundTruth], events: list[ChangeEvent]) -> None:
        self.scenario = scenario
        self.topology = scenario.topology
        self.now: int = scenario.now
        self.start: int = scenario.start
        self.end: int = scenario.end
        self.step: int = scenario.step
        self.timestamps: np.ndarray = np.arange(self.start, self.end, self.step, dtype=np.int64)
        self.ground_truth = ground_truth
        self.clean = clean  # noise-free, with the faults
        self.normal = normal  # noise-free, without the faults
        self.observed = values  # the series as served: clean with the faults, plus noise
        self._events = events
        self._alerts: list[Alert] | None = None
        self._logs = LogGenerator(self)
        self._traces = TraceGenerator(self)

    # -- metrics
    def metric_names(self, service: str) -> list[str]:
        if service not in self.observed:
            raise UnknownSeries(f"unknown service {service!r} "
                                f"(services: {', '.join(self.topology.names())})")
        return list(self.observed[service])

    def series(self, service: str, metric: str, start: int, end: int
               ) -> tuple[np.ndarray, np.ndarray]:
        """Timestamps in [start, end) and their values (copies)."""
        names = self.metric_names(service)
        if metric not in names:
            raise UnknownSeries(f"service {service!r} has no metric {metric!r} "
                                f"(it has: {', '.join(names)})")
        lo, hi = self.index_range(start, end)
        return self.timestamps[lo:hi].copy(), self.observed[service][metric][lo:hi].copy()

    def index_range(self, start: int, end: int) -> tuple[int, int]:
        lo = int(np.searchsorted(self.timestamps, start, side="left"))
        hi = int(np.searchsorted(self.timestamps, end, side="left"))
        return lo, max(lo, hi)

    def index_at(self, ts: float) -> int:
        """The step containing `ts`, clamped to the data."""
        return int(min(max((ts - self.start) // self.step, 0), len(self.timestamps) - 1))

    def value_at(self, service: str, metric: str, ts: float, clean: bool = True) -> float:
        source = self.clean.values if clean else self.observed
        return float(source[service][metric][self.index_at(ts)])

    # -- logs, traces, changes, alerts
    def logs(self, service: str | None, start: int, end: int, level: str | None = None,
             contains: str | None = None, limit: int | None = None) -> list[LogRecord]:
        """Sampled log lines in [start, end), oldest first; `level` is a minimum level,
        `contains` a case-insensitive substring, `limit` keeps the newest lines."""
        services = [service] if service else self.topology.names()
        for s in services:
            self.metric_names(s)
        return self._logs.search(services, start, end, level, contains, limit)

    def traces(self, service: str | None, start: int, end: int, limit: int = 50,
               errors_only: bool = False, min_duration_ms: float | None = None) -> list[Trace]:
        """Sampled traces through `service` (any when None) that started in [start, end),
        newest `limit` of them, oldest first."""
        if service is not None:
            self.metric_names(service)
        return self._traces.search(service, start, end, limit, errors_only, min_duration_ms)

    def events(self, start: int, end: int, service: str | None = None) -> list[ChangeEvent]:
        return [e for e in self._events
                if start <= e.ts < end and (service is None or e.service == service)]

    def alerts(self, start: int, end: int) -> list[Alert]:
        """Alerts that were firing at some point in [start, end)."""
        return [a for a in self.all_alerts()
                if a.starts_at < end and (a.ends_at is None or a.ends_at > start)]

    def firing(self, at: int) -> list[Alert]:
        return [a for a in self.all_alerts()
                if a.starts_at <= at and (a.ends_at is None or a.ends_at > at)]

    def all_alerts(self) -> list[Alert]:
        if self._alerts is None:
            self._alerts = alert_rules.evaluate(self)
        return self._alerts


def add_noise(scenario: Scenario, clean: dict[str, dict[str, np.ndarray]]
              ) -> dict[str, dict[str, np.ndarray]]:
    """Measurement noise, drawn in a fixed order from the scenario's seed (not from the faults)."""
    rng = np.random.default_rng(scenario.seed)
    topo = scenario.topology
    out: dict[str, dict[str, np.ndarray]] = {}
    for name in sorted(topo.names()):
        c = clean[name]
        n = len(c["request_rate"])
        z = rng.standard_normal((9, n))
        spec = topo.services[name]
        v: dict[str, np.ndarray] = {"request_rate": c["request_rate"] * (1 + 0.03 * z[0])}
        err = c["error_rate"]
        base_err = float(np.median(err))
        v["error_rate"] = np.clip(err * (1 + 0.06 * z[1]) + 0.25 * min(base_err, 0.5) * z[2],
                                  0.0, 100.0)
        shared = np.exp(0.04 * z[3])
        p50 = c["latency_p50"] * shared * np.exp(0.02 * z[4])
        p95 = np.maximum(c["latency_p95"] * shared * np.exp(0.03 * z[5]), p50 * 1.05)
        p99 = np.maximum(c["latency_p99"] * shared * np.exp(0.04 * z[6]), p95 * 1.05)
        v.update(zip(LATENCY, (p50, p95, p99), strict=True))
        v["cpu"] = np.clip(c["cpu"] + 1.5 * z[7], 0.0, 100.0)
        v["memory"] = np.maximum(c["memory"] + 3.0 * z[8], 0.0)
        if "connections" in c:
            jitter = rng.standard_normal(n)
            pinned = c["connections"] >= spec.pool_size - 0.01  # an exhausted pool reads full
            v["connections"] = np.where(
                pinned, float(spec.pool_size),
                np.clip(np.round(c["connections"] + 1.2 * jitter), 0, spec.pool_size - 1))
        if "disk" in c:
            v["disk"] = np.clip(c["disk"] + 0.03 * rng.standard_normal(n), 0.0, 100.0)
        v["cert_expiry"] = c["cert_expiry"].copy()
        out[name] = {m: v[m] for m in c}
    return out


def ground_truth(scenario: Scenario, normal: ShopSignals, with_all: ShopSignals,
                 t: np.ndarray) -> list[GroundTruth]:
    """Per fault: the (service, metric) pairs it moved, clean medians over the 5 minutes before
    `now` without and with the fault."""
    window = (t >= scenario.now - GROUND_TRUTH_WINDOW_S) & (t < scenario.now)
    out = []
    for fault in scenario.faults:
        faulty = with_all if len(scenario.faults) == 1 else clean_signals(scenario, [fault])
        affected = []
        order = [fault.service, *[s for s in scenario.topology.names() if s != fault.service]]
        for service in order if window.any() else []:
            for metric in metric_names(scenario.topology.services[service]):
                base = float(np.median(normal.values[service][metric][window]))
                seen = float(np.median(faulty.values[service][metric][window]))
                if abs(seen - base) >= max(METRICS[metric].min_abs_change, REL_CHANGE * abs(base)):
                    affected.append(AffectedMetric(service, metric, round(base, 4),
                                                   round(seen, 4)))
        minutes = (fault.end - fault.start) // 60
        out.append(GroundTruth(fault.service, fault.kind, fault.start, fault.end,
                               tuple(affected),
                               f"{fault.kind} injected into {fault.service} for {minutes} min "
                               f"(intensity {fault.intensity:g})"))
    return out


def simulate(scenario: Scenario) -> Sandbox:
    """Generate a scenario's data (always fresh; see `load_sandbox` for the cached one)."""
    t = np.arange(scenario.start, scenario.end, scenario.step, dtype=np.int64)
    normal = clean_signals(scenario, (), t)
    with_all = clean_signals(scenario, scenario.faults, t) if scenario.faults else normal
    values = add_noise(scenario, with_all.values)
    truth = ground_truth(scenario, normal, with_all, t)
    return Sandbox(scenario, values, with_all, normal, truth, change_events(scenario))


@functools.lru_cache(maxsize=32)
def _cached(path: str, mtime_ns: int) -> Sandbox:
    return simulate(load_scenario(path))


def load_sandbox(name_or_path: str | Path) -> Sandbox:
    """The sandbox of a shipped scenario name or a scenario file, cached per process
    (a file edited since is simulated again)."""
    path = resolve_path(name_or_path)
    return _cached(str(path.resolve()), path.stat().st_mtime_ns)
