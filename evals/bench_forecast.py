"""Benchmark: capacity forecasts (`forecast_capacity`) against when the sandbox really saturates.

Three kinds of growth, several seeds each, forecasts made at several moments before saturation
from the noisy series (the tool's own path: `forecast_recent` over the last 6 hours):
- a steady disk trend (every service with a disk grows 2.5 % a day: days to full);
- a memory leak (cart fills its limit in minutes, is killed and starts again);
- a runaway disk (disk_full: the volume fills within 4 minutes).
The truth is when the noise-free series first reaches the limit. Prints, per kind, the median
relative error of the time to saturation, how often the truth falls inside the 90 % band, and
the median time one forecast takes.

    .venv/bin/python -m evals.bench_forecast
"""

from __future__ import annotations

import dataclasses
import statistics
import time

import numpy as np

from tools.anomaly.forecast import LONG_S, forecast_recent
from tools.sandbox.backend import SandboxBackend
from tools.sandbox.scenario import Fault, load_scenario
from tools.sandbox.simulator import Sandbox, simulate

SEEDS = (11, 23, 37, 41, 53, 67, 79, 97)


def _truth(sb: Sandbox, service: str, metric: str, at: int, limit: float) -> float | None:
    """Seconds from `at` until the clean series first reaches `limit` (None: not in the data)."""
    ts = sb.timestamps
    clean = sb.clean.values[service][metric]
    after = np.flatnonzero((ts > at) & (clean >= limit - 1e-6))
    return float(ts[after[0]] - at) if after.size else None


def run() -> dict[str, list[tuple[float, float, bool, float]]]:
    out: dict[str, list[tuple[float, float, bool, float]]] = {"steady disk trend": [],
                                                              "memory leak": [],
                                                              "runaway disk": []}
    quiet = load_scenario("quiet")
    for seed in SEEDS:
        # Steady trend: forecasts at the quiet day's "now" for each service with a disk.
        sb = simulate(dataclasses.replace(quiet, seed=seed))
        for service in sb.topology.names():
            if "disk" not in sb.metric_names(service):
                continue
            at = sb.now
            ts, vs = sb.series(service, "disk", at - int(LONG_S), at)
            # The data end days before it fills: the truth extends the clean line.
            clean = sb.clean.values[service]["disk"]
            i = int(np.searchsorted(sb.timestamps, ts[-1]))
            per_s = (clean[i] - clean[i - 240]) / (240 * sb.step)
            truth = (100.0 - clean[i]) / per_s
            out["steady disk trend"].append(_one(ts, vs, 100.0, truth))
        # Leak and runaway: the shipped faults moved to this seed.
        for kind, service, metric, limit, label in (
                ("memory_leak", "cart", "memory", None, "memory leak"),
                ("disk_full", "postgres", "disk", 100.0, "runaway disk")):
            start = quiet.start + 15 * 3600
            duration = 5400 if kind == "memory_leak" else 1800
            day = dataclasses.replace(quiet, seed=seed, faults=(
                Fault(service, kind, start, start + duration, 1.0),))
            sb = simulate(day)
            cap = limit or backend_capacity(sb, service, metric)
            moments = ([start + 90, start + 150, start + 200] if kind == "disk_full" else
                       [start + k * 60 for k in range(3, 80, 7)])
            for at in moments:
                ts, vs = sb.series(service, metric, at - int(LONG_S), at)
                truth = _truth(sb, service, metric, int(ts[-1]), cap)  # from the last point
                if truth is None or truth <= 0 or vs[-1] >= cap:
                    continue
                out[label].append(_one(ts, vs, cap, truth))
    return out


def backend_capacity(sb: Sandbox, service: str, metric: str) -> float:
    limit = SandboxBackend(sb).capacity(service, metric, sb.now)
    assert limit is not None
    return limit


def _one(ts: np.ndarray, vs: np.ndarray, cap: float, truth: float
         ) -> tuple[float, float, bool, float]:
    t0 = time.perf_counter()
    f = forecast_recent(ts, vs, cap)
    took = time.perf_counter() - t0
    if f is None or f.eta_s is None:
        return truth, float("inf"), False, took
    low = f.eta_low_s if f.eta_low_s is not None else 0.0
    high = f.eta_high_s if f.eta_high_s is not None else float("inf")
    return truth, f.eta_s, low <= truth <= high, took


def main() -> None:
    results = run()
    print(f"seeds {SEEDS}")
    for kind, rows in results.items():
        if not rows:
            print(f"{kind}: no forecasts")
            continue
        errors = [abs(eta - truth) / truth for truth, eta, _, _ in rows]
        inside = sum(ok for _, _, ok, _ in rows)
        print(f"{kind}: {len(rows)} forecasts, true time to saturation median "
              f"{statistics.median(t for t, _, _, _ in rows) / 60:.1f} min; "
              f"median relative error {statistics.median(errors):.3f}, "
              f"p90 {sorted(errors)[int(0.9 * (len(errors) - 1))]:.3f}; truth inside the 90 % "
              f"band {inside}/{len(rows)} ({inside / len(rows):.0%}); "
              f"{statistics.median(x for _, _, _, x in rows) * 1000:.1f} ms per forecast")


if __name__ == "__main__":
    main()
