"""Benchmark: `opscopilot anomaly score` on real series, with the NAB scoring protocol.

Every `data/<category>/<file>.csv` under `--data` (default: the shared `nab-dev` split) is read
and scored exactly as `opscopilot anomaly score` reads and scores it (`read_series`,
`score_table`), then scored by `evals.nab_scoring` against `combined_windows.json`:

- in-sample: one threshold per profile chosen over the whole corpus;
- per category: the category's normalised score at that threshold;
- leave-one-category-out (LOCO): each category scored at the threshold chosen on the others, the
  raw scores summed and normalised over the corpus.

`--detector` swaps in reference detectors that check the scorer itself: `null` (never alarms, 0),
`perfect` (an alarm at each window's first row, 100) and `windowed-gaussian` (NAB's own simple
baseline: the Gaussian tail of the value against the mean and deviation of up to 6,400 earlier
rows, refreshed every 100; published at 39.6 on all 58 files).

    .venv/bin/python -m evals.bench_nab [--data DIR] [--json] [--detector NAME]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from evals.nab_scoring import PROFILES, Labelled, Profile, normalised, threshold_curve
from tools.anomaly.series_io import SeriesError, SeriesTable, read_series, score_table

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "nab-dev"
FALLBACK_DATA = Path("/work/shared/data/nab-dev")


@dataclass
class Scored:
    name: str
    category: str
    scores: np.ndarray
    label: Labelled


def _stamp(text: str) -> float:
    when = datetime.fromisoformat(text.strip())
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def window_rows(ts: np.ndarray, windows: list[list[str]]) -> list[tuple[int, int]]:
    """Window limits as (first row, last row): the first row at each limit's time (NAB's
    `timestamps.index`), or the nearest row inside the window when no row has that time."""
    out = []
    for lo_s, hi_s in windows:
        lo_t, hi_t = _stamp(lo_s), _stamp(hi_s)
        lo = np.flatnonzero(ts >= lo_t)
        hi = np.flatnonzero(ts <= hi_t)
        if lo.size and hi.size and lo[0] <= hi[-1]:
            exact_hi = np.flatnonzero(ts == hi_t)
            out.append((int(lo[0]), int(exact_hi[0] if exact_hi.size else hi[-1])))
    return out


def windowed_gaussian(table: SeriesTable, window: int = 6400, step: int = 100) -> np.ndarray:
    """NAB's windowedGaussian, causal: 1 - two-sided Gaussian tail against earlier rows."""
    from scipy.special import erf

    x = table.values
    out = np.zeros(len(x))
    for s in range(0, len(x), step):
        past = x[max(0, s - window):s]
        past = past[~np.isnan(past)]
        if past.size < 2:
            continue
        mu, sd = float(past.mean()), float(past.std())
        cur = x[s:s + step]
        z = np.abs(cur - mu) / max(sd, 1e-12)
        out[s:s + step] = np.nan_to_num(erf(z / math.sqrt(2.0)))
    return out


Detector = Callable[[SeriesTable, list[tuple[int, int]]], np.ndarray]

DETECTORS: dict[str, Detector] = {
    "opscopilot": lambda table, _w: score_table(table),
    "windowed-gaussian": lambda table, _w: windowed_gaussian(table),
    "null": lambda table, _w: np.zeros(len(table.values)),
}


def _perfect(table: SeriesTable, windows: list[tuple[int, int]]) -> np.ndarray:
    out = np.zeros(len(table.values))
    for lo, _hi in windows:
        out[lo] = 1.0
    return out


DETECTORS["perfect"] = _perfect


def run(data: Path, detector: str) -> tuple[list[Scored], list[str], float, int]:
    """Score every file: the scored files, the refused ones, the seconds spent scoring and the
    number of points."""
    labels = json.loads((data / "combined_windows.json").read_text(encoding="utf-8"))
    scored: list[Scored] = []
    refused: list[str] = []
    seconds, points = 0.0, 0
    for path in sorted((data / "data").glob("*/*.csv")):
        name = f"{path.parent.name}/{path.name}"
        try:
            with path.open(encoding="utf-8", newline="") as fh:
                table = read_series(fh, name)
        except SeriesError as exc:
            refused.append(f"{name}: {exc}")
            continue
        windows = window_rows(table.timestamps, labels.get(name, []))
        started = time.process_time()
        scores = DETECTORS[detector](table, windows)
        seconds += time.process_time() - started
        points += len(scores)
        scored.append(Scored(name, path.parent.name,
                             scores, Labelled.from_windows(len(scores), windows)))
    return scored, refused, seconds, points


def _norm(files: list[Scored], profile: Profile, raw: float) -> float | None:
    null = sum(f.label.null(profile) for f in files)
    perfect = sum(f.label.perfect(profile) for f in files)
    return normalised(raw, null, perfect)


def report(files: list[Scored]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    categories = sorted({f.category for f in files})
    per_cat: dict[str, dict[str, Any]] = {c: {} for c in categories}
    loco: dict[str, float | None] = {}
    thresholds: dict[str, float] = {}
    for profile in PROFILES:
        pairs = [(f.scores, f.label) for f in files]
        threshold, raw = threshold_curve(pairs, profile).best()
        thresholds[profile.name] = threshold
        out[profile.name] = _norm(files, profile, raw)
        loco_raw = 0.0
        for cat in categories:
            inside = [f for f in files if f.category == cat]
            others = [(f.scores, f.label) for f in files if f.category != cat]
            mine = [(f.scores, f.label) for f in inside]
            cat_raw = threshold_curve(mine, profile).at(threshold)
            held_threshold, _ = threshold_curve(others, profile).best()
            held_raw = threshold_curve(mine, profile).at(held_threshold)
            loco_raw += held_raw
            per_cat[cat][profile.name] = _norm(inside, profile, cat_raw)
            per_cat[cat][f"{profile.name}_loco"] = _norm(inside, profile, held_raw)
            per_cat[cat]["files"] = len(inside)
            per_cat[cat]["windows"] = sum(f.label.n_windows for f in inside)
        loco[profile.name] = _norm(files, profile, loco_raw)
    out["loco"] = loco
    out["thresholds"] = thresholds
    out["per_category"] = per_cat
    return out


def _fmt(v: float | None) -> str:
    return "  n/a" if v is None else f"{v:5.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None,
                        help="a NAB folder: data/<category>/*.csv and combined_windows.json")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--detector", choices=sorted(DETECTORS), default="opscopilot")
    args = parser.parse_args(argv)
    data = args.data or (DEFAULT_DATA if DEFAULT_DATA.is_dir() else FALLBACK_DATA)
    if not (data / "combined_windows.json").is_file():
        print(f"{data}: no combined_windows.json (give --data a NAB folder)", file=sys.stderr)
        return 2
    files, refused, seconds, points = run(data, args.detector)
    result = report(files)
    result["files_refused"] = refused
    result["files"] = len(files)
    result["points"] = points
    result["points_per_s"] = points / seconds if seconds > 0 else None
    result["detector"] = args.detector
    if args.json:
        print(json.dumps(result, indent=2, sort_keys=True))
        return 0
    print(f"{args.detector} on {data} ({len(files)} files, {points:,} points, "
          f"{len(refused)} refused)")
    for name in ("standard", "reward_low_FP", "reward_low_FN"):
        print(f"  {name:<14} in-sample {_fmt(result[name])}  leave-one-category-out "
              f"{_fmt(result['loco'][name])}  threshold {result['thresholds'][name]:.4f}")
    print("  per category (standard / low_FP / low_FN; LOCO standard):")
    for cat, row in result["per_category"].items():
        print(f"    {cat:<22} {_fmt(row['standard'])} {_fmt(row['reward_low_FP'])} "
              f"{_fmt(row['reward_low_FN'])}   LOCO {_fmt(row['standard_loco'])}  "
              f"({row['files']} files, {row['windows']} windows)")
    for r in refused:
        print(f"  refused: {r}")
    pps = result["points_per_s"]
    print(f"  scoring speed: {pps:,.0f} points/s (CPU time, one process)" if pps else "")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
