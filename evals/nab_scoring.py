"""The Numenta Anomaly Benchmark's scoring protocol, as pure functions over arrays.

Facts of the protocol (NAB paper and `nab/scorer.py`, `nab/sweeper.py`):

- each file's first `min(floor(0.15 n), 750)` rows are a probation period: not scored, and a
  window lying wholly inside it is not counted;
- a point inside a window has the weight `scaled_sigmoid(-(right - i + 1) / width)` (about +1 at
  the window's start, 0 at its end); only the first detection in a window counts (true
  positive, times the TP weight); a window without a detection costs the FN weight;
- a detection outside every window weighs `scaled_sigmoid(|i - prev_right| / (prev_width - 1))`
  after the end of the previous window (a little below 0 just after, -1 three widths on), or -1
  before the first window, times the FP weight;
- one threshold per detector and profile is chosen to maximise the summed raw score over the
  corpus; the raw score is normalised so that the null detector (never alarms) is 0 and the
  perfect one (an alarm at each window's first point) is 100.

`threshold_curve` computes the raw score at every distinct threshold at once (events sorted by
threshold, cumulated), so sweeping the whole corpus is one sort.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

PROBATION_SHARE = 0.15
PROBATION_MAX = 750


@dataclass(frozen=True)
class Profile:
    name: str
    tp: float
    fp: float
    fn: float


PROFILES = (Profile("standard", 1.0, 0.11, 1.0), Profile("reward_low_FP", 1.0, 0.22, 1.0),
            Profile("reward_low_FN", 1.0, 0.11, 2.0))


def scaled_sigmoid(position: np.ndarray | float) -> np.ndarray:
    """NAB's weight: 2 sigmoid(-5 x) - 1, and -1 beyond 3 window widths."""
    x = np.asarray(position, dtype=float)
    return np.where(x > 3.0, -1.0, 2.0 / (1.0 + np.exp(5.0 * x)) - 1.0)


def probation(n: int) -> int:
    return int(min(math.floor(PROBATION_SHARE * n), PROBATION_MAX))


@dataclass
class Labelled:
    """One file's scored points: per row its weight and window id (-1: outside every window),
    with the rows of the probation period cut off."""

    weight: np.ndarray
    window: np.ndarray
    n_windows: int  # windows with at least one scored row
    start: int  # first scored row

    @classmethod
    def from_windows(cls, n: int, windows: Sequence[tuple[int, int]]) -> Labelled:
        """`windows`: (first row, last row) pairs, inclusive, in time order, not overlapping."""
        weight = np.full(n, -1.0)
        window = np.full(n, -1, dtype=int)
        idx = np.arange(n)
        bounds = sorted(windows)
        for k, (lo, hi) in enumerate(bounds):
            width = float(hi - lo + 1)
            inside = slice(lo, hi + 1)
            weight[inside] = scaled_sigmoid(-(hi - idx[inside] + 1) / width)
            window[inside] = k
            # Rows before the next window are weighed by their distance from this one's end;
            # rows before the first window keep -1.
            after = slice(hi + 1, bounds[k + 1][0] if k + 1 < len(bounds) else n)
            weight[after] = scaled_sigmoid(np.abs(idx[after] - hi) / max(width - 1, 1.0))
        start = probation(n)
        scored = window[start:]
        return cls(weight[start:], scored, len(np.unique(scored[scored >= 0])), start)

    def perfect(self, profile: Profile) -> float:
        firsts = [self.weight[np.flatnonzero(self.window == w)[0]]
                  for w in np.unique(self.window[self.window >= 0])]
        return float(profile.tp * np.sum(firsts)) if firsts else 0.0

    def null(self, profile: Profile) -> float:
        return -profile.fn * self.n_windows


def _events(scores: np.ndarray, lab: Labelled, profile: Profile) -> tuple[np.ndarray, np.ndarray]:
    """(threshold, change of raw score once the threshold is at or below it) pairs."""
    s = np.asarray(scores, dtype=float)[lab.start:]
    out_t: list[np.ndarray] = []
    out_d: list[np.ndarray] = []
    fp = lab.window < 0
    out_t.append(s[fp])
    out_d.append(profile.fp * lab.weight[fp])
    for w in np.unique(lab.window[lab.window >= 0]):
        rows = np.flatnonzero(lab.window == w)
        ws, ww = s[rows], lab.weight[rows]
        run = np.maximum.accumulate(ws)
        rec = np.flatnonzero(np.r_[True, run[1:] > run[:-1]])  # new running maxima
        vals, wts = ws[rec], ww[rec]
        # Threshold in (vals[k-1], vals[k]]: the first detection is rec[k]; at or below
        # vals[0]: rec[0]. Going down through vals[-1] turns the miss into a hit.
        d = np.empty(len(rec))
        d[-1] = profile.fn + profile.tp * wts[-1]
        d[:-1] = profile.tp * (wts[:-1] - wts[1:])
        out_t.append(vals)
        out_d.append(d)
    return np.concatenate(out_t), np.concatenate(out_d)


@dataclass
class Curve:
    """The raw score as a step function of the threshold: `raw[k]` for thresholds in
    (thresholds[k+1], thresholds[k]]; `base` above every threshold (no detection)."""

    thresholds: np.ndarray  # descending, distinct
    raw: np.ndarray
    base: float

    def at(self, threshold: float) -> float:
        k = int(np.searchsorted(-self.thresholds, -threshold, side="right")) - 1
        return self.base if k < 0 else float(self.raw[k])

    def best(self) -> tuple[float, float]:
        """(threshold, raw score) of the best threshold (above every score if none helps)."""
        if len(self.raw) == 0 or self.raw.max() <= self.base:
            return (math.inf, self.base)
        k = int(np.argmax(self.raw))
        return float(self.thresholds[k]), float(self.raw[k])


def threshold_curve(files: Sequence[tuple[np.ndarray, Labelled]], profile: Profile) -> Curve:
    """The corpus' raw score at every distinct threshold."""
    ts, ds = [], []
    base = 0.0
    for scores, lab in files:
        t, d = _events(scores, lab, profile)
        ts.append(t)
        ds.append(d)
        base += lab.null(profile)
    if not ts:
        return Curve(np.zeros(0), np.zeros(0), base)
    t_all, d_all = np.concatenate(ts), np.concatenate(ds)
    order = np.argsort(-t_all, kind="stable")
    t_sorted, cum = t_all[order], base + np.cumsum(d_all[order])
    last = np.r_[t_sorted[1:] != t_sorted[:-1], True]  # the last event of each threshold
    return Curve(t_sorted[last], cum[last], base)


def normalised(raw: float, null: float, perfect: float) -> float | None:
    if perfect == null:
        return None
    return 100.0 * (raw - null) / (perfect - null)
