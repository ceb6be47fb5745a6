"""Settings that `opscopilot anomaly score` learns from a series' own past, at checkpoints.

A file from an unknown source says little up front: its cycle may be a day, a week or 37 samples
(integer-index timestamps carry no clock), its values may be Poisson counts or a latency with a
heavy right tail, or its sensor may get stuck. At checkpoints (128 samples, then each doubling)
the history so far decides:

- the **cycle**: among the autocorrelation peaks of the detrended history (at least 0.3, 0.2
  above the lowest value before them, seen at least 2.5 times), the one whose seasonal
  difference y[t] - y[t - lag] is smallest (a shorter one within 20 % wins); on clock
  timestamps a peak at whole days is a day, or a week when the days are a multiple of 7;
  without a clear peak a multi-day clock series keeps the daily profile;
- the **space**: `log` for a positive series whose residuals are clearly right-skewed and much
  more symmetric in logs, else the values as they are (counts stay raw: the local window's
  MAD already follows their level);
- the **threshold**: like `model fit`, from the robust z distribution of the history's second
  half (scored with the new cycle and space): a
  power-law tail through its 90th and 99th percentiles puts the 99.99th near q99^2 / q90, and
  `z_threshold = max(6, TAIL_MARGIN x q99^2 / q90, 1.25 x q99.9 with 20,000+ samples)`, so
  heavy-tailed noise does not alarm at every tail event while Gaussian noise keeps 6;
- **stuck sensors** (any time): a value repeated far longer than the history's share of equal
  neighbours makes likely scores high, and those samples stay out of the baseline, so the
  sensor's return is not an alarm.

Samples before the first checkpoint are scored with the clock-based defaults; the samples from
checkpoint k on are scored by a full causal run of the detector with the settings chosen from the
samples before k. No score depends on a later sample.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from tools.anomaly.robust import RobustConfig, RobustScores, score_series

FIRST_CHECKPOINT = 128
DAY_S, WEEK_S = 86400.0, 7 * 86400.0
MIN_ACF = 0.3
TAIL_MARGIN = 1.0
STUCK_MIN_RUN = 6  # a value repeated this often (and rarer than 1 in 10^6) is a stuck sensor
STUCK_HISTORY = 100
STUCK_MAX_SHARE = 0.2


@dataclass(frozen=True)
class Learned:
    season: float  # cycle in timestamp units (0: none)
    space: str  # "raw" | "log"
    z_threshold: float


def checkpoints(n: int) -> list[int]:
    out, k = [], FIRST_CHECKPOINT
    while k < n:
        out.append(k)
        k *= 2
    return out


def transform(x: np.ndarray, space: str) -> np.ndarray:
    if space == "log":
        return np.log(np.maximum(x, 1e-12))
    return x


def _residuals(y: np.ndarray, width: int = 9) -> np.ndarray:
    """Values minus a centred running median (NaN skipped), for shape statistics."""
    y = y[~np.isnan(y)]
    if len(y) < 3 * width:
        return np.zeros(0)
    from numpy.lib.stride_tricks import sliding_window_view

    med = np.median(sliding_window_view(y, width), axis=1)
    return y[width // 2: width // 2 + len(med)] - med


def _skew_ratio(r: np.ndarray) -> float:
    """Upper over lower tail length of the residuals (1: symmetric)."""
    hi, lo = np.quantile(r, [0.99, 0.01])
    return float(hi / max(-lo, 1e-12)) if hi > 0 else 1.0


def choose_space(x: np.ndarray) -> str:
    y = x[~np.isnan(x)]
    if len(y) < 64 or y.min() < 0:
        return "raw"
    if y.min() > 0:
        raw = _skew_ratio(_residuals(y))
        log = _skew_ratio(_residuals(np.log(y)))
        if raw > 2.0 and abs(np.log(log)) < 0.5 * abs(np.log(raw)):
            return "log"
    return "raw"


def _mad(d: np.ndarray) -> float:
    return float(np.median(np.abs(d - np.median(d))))


def detect_period(y: np.ndarray) -> int:
    """The autocorrelation peak in samples (0: none clear), from the history `y`."""
    y = y[~np.isnan(y)]
    n = len(y)
    if n < 32:
        return 0
    t = np.arange(n)
    y = y - np.polyval(np.polyfit(t, y, 1), t)
    y = y - y.mean()
    if not np.any(y):
        return 0
    size = 1 << int(np.ceil(np.log2(2 * n)))
    f = np.fft.rfft(y, size)
    acf = np.fft.irfft(f * np.conj(f), size)[:n]
    acf = acf / acf[0] * n / np.maximum(n - np.arange(n), 1)  # unbiased: long lags count fully
    max_lag = int(n / 2.5)
    if max_lag < 4:
        return 0
    a = acf[:max_lag + 1]
    peaks = np.flatnonzero((a[2:-1] > a[1:-2]) & (a[2:-1] >= a[3:])) + 2
    trough = np.minimum.accumulate(a)[peaks - 1]  # lowest autocorrelation before the peak
    peaks = peaks[(a[peaks] >= MIN_ACF) & (trough <= a[peaks] - 0.2)]  # a cycle, not a wiggle
    if peaks.size == 0:
        return 0
    # Among the peaks, the cycle whose seasonal difference y[t] - y[t - lag] is smallest
    # predicts best (a week beats a day when weekdays differ); a shorter one within 20 % wins.
    err = np.array([_mad(y[lag:] - y[:-lag]) for lag in peaks])
    return int(peaks[np.flatnonzero(err <= 1.2 * err.min())[0]])


def _season_for(lag: int, step: float, clock: bool, default: float) -> float:
    if lag == 0:
        return default
    period = lag * step
    if clock:
        days = round(period / DAY_S)
        if days >= 1 and abs(period - days * DAY_S) <= 0.05 * DAY_S * days:
            return WEEK_S if days % 7 == 0 else DAY_S
        if default:  # a multi-day clock series: a daily profile unless the cycle is clear
            return default
    return period


def _buckets(season: float, step: float) -> int:
    """One bucket per sample of the cycle, at most 96 a day (15 minutes) or 256 a cycle."""
    if not season:
        return 96
    cap = 96 * round(season / DAY_S) if season >= DAY_S and season % DAY_S == 0 else 256
    return int(min(cap, max(4, round(season / step))))


def calibrated_z(scores: RobustScores, z_threshold: float, base: float) -> float:
    """The threshold from a run's robust z values (v is in units of z_threshold x sigma), over
    the history's second half (where a profile found at this checkpoint is already at work)."""
    ready = ~np.isnan(scores.level) & (scores.thr > 0)
    ready[: len(ready) // 2] = False
    z = np.abs(scores.v[ready]) * z_threshold
    z = z[z > 0]
    out = base
    if z.size >= 64:
        q90, q99 = np.quantile(z, [0.9, 0.99])
        # A power-law tail through q90 and q99 puts q99.99 near q99^2 / q90 (Gaussian: 4.1,
        # Student t4: 10): heavier tails get a higher threshold.
        out = max(out, TAIL_MARGIN * float(q99 * q99 / max(q90, 1e-12)))
        if z.size >= 20000:  # so a few anomalies in the history cannot set the tail
            out = max(out, 1.25 * float(np.quantile(z, 0.999)))
    return out


def stuck_scores(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A flat-lined sensor: the same value again and again, much longer than the series'
    history of equal neighbours makes likely (a run of L repeats has chance p^L when a share p
    of past neighbours were equal; over 20 % equal, as in coarse counts, there is no check).
    Returns the score (v^2 / (1 + v^2) with v = L / the unlikely length) and the samples of
    such runs, which stay out of the baseline."""
    n = len(x)
    same = np.zeros(n, dtype=bool)
    same[1:] = x[1:] == x[:-1]  # NaN is never equal: a gap ends a run
    idx = np.arange(n)
    starts = np.maximum.accumulate(np.where(same, 0, idx))
    run = idx - starts  # repeats of the current value so far
    p = np.cumsum(same) / np.maximum(idx, 1)  # causal share of equal neighbours
    with np.errstate(divide="ignore"):  # coarse counts (many equal neighbours): no check
        crit = np.where(p > STUCK_MAX_SHARE, np.inf, np.log(1e-6) / np.log(np.maximum(p, 1e-9)))
    crit = np.maximum(crit, STUCK_MIN_RUN)
    v = np.where(idx >= STUCK_HISTORY, run / crit, 0.0)
    return v * v / (1 + v * v), v >= 1


def score_adaptive(ts: np.ndarray, x: np.ndarray, base: RobustConfig, clock: bool,
                   min_change: float = 0.0) -> np.ndarray:
    """Scores of one series: the defaults `base` before the first checkpoint, then per segment
    the settings learned from the samples before it. A magnitude floor (`min_change`,
    `base.rel_floor`) is in the series' unit, so it keeps the values as they are."""
    stuck, flat = stuck_scores(x)
    x = np.where(flat, np.nan, x)
    n = len(x)
    step = float(np.median(np.diff(ts))) if n > 1 else 1.0
    cps = checkpoints(n)
    first = cps[0] if cps else n
    parts = [score_series(x[:first], base, min_change, ts[:first]).score]
    floors = min_change > 0 or base.rel_floor > 0
    prev: tuple[Learned, RobustScores] | None = None
    for i, k in enumerate(cps):
        end = cps[i + 1] if i + 1 < len(cps) else n
        space = "raw" if floors else choose_space(x[:k])
        season = _season_for(detect_period(transform(x[:k], space)), step, clock, base.season)
        cfg = dataclasses.replace(base, season=season, season_buckets=_buckets(season, step))
        if prev and (prev[0].space, prev[0].season) == (space, season):
            history, z_used = prev[1], prev[0].z_threshold  # the last run covers x[:k]
        else:
            history = score_series(transform(x[:k], space), cfg, min_change, ts[:k])
            z_used = cfg.z_threshold
        got = Learned(season, space, calibrated_z(history, z_used, base.z_threshold))
        run = score_series(transform(x[:end], space),
                           dataclasses.replace(cfg, z_threshold=got.z_threshold),
                           min_change, ts[:end])
        parts.append(run.score[k:end])
        prev = (got, run)
    return np.maximum(np.concatenate(parts), stuck)
