"""Per-series change scores around an onset: robust (median/IQR, as BARO scales) so that a
late onset hint, whose "before" window already holds a few faulty points, barely moves them.

Pure numpy over a matrix (one row per series). The score of a series is the peak, after the
onset, of its 3-point running median's distance from the pre-onset median, in robust standard
deviations (IQR / 1.349), counted only in the metric's bad direction. A series is significant
when that peak is both many deviations away and a real change of level (not a 1 % wiggle of a
quiet series).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from tools.catalog import METRICS
from tools.rca.errors import RcaInputError

PRE_S = 3600  # the baseline: up to an hour before the onset
POST_S = 900  # what is scored: up to 15 minutes from the onset
MIN_PRE_POINTS = 6
Z_SIGNIFICANT = 6.0  # robust deviations a peak must exceed to count at all
MIN_RELATIVE = 0.1  # ...and a change of at least this share of the baseline level
LOOKBACK_S = 600  # how far before the given onset a signal's own onset is searched
REL_FLOOR = 0.01  # no series is credited with less spread than this share of its level
LATENCY_REL_FLOOR = 0.05  # ...a latency with less than this (quantiles are coarse)
SPIKE_RANGE_DIVISOR = 6.0  # a baseline's full range, spikes included, spans about 6 deviations
LATE_GUARD_S = 60  # the end of the baseline a late onset hint may have filled with the fault

_KINDS = (
    ("latency", re.compile(r"lat|duration|response|p\d\d|rt$|delay", re.I)),
    # A success rate or apdex measures failure too (bad when it falls), not traffic.
    ("errors", re.compile(r"err|fail|5xx|4xx|exception|fault|success|apdex", re.I)),
    ("traffic", re.compile(r"rate|rps|qps|workload|request|throughput|count|tx|rx", re.I)),
    ("resource", re.compile(r"cpu|mem|disk|conn|sock|thread|gc|heap|cert|io|net|pool|fd",
                            re.I)),
)


def signal_kind(metric: str) -> str:
    """What a metric measures, from its name: latency, errors, traffic, resource or other."""
    if metric in METRICS:
        if metric.startswith("latency"):
            return "latency"
        return {"error_rate": "errors", "request_rate": "traffic"}.get(metric, "resource")
    for kind, pattern in _KINDS:
        if pattern.search(metric):
            return kind
    return "other"


def bad_direction(metric: str) -> str:
    """"up", "down" or "both": the catalogue's for known metrics; up for any latency or errors."""
    if metric in METRICS:
        return METRICS[metric].bad_direction
    kind = signal_kind(metric)
    if re.search(r"success|apdex|hit_?ratio", metric, re.I):
        return "down"
    if kind in ("latency", "errors"):
        return "up"
    # A resource in use (CPU, memory, disk, connections) is bad when it rises; a certificate's
    # remaining life is bad when it falls; less of a resource used is no fault of its own.
    if kind == "resource" and not re.search(r"cert|expir|free|avail|remain|left", metric, re.I):
        return "up"
    return "both"


def signal_family(metric: str) -> str:
    """Which of a service's signals tell the same story: the CPU pair (cores, percent), the
    memory pair, the latency quantiles each count once when a service's signals are combined."""
    kind = signal_kind(metric)
    if kind == "resource":
        for family, pattern in (("cpu", r"cpu"), ("memory", r"mem|heap|rss|gc"),
                                ("disk", r"disk|io"), ("network", r"net|sock|conn")):
            if re.search(pattern, metric, re.I):
                return family
    return kind


@dataclass(frozen=True)
class Gates:
    """When a series' move counts at all: this many robust deviations, and a change of at least
    this share of its level. The shipped values are the defaults; `evals.bench_rca_real --cv`
    chooses them leaving one fault type out to show how much they were fitted."""

    z_significant: float = Z_SIGNIFICANT
    min_relative: float = MIN_RELATIVE


DEFAULT_GATES = Gates()


@dataclass
class ScoreMatrix:
    """Scores of many series at once (arrays of one value per series)."""

    z: np.ndarray  # peak robust z in the bad direction (0 when not significant)
    raw_z: np.ndarray  # the same before the significance gate
    baseline: np.ndarray
    peak: np.ndarray
    up: np.ndarray  # bool: the peak is above the baseline
    first_ts: np.ndarray  # int64, -1 when never out of band
    gradual: np.ndarray | None = None  # bool: it grew after the onset (a leak), not one step


def row_quantiles(x: np.ndarray, qs: tuple[float, ...]) -> list[np.ndarray]:
    """Per-row quantiles ignoring NaN (linear interpolation, as np.nanpercentile) in one sort:
    nanpercentile loops over rows in Python and is 50x slower on thousands of series."""
    srt = np.sort(x, axis=1)  # NaN sort last
    n = np.isfinite(srt).sum(axis=1)
    out = []
    for q in qs:
        pos = q * np.maximum(n - 1, 0)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, np.maximum(n - 1, 0))
        frac = pos - lo
        a = np.take_along_axis(srt, lo[:, None], axis=1)[:, 0]
        b = np.take_along_axis(srt, hi[:, None], axis=1)[:, 0]
        out.append(np.where(n > 0, a + (b - a) * frac, np.nan))
    return out


def _rolling_median3(x: np.ndarray) -> np.ndarray:
    if x.shape[1] < 3:
        return x
    padded = np.concatenate([x[:, :1], x, x[:, -1:]], axis=1)
    stack = np.stack([padded[:, :-2], padded[:, 1:-1], padded[:, 2:]])
    return np.nanmedian(stack, axis=0) if np.isnan(stack).any() else np.median(stack, axis=0)


def sampling_step(timestamps: np.ndarray) -> float:
    """The data's resolution in seconds: the median gap between samples."""
    gaps = np.diff(np.asarray(timestamps, dtype=float))
    gaps = gaps[gaps > 0]
    return float(np.median(gaps)) if gaps.size else 1.0


def scale_floors(pre: np.ndarray, med: np.ndarray, kinds: list[str], step: float) -> np.ndarray:
    """The smallest spread each baseline is credited with, from its own resolution and noise, so
    a series that sat still (an idle caller's latency, an error count at 0) cannot turn a tiny
    move into a z of millions:

    - every series: `REL_FLOOR` of its level, and the range its baseline's spikes cover
      (a few rare spikes in an otherwise flat series are its noise, though its IQR is 0),
      leaving out the last `LATE_GUARD_S` before the onset, which a late hint fills with
      faulty points;
    - latency: its sampling granularity, the smallest step between distinct baseline values
      (histogram quantiles move in bucket-sized steps), and `LATENCY_REL_FLOOR` of its level;
    - counts and rates (errors, traffic) that sat near 0 (under one event per sample): the
      Poisson noise of one event per sample, 1 / step for a per-second rate, 1 when the
      baseline holds whole numbers (a count per sample); busier ones keep their own noise.
    """
    n = len(med)
    level = np.abs(med)
    floor = np.maximum(REL_FLOOR * level, 1e-6)
    if pre.shape[1] == 0:
        return floor
    srt = np.sort(pre, axis=1)
    finite = np.isfinite(srt)
    guard = max(1, int(math.ceil(LATE_GUARD_S / step)))
    early = pre[:, :-guard] if pre.shape[1] > guard + MIN_PRE_POINTS else pre
    lo = np.where(np.isfinite(early), early, np.inf).min(axis=1)
    hi = np.where(np.isfinite(early), early, -np.inf).max(axis=1)
    rng = np.where(np.isfinite(hi - lo), hi - lo, 0.0)
    floor = np.maximum(floor, rng / SPIKE_RANGE_DIVISOR)
    gaps = np.diff(srt, axis=1)
    gaps = np.where(np.isfinite(gaps) & (gaps > 1e-12 * np.maximum(level, 1.0)[:, None]),
                    gaps, np.inf)
    quantum = gaps.min(axis=1) if gaps.shape[1] else np.full(n, np.inf)
    quantum = np.where(np.isfinite(quantum), quantum, 0.0)
    integer = np.all(~finite | (srt == np.round(srt)), axis=1)
    for i, kind in enumerate(kinds):
        if kind == "latency":
            floor[i] = max(floor[i], quantum[i], LATENCY_REL_FLOOR * level[i])
        elif kind in ("errors", "traffic") and level[i] * (1.0 if integer[i] else step) < 1.0:
            poisson = (math.sqrt(max(level[i], 1.0)) if integer[i]
                       else math.sqrt(max(level[i] * step, 1.0)) / step)
            floor[i] = max(floor[i], poisson)
    return floor


def baseline_mask(timestamps: np.ndarray, onset: int, pre_s: int = PRE_S) -> np.ndarray:
    """The samples the baseline is made of: the last `pre_s` of data before the onset, counted
    in samples (`pre_s` / the sampling step), not in wall time. Contiguous data gives the hour
    before the onset; data with a gap before the fault window (a normal recording from an hour
    or a day earlier) gives that recording's last hour, instead of the few samples after it."""
    ts = np.asarray(timestamps)
    before = np.flatnonzero(ts < onset)
    mask = np.zeros(len(ts), dtype=bool)
    keep = max(1, int(round(pre_s / sampling_step(ts))))
    mask[before[-keep:]] = True
    return mask


def score_matrix(timestamps: np.ndarray, values: np.ndarray, onset: int,
                 directions: list[str], min_abs: np.ndarray | None = None,
                 pre_s: int = PRE_S, post_s: int = POST_S,
                 kinds: list[str] | None = None, gates: Gates | None = None) -> ScoreMatrix:
    """Score each row of `values` (series x time) around `onset` (unix seconds); `kinds` (one
    `signal_kind` per row) sets each row's scale floor (`scale_floors`)."""
    gates = gates or DEFAULT_GATES
    ts = np.asarray(timestamps)
    pre = baseline_mask(ts, onset, pre_s)
    post = (ts >= onset) & (ts < onset + post_s)
    if pre.sum() < MIN_PRE_POINTS:
        raise RcaInputError(f"only {int(pre.sum())} samples before the onset {onset}: need at "
                            f"least {MIN_PRE_POINTS} of normal data (move the onset later)")
    if not post.any():
        raise RcaInputError(f"no samples at or after the onset {onset} (the data ends at "
                            f"{int(ts.max())}): give an onset inside the data")
    x = np.asarray(values, dtype=float)
    q25, med, q75 = row_quantiles(x[:, pre], (0.25, 0.5, 0.75))
    med = np.nan_to_num(med)
    spread = (q75 - q25) / 1.349
    floor = scale_floors(x[:, pre], med, kinds or ["other"] * len(x), sampling_step(ts))
    if min_abs is not None:
        floor = np.maximum(floor, min_abs / 8.0)
    spread = np.maximum(np.nan_to_num(spread), floor)

    # From LOOKBACK_S before the onset: the signal's own first exit from its band.
    span = (ts >= onset - LOOKBACK_S) & (ts < onset + post_s)
    smooth = _rolling_median3(x[:, span])
    dev = smooth - med[:, None]
    sign = np.array([{"up": 1.0, "down": -1.0}.get(d, 0.0) for d in directions])
    signed = np.where(sign[:, None] == 0, np.abs(dev), dev * sign[:, None])
    signed = np.nan_to_num(signed, nan=0.0)
    after = ts[span] >= onset
    post_dev = signed[:, after]
    best = np.argmax(post_dev, axis=1)
    peak_dev = post_dev[np.arange(len(best)), best]
    raw_z = peak_dev / spread
    peak = smooth[:, after][np.arange(len(best)), best]
    need = np.maximum(gates.min_relative * np.abs(med), 0.0)
    if min_abs is not None:
        need = np.maximum(need, min_abs)
    significant = (raw_z >= gates.z_significant) & (peak_dev >= need)
    # First exit: the earliest point (from the lookback on) past a quarter of the peak and the
    # significance bar; a quarter, not half, so a slow ramp (a leak) is not dated late.
    bar = np.maximum(np.maximum(0.25 * peak_dev, gates.z_significant * spread), need)[:, None]
    out = signed >= bar
    has = out.any(axis=1)
    first_idx = np.argmax(out, axis=1)
    span_ts = ts[span].astype(np.int64)
    first_ts = np.where(has & significant, span_ts[first_idx], -1)
    # Gradual: the first point after the onset holds under half the peak's move.
    gradual = post_dev[:, 0] < 0.5 * peak_dev if post_dev.shape[1] else np.zeros(len(x), bool)
    return ScoreMatrix(z=np.where(significant, raw_z, 0.0), raw_z=raw_z, baseline=med,
                       peak=np.nan_to_num(peak), up=np.nan_to_num(peak) >= med,
                       first_ts=first_ts, gradual=gradual)


def min_abs_changes(metrics: list[str]) -> np.ndarray:
    """The catalogue's floor of relevance per metric (0 for metrics it does not know)."""
    return np.array([METRICS[m].min_abs_change if m in METRICS else 0.0 for m in metrics])
