"""Benchmark: metric anomaly detection quality, delay and speed.

1. Calibrates the detector on the `quiet` scenario (`tools.anomaly.models.fit_detector`), then
   prints event-level precision, recall and median detection delay on the sandbox fault suite
   (`tools.anomaly.suite`) for the held-out seeds (never used while tuning) and, for reference,
   the tuning seeds; recall per fault kind; and the per-service IsolationForest's service-level
   precision and recall on the held-out seeds.
2. A real-world-style check: irregularly sampled multi-day series with a business-hours daily
   profile, trends, spikes, level shifts and gaps (labelled), scored as the CLI scores them.
3. Throughput on one core: the robust detector over a large matrix, and scikit-learn's
   IsolationForest fitted and scored on the same points, side by side with their ratio.

    .venv/bin/python -m evals.bench_anomaly
"""

from __future__ import annotations

import dataclasses
import time
from collections import defaultdict

import numpy as np

from tools.anomaly.events import AnomalyEvent, extract_events, runs
from tools.anomaly.models import fit_detector
from tools.anomaly.multivariate import features
from tools.anomaly.robust import score_series
from tools.anomaly.series_io import config_for
from tools.anomaly.suite import (
    HELD_OUT_SEEDS,
    TUNING_SEEDS,
    WARMUP_S,
    SuiteScore,
    fault_suite,
    sandbox_series,
    score_sandbox,
    truth_events,
)
from tools.catalog import GOLDEN_SIGNALS
from tools.sandbox.simulator import load_sandbox, simulate


def sandbox_quality() -> None:
    detector = fit_detector(load_sandbox("quiet"))
    print(f"calibrated on 'quiet': z threshold {detector.config.z_threshold:.2f}")
    by_kind: dict[str, SuiteScore] = defaultdict(SuiteScore)
    held = SuiteScore()
    svc_tp = svc_fp = svc_found = svc_truth = 0
    for sc in fault_suite(HELD_OUT_SEEDS):
        sb = simulate(sc)
        kind = sc.faults[0].kind if sc.faults else "none (quiet)"
        score_sandbox(sb, detector.config, held)
        score_sandbox(sb, detector.config, by_kind[kind])
        # Service level: a forest alarm (2+ samples over 0.5) on a service with a true event.
        data = sandbox_series(sb)
        scores = score_series(data.values, detector.config, data.min_change)
        truth = truth_events(sb, data.keys)
        warm = WARMUP_S // sb.step
        true_services = {data.keys[i][0] for i in truth}
        svc_truth += len(true_services)
        hit_services = set()
        for service, forest in detector.forests.items():
            rows = [data.keys.index((service, m)) for m in GOLDEN_SIGNALS]
            alarms = [r for r in runs(forest.score(features(scores.v[rows]))[warm:] >= 0.5, 8)
                      if r[1] > r[0]]
            if not alarms:
                continue
            if service in true_services:
                svc_tp += len(alarms)
                hit_services.add(service)
            else:
                svc_fp += len(alarms)
        svc_found += len(hit_services)
    tuning = SuiteScore()
    for sc in fault_suite(TUNING_SEEDS):
        score_sandbox(simulate(sc), detector.config, tuning)
    for label, s in (("held-out seeds " + str(HELD_OUT_SEEDS), held),
                     ("tuning seeds " + str(TUNING_SEEDS), tuning)):
        print(f"{label}: event precision {s.precision:.3f}, recall {s.recall:.3f}, median "
              f"detection delay {s.median_delay:.1f} samples ({s.true_pos} TP, "
              f"{s.false_pos} FP, {s.truth} true events)")
    print("targets: precision >= 0.9, recall >= 0.9, median delay <= 2 samples")
    print("held-out recall by fault kind:")
    for kind, s in sorted(by_kind.items()):
        recall = f"{s.recall:.3f}" if s.truth else "n/a  "
        print(f"    {kind:<28} recall {recall} ({s.found}/{s.truth}), "
              f"false positives {s.false_pos}, median delay {s.median_delay:.1f}")
    print(f"per-service IsolationForest (held-out): service recall "
          f"{svc_found / max(1, svc_truth):.3f}, alarm precision "
          f"{svc_tp / max(1, svc_tp + svc_fp):.3f} ({svc_tp} on faulty services, {svc_fp} "
          f"elsewhere)")


def realistic_series(seed: int, days: int = 6
                     ) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
    """Irregular 5-min sampling (jitter, dropped samples), a business-hours profile, a trend,
    gaps (NaN), and labelled anomalies: spikes and level shifts, all after two days. Returns ts,
    values, and the (first, last) sample index of each labelled anomaly."""
    rng = np.random.default_rng(seed)
    n = days * 288
    ts = np.cumsum(rng.uniform(240, 360, n)) + 1_700_000_000.0
    keep = rng.random(n) > 0.03
    ts = ts[keep]
    hour = (ts % 86400) / 3600
    profile = np.where((hour > 8) & (hour < 18), 1.0, 0.35) + 0.1 * np.sin(hour / 24 * 2 * np.pi)
    base = 200 * profile * (1 + 0.05 * (ts - ts[0]) / 86400)  # +5 % a day
    values = base * (1 + 0.04 * rng.standard_normal(len(ts)))
    spans: list[tuple[int, int]] = []
    for _ in range(4):  # spikes, after two days of history
        i = int(rng.integers(len(ts) * 2 // days, len(ts) - 10))
        values[i] *= 2.5
        spans.append((i, i))
    for _ in range(2):  # level shifts lasting 2 hours
        i = int(rng.integers(len(ts) * 2 // days, len(ts) - 40))
        values[i:i + 24] *= 1.8
        spans.append((i, i + 23))
    gap = int(rng.integers(len(ts) // 2, len(ts) - 20))
    values[gap:gap + 6] = np.nan
    return ts, values, sorted(spans)


def realistic_quality(seeds: tuple[int, ...] = (11, 12, 13, 14, 15)) -> None:
    """Scored after a two-day probation (the daily profile needs two whole days)."""
    tp = fp = found = total = 0
    for seed in seeds:
        ts, values, spans = realistic_series(seed)
        scores = score_series(values, config_for(ts), timestamps=ts)
        probation = int(np.searchsorted(ts, ts[0] + 2 * 86400))
        events = [e for e in extract_events(ts, values, scores) if e.alarm_index >= probation]
        total += len(spans)

        def near(e: AnomalyEvent, span: tuple[int, int]) -> bool:
            return e.start_index <= span[1] + 3 and e.end_index >= span[0] - 3

        found += sum(any(near(e, span) for e in events) for span in spans)
        hits = sum(any(near(e, span) for span in spans) for e in events)
        tp += hits
        fp += len(events) - hits
    print(f"real-world-style series ({len(seeds)} x 6 days, irregular 5-min sampling, business-"
          f"hours profile, trend, gaps; 2-day probation): precision {tp / max(1, tp + fp):.3f}, "
          f"recall {found / max(1, total):.3f} ({tp} TP, {fp} FP, {total} labelled)")


def throughput() -> None:
    rng = np.random.default_rng(0)
    n_series, n_points = 200, 17_280  # 200 series x 3 days at 15 s = 3.5M points
    t = np.arange(n_points)
    data = (100 + 20 * np.sin(2 * np.pi * t / 5760)[None, :]
            + rng.standard_normal((n_series, n_points)))
    cfg = dataclasses.replace(config_for(t * 15.0), season=5760)  # in samples
    runs_s = []
    for _ in range(3):
        started = time.process_time()  # CPU time of this process: one core, whatever the load
        score_series(data, cfg)
        runs_s.append(time.process_time() - started)
    robust_pps = data.size / float(np.median(runs_s))
    from sklearn.ensemble import IsolationForest

    subset = data[:20]
    started = time.process_time()
    for row in subset:
        x = row[:, None]
        IsolationForest(n_estimators=100, random_state=0).fit(x[: len(x) // 4]).score_samples(x)
    iforest_pps = subset.size / (time.process_time() - started)
    print(f"throughput, one core (CPU time): robust detector {robust_pps:,.0f} points/s "
          f"(median of 3 runs over {data.size:,} points, daily profile on; target >= 1,000,000); "
          f"IsolationForest (fit on a quarter, score all, 100 trees) {iforest_pps:,.0f} "
          f"points/s on {subset.size:,} of the same points; ratio {robust_pps / iforest_pps:.0f}x")


def main() -> None:
    sandbox_quality()
    realistic_quality()
    throughput()


if __name__ == "__main__":
    main()
