"""Benchmark: `opscopilot anomaly score` on labelled series shaped like public corpora.

The shapes follow what is documented about the Numenta Anomaly Benchmark (NAB: `timestamp,value`
files of a few thousand points, `YYYY-MM-DD HH:MM:SS` times, 5-minute or irregular sampling,
anomaly windows of 10 % of the file split among its anomalies and centred on them, a 15 %
probationary period) and Yahoo Webscope S5 (A1: real hourly traffic with an integer index;
A2: synthetic trend + seasonality + noise with point outliers, integer index; A3/A4: the same with
three seasonalities and unix-second times, A4 with change points). They are NOT drawn from the
sandbox's generator. Each series is written as a CSV in its corpus's format and scored through
the real command path (`read_series` -> `score_table` -> `write_scores`, then the written file is
read back).

Scoring, per file: alarm runs are maximal runs of score >= 0.5 (gaps of up to 2 samples merged)
outside the probation; a run is a true positive when it overlaps a label window, else a false
alarm. A labelled anomaly is found when an alarm falls in its window; its delay is the first
alarm's index minus the anomaly's start (0 when earlier). False alarms per 1,000 samples are
counted over the normal part (outside windows and probation). Figures per family, per shape
and overall.

    .venv/bin/python -m evals.bench_anomaly_realworld            # held-out seeds
    .venv/bin/python -m evals.bench_anomaly_realworld --tuning   # the seeds used while tuning
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from tools.anomaly.events import runs
from tools.anomaly.series_io import read_series, score_table, write_scores

TUNING_SEEDS = (1, 2, 3)
HELD_OUT_SEEDS = (1001, 1002, 1003)
NAB_START = datetime(2014, 4, 1, tzinfo=UTC).timestamp()
YAHOO_START = 1_416_726_000  # A3/A4 unix seconds (Nov 2014), hourly


@dataclass
class Case:
    family: str
    shape: str
    time_format: str  # "datetime" | "index" | "unix"
    timestamps: np.ndarray  # float seconds (index: 1..N)
    values: np.ndarray
    anomalies: list[tuple[int, int]]  # (first, last) sample of each labelled anomaly
    windows: list[tuple[int, int]]
    probation: int


# ---------------------------------------------------------------- NAB-like
NAB_BASES = ("cpu", "latency", "requests", "tweets", "temperature")
NAB_SHAPES = ("spike", "dip", "level_shift", "outage", "variance", "flatline", "dropout",
              "ramp", "normal_trend", "normal_seasonal")


def _nab_times(rng: np.random.Generator, n: int, irregular: bool) -> np.ndarray:
    step = np.full(n, 300.0)
    if irregular:
        step += rng.uniform(-40, 40, n)
        for _ in range(int(rng.integers(1, 4))):  # missing stretches of 1 to 5 hours
            step[int(rng.integers(n // 5, n - 1))] += 300 * int(rng.integers(12, 60))
    return np.round(NAB_START + np.cumsum(step))


def _nab_base(rng: np.random.Generator, kind: str, ts: np.ndarray) -> tuple[np.ndarray, float]:
    """A normal series and its typical noise (sigma) in value units."""
    n = len(ts)
    day = 2 * np.pi * (ts % 86400) / 86400
    week = ts % (7 * 86400) / 86400
    weekday = np.where(week % 7 >= 5, 0.7, 1.0)  # 1970-01-01 was a Thursday: any 2 days
    if kind == "cpu":
        level = rng.uniform(20, 60)
        sigma = rng.uniform(0.5, 3)
        x = level + rng.uniform(0, 8) * np.sin(day) + sigma * rng.standard_normal(n)
        return np.clip(x, 0, 100), sigma
    if kind == "latency":  # strictly positive, heavy right tail
        level = rng.uniform(50, 300)
        noise = np.exp(0.1 * rng.standard_t(4, n))
        return level * (1 + 0.2 * np.sin(day)) * noise, level * 0.1
    if kind == "requests":  # quantised counts with daily and weekly cycles
        mean = rng.uniform(40, 400) * (1 + 0.5 * np.sin(day)) * weekday
        return rng.poisson(mean).astype(float), float(np.sqrt(mean.mean()))
    if kind == "tweets":  # very low counts with bursts of chatter
        mean = rng.uniform(0.5, 6) * (1 + 0.6 * np.sin(day))
        return rng.poisson(mean).astype(float), float(np.sqrt(mean.mean()) + 0.5)
    # temperature: smooth AR(1) around a slowly drifting level
    sigma = rng.uniform(0.2, 1.0)
    ar = np.zeros(n)
    eps = rng.standard_normal(n) * sigma * 0.4
    for i in range(1, n):
        ar[i] = 0.9 * ar[i - 1] + eps[i]
    drift = np.cumsum(rng.standard_normal(n)) * sigma * 0.02
    return rng.uniform(60, 90) + 2 * np.sin(day) + ar + drift, sigma


def nab_case(rng: np.random.Generator) -> Case:
    n = int(rng.choice([2000, 4032, 4032, 8000]))
    base = str(rng.choice(NAB_BASES))
    shape = str(rng.choice(NAB_SHAPES))
    ts = _nab_times(rng, n, irregular=bool(rng.random() < 0.5))
    x, sigma = _nab_base(rng, base, ts)
    if shape == "normal_trend":
        x = x + np.linspace(0, rng.choice([-1, 1]) * rng.uniform(5, 15) * sigma, n)
    probation = int(0.15 * n)
    k = 0 if shape.startswith("normal") else int(rng.integers(1, 4))
    starts = sorted(int(s) for s in rng.choice(np.arange(int(0.2 * n), n - 300, 150), k,
                                               replace=False)) if k else []
    level = float(np.median(np.abs(x))) + sigma
    # A label marks what a person would call anomalous: clearly beyond the file's own noise.
    resid = np.abs(x - np.convolve(x, np.ones(25) / 25, mode="same"))[12:-12]
    extreme = float(np.quantile(resid, 0.999))
    anomalies: list[tuple[int, int]] = []
    for s in starts:
        up = rng.random() < 0.6
        size = max(rng.uniform(1.5, 3) * extreme, rng.uniform(8, 15) * sigma,
                   rng.uniform(0.3, 1.0) * level)
        if shape == "spike":
            length = int(rng.integers(1, 3))
            x[s:s + length] += size
        elif shape == "dip":
            length = int(rng.integers(1, 3))
            x[s:s + length] = np.maximum(x[s:s + length] - size, 0.0)
        elif shape == "level_shift":  # concept drift: the new level stays and becomes normal
            length = 1
            x[s:] = x[s:] + (size if up else -min(size, 0.6 * level))
            anomalies.append((s, s))
            break  # one persistent shift per file
        elif shape == "outage":
            length = int(rng.integers(10, 60))
            x[s:s + length] = x[s:s + length] + (size if up else -min(size, 0.7 * level))
        elif shape == "variance":
            length = int(rng.integers(40, 150))
            seg = x[s:s + length]
            x[s:s + length] = np.median(seg) + (seg - np.median(seg)) * 6
        elif shape == "flatline":
            length = int(rng.integers(40, 150))
            x[s:s + length] = x[s - 1]
        elif shape == "dropout":
            length = int(rng.integers(3, 30))
            x[s:s + length] = 0.0
        else:  # ramp: a leak that grows over a few hours
            length = int(rng.integers(30, 100))
            x[s:s + length] += np.linspace(0, size, length)
            x[s + length:] += size
            anomalies.append((s, s + length - 1))
            break
        anomalies.append((s, min(n - 1, s + length - 1)))
    if base in ("requests", "tweets"):
        x = np.round(np.maximum(x, 0))
    half = int(0.10 * n / max(1, len(anomalies))) // 2
    windows = [(max(0, a - half), min(n - 1, a + half)) for a, _ in anomalies]
    return Case("NAB", f"{shape}/{base}", "datetime", ts, x, anomalies, windows, probation)


# ---------------------------------------------------------------- Yahoo-like
def _outliers(rng: np.random.Generator, x: np.ndarray, sigma: float, k: int,
              lo: int) -> list[tuple[int, int]]:
    out = []
    for i in sorted(rng.choice(np.arange(lo, len(x) - 5), k, replace=False)):
        x[i] += rng.choice([-1, 1]) * rng.uniform(6, 12) * sigma
        out.append((int(i), int(i)))
    return out


def yahoo_case(rng: np.random.Generator, family: str) -> Case:
    if family == "Yahoo-A1":  # real hourly traffic, integer index 1..N
        n = int(rng.integers(700, 1461))
        t = np.arange(n, dtype=float)
        level = rng.uniform(100, 5000)
        day = np.sin(2 * np.pi * t / 24) + 0.3 * np.sin(4 * np.pi * t / 24)
        sigma = level * rng.uniform(0.02, 0.06)
        x = level * (1 + rng.uniform(0.1, 0.5) * day) + sigma * rng.standard_t(4, n)
        probation = int(0.1 * n)
        anomalies = _outliers(rng, x, level * rng.uniform(0.1, 0.3) / 6 + sigma,
                              int(rng.integers(1, 4)), probation + 24)
        shape = "outlier"
        if rng.random() < 0.3:  # a level shift in real traffic
            s = int(rng.integers(n // 2, n - 50))
            x[s:] += rng.choice([-1, 1]) * rng.uniform(10, 20) * sigma
            anomalies.append((s, s))
            shape = "outlier+shift"
        ts, fmt = t + 1, "index"
    else:
        n = 1421 if family == "Yahoo-A2" else 1680
        t = np.arange(n, dtype=float)
        trend = rng.uniform(-1, 1) * t * rng.uniform(0, 0.5)
        sigma = rng.uniform(2, 30)
        if family == "Yahoo-A2":
            period = int(rng.integers(12, 250))
            season = rng.uniform(50, 500) * np.sin(2 * np.pi * t / period)
            ts, fmt = t + 1, "index"
        else:  # A3/A4: hourly unix seconds, seasonalities of 12 h, a day and a week
            season = np.zeros(n)
            for p in (12, 24, 168):
                season += rng.uniform(0, 300) * np.sin(2 * np.pi * t / p + rng.uniform(0, 6))
            ts, fmt = YAHOO_START + 3600 * t, "unix"
        x = rng.uniform(0, 1000) + trend + season + sigma * rng.standard_normal(n)
        probation = int(0.1 * n)
        anomalies = _outliers(rng, x, sigma, int(rng.integers(2, 6)), probation + 24)
        shape = "outlier"
        if family == "Yahoo-A4":  # change points: the level moves and stays
            for s in sorted(rng.choice(np.arange(probation + 50, n - 50, 25), 2, replace=False)):
                x[s:] += rng.choice([-1, 1]) * rng.uniform(8, 20) * sigma
                anomalies.append((int(s), int(s)))
            anomalies.sort()
            shape = "outlier+changepoint"
    windows = [(a - 2, b + 5) for a, b in anomalies]
    return Case(family, shape, fmt, ts, x, anomalies, windows, probation)


def cases(seed: int, per_family: int = 24) -> list[Case]:
    rng = np.random.default_rng(seed)
    out = [nab_case(rng) for _ in range(2 * per_family)]
    for fam in ("Yahoo-A1", "Yahoo-A2", "Yahoo-A3", "Yahoo-A4"):
        out += [yahoo_case(rng, fam) for _ in range(per_family // 2)]
    return out


# ---------------------------------------------------------------- scoring
def write_case(case: Case, path: Path) -> None:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["timestamp", "value"])
        for t, v in zip(case.timestamps, case.values, strict=True):
            if case.time_format == "datetime":
                stamp = datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S")
            else:
                stamp = str(int(t))
            w.writerow([stamp, f"{v:.6g}"])


def run_cli(src: Path, dst: Path) -> np.ndarray:
    with src.open(encoding="utf-8", newline="") as fh:
        table = read_series(fh, str(src))
    scores = score_table(table)
    with dst.open("w", encoding="utf-8", newline="") as fh:
        write_scores(fh, table, scores.tolist())
    with dst.open(encoding="utf-8", newline="") as fh:
        return np.array([float(r["anomaly_score"]) for r in csv.DictReader(fh)])


@dataclass
class Tally:
    files: int = 0
    samples: int = 0
    normal: int = 0
    tp: int = 0
    fp: int = 0
    found: int = 0
    labels: int = 0
    warm_alarms: int = 0
    delays: list[int] = field(default_factory=list)

    def add(self, case: Case, score: np.ndarray) -> None:
        n = len(score)
        self.files += 1
        self.samples += n
        alarm = score >= 0.5
        self.warm_alarms += len(runs(alarm[:case.probation], 2))
        in_window = np.zeros(n, dtype=bool)
        for lo, hi in case.windows:
            in_window[max(0, lo):hi + 1] = True
        self.normal += int((~in_window[case.probation:]).sum())
        for first, last in runs(alarm, 2):
            if last < case.probation:
                continue
            if in_window[first:last + 1].any():
                self.tp += 1
            else:
                self.fp += 1
        for (a, _), (lo, hi) in zip(case.anomalies, case.windows, strict=True):
            self.labels += 1
            hits = np.flatnonzero(alarm[max(0, lo):hi + 1])
            if hits.size:
                self.found += 1
                self.delays.append(max(0, int(hits[0]) + max(0, lo) - a))

    def row(self, name: str) -> str:
        p = self.tp / max(1, self.tp + self.fp)
        r = self.found / self.labels if self.labels else float("nan")
        d = float(np.median(self.delays)) if self.delays else float("nan")
        fa = 1000 * self.fp / max(1, self.normal)
        return (f"{name:<34} {self.files:>5} {p:>6.3f} {r:>6.3f} {d:>6.1f} {fa:>7.2f} "
                f"{self.tp:>5} {self.fp:>5} {self.found:>4}/{self.labels:<4} {self.warm_alarms:>5}")


HEADER = (f"{'family / shape':<34} {'files':>5} {'prec':>6} {'recall':>6} {'delay':>6} "
          f"{'FA/1k':>7} {'TP':>5} {'FP':>5} {'found':>9} {'warm':>5}")


def evaluate(seeds: tuple[int, ...], per_family: int = 24,
             shapes: bool = True) -> dict[str, Tally]:
    fams: dict[str, Tally] = defaultdict(Tally)
    by_shape: dict[str, Tally] = defaultdict(Tally)
    points = 0
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            for i, case in enumerate(cases(seed, per_family)):
                src, dst = Path(tmp) / f"{seed}-{i}.csv", Path(tmp) / f"{seed}-{i}.out.csv"
                write_case(case, src)
                score = run_cli(src, dst)
                points += len(score)
                fams[case.family].add(case, score)
                fams["overall"].add(case, score)
                by_shape[f"{case.family} {case.shape.split('/')[0]}"].add(case, score)
    elapsed = time.perf_counter() - started
    print(HEADER)
    for name in sorted(k for k in fams if k != "overall"):
        print(fams[name].row(name))
    print(fams["overall"].row("overall"))
    if shapes:
        print("\nper shape:")
        print(HEADER)
        for name in sorted(by_shape):
            print(by_shape[name].row(name))
    print(f"\n{points:,} points in {elapsed:.1f} s wall time (CSV write, parse, score, write, "
          f"read back); delay in samples; FA/1k = false alarm runs per 1,000 normal samples; "
          f"warm = alarm runs inside the probation (not counted)")
    return fams


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tuning", action="store_true", help="score the tuning seeds instead")
    parser.add_argument("--files", type=int, default=24, help="Yahoo files per family x 2")
    args = parser.parse_args()
    seeds = TUNING_SEEDS if args.tuning else HELD_OUT_SEEDS
    print(f"{'tuning' if args.tuning else 'held-out'} seeds {seeds} "
          f"(tuned on {TUNING_SEEDS}, held out {HELD_OUT_SEEDS})")
    evaluate(seeds, args.files)


if __name__ == "__main__":
    main()
