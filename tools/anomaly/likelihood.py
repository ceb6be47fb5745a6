"""Anomaly likelihood over the prediction errors of cheap causal predictors (`anomaly score`).

The idea is Numenta's (the HTM anomaly likelihood of their NAB detector): a raw prediction
error says little by itself (a noisy series always errs), but an error far larger than the
series' own past errors does. Per predictor:

1. the prediction for row t uses rows before t only: the median of a long window (the series'
   usual value: for a mostly-zero counter that is 0, so a return to 0 after a burst is
   predicted, not an alarm) and, when the timestamps have a clock, the median of the same phase
   of the last `season_cycles` days (seasonal naive);
2. the absolute error (averaged over `short` rows) is compared with the mean and deviation of
   the errors of up to `long` earlier rows; the upper Gaussian tail of that z (taken in logs, so
   it never underflows) is the chance of an error this large.

Of the predictors, the one with the smaller mean error so far is trusted (a daily cycle makes
the seasonal one win; a spiky counter, the level). The score is `L / (L + L_HALF)` with
`L = -log10(tail)`: continuous, 0.5 at a tail of 10^-L_HALF, below 1.0 for any finite error.
After a score reaches 0.5 the next `refractory` rows are halved: one incident, one alarm.

Everything is vectorised over rows (`cumsum` windows, block medians every `hop` rows), about a
million rows a second on one core. Constants were chosen on NAB's development split and are
reported leave-one-category-out by `evals.bench_nab`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import log_ndtr

L_HALF = 5.0  # -log10 tail probability at which the score is 0.5 (HTM's 0.99999 likelihood)
LN10 = float(np.log(10.0))
REFRACTORY_DAMP = 0.5
DAY_S = 86400.0


@dataclass(frozen=True)
class LikelihoodConfig:
    short: int = 1  # rows in the error average
    long: int = 8640  # rows of error history the error is compared with (HTM's 8,640)
    min_history: int = 100  # fewer rows before t: score 0
    level_window: int = 1000  # rows in the long median (the usual value)
    hop: int = 20  # the long median is recomputed every `hop` rows
    season: int = 0  # cycle length in rows (0: no seasonal predictor)
    season_cycles: int = 3
    refractory: int = 300  # rows damped after an alarm (0: none)
    rel_floor: float = 1e-3  # the error deviation is at least this share of the mean |value|


def season_rows(timestamps: np.ndarray, clock: bool) -> int:
    """A day in rows, from the median step (0 without a clock or with a step of a day+)."""
    if not clock or len(timestamps) < 2:
        return 0
    step = float(np.median(np.diff(timestamps)))
    return int(round(DAY_S / step)) if 0 < step < DAY_S / 2 else 0


def _trailing_sum(a: np.ndarray, width: int) -> np.ndarray:
    """Sum of a[t - width + 1 .. t] (fewer at the start)."""
    c = np.concatenate(([0.0], np.cumsum(a)))
    idx = np.arange(1, len(a) + 1)
    return c[idx] - c[np.maximum(idx - width, 0)]


def _trailing_mean(a: np.ndarray, width: int) -> np.ndarray:
    return _trailing_sum(a, width) / np.minimum(np.arange(1, len(a) + 1), width)


def _block_median(x: np.ndarray, window: int, hop: int) -> np.ndarray:
    """For row t: the median of the `window` rows before t's block of `hop` rows (NaN in the
    first block). Causal: a block's median uses only earlier blocks' rows."""
    out = np.full(len(x), np.nan)
    for s in range(hop, len(x), hop):
        out[s:s + hop] = np.median(x[max(0, s - window):s])
    return out


def _seasonal(x: np.ndarray, period: int, cycles: int) -> np.ndarray:
    """For row t: the median of x[t - k period], k = 1..cycles (those that exist; NaN if none)."""
    n = len(x)
    stack = np.full((cycles, n), np.inf)
    for k in range(1, cycles + 1):
        if k * period < n:
            stack[k - 1, k * period:] = x[:-k * period]
    srt = np.sort(stack, axis=0)  # missing lags (inf) sort last
    cnt = np.isfinite(stack).sum(axis=0)
    cols = np.arange(n)
    lo = srt[np.maximum((cnt - 1) // 2, 0), cols]
    hi = srt[np.minimum(cnt // 2, cycles - 1), cols]
    return np.where(cnt > 0, 0.5 * (lo + hi), np.nan)


def _log10_tail(err: np.ndarray, cfg: LikelihoodConfig, floor: np.ndarray) -> np.ndarray:
    """-log10 of the Gaussian upper tail of the (short-averaged) error against earlier errors."""
    n = len(err)
    avg = _trailing_mean(err, cfg.short)
    hist = np.concatenate((np.zeros(cfg.short), avg[:-cfg.short]))[:n]
    cnt = np.clip(np.arange(n) - cfg.short + 1, 0, cfg.long).astype(float)
    mu = _trailing_sum(hist, cfg.long) / np.maximum(cnt, 1.0)
    var = np.maximum(_trailing_sum(hist * hist, cfg.long) / np.maximum(cnt, 1.0) - mu * mu, 0.0)
    z = (avg - mu) / np.maximum(np.sqrt(var), floor)
    # A tail of 1/2 (an error at its mean) is no evidence: L counts from there.
    tail = np.maximum(-(log_ndtr(-z) + np.log(2.0)) / LN10, 0.0)
    return np.where(cnt >= cfg.min_history, tail, 0.0)


def score_likelihood(values: np.ndarray, cfg: LikelihoodConfig | None = None) -> np.ndarray:
    """Scores in [0, 1) for one series (NaN rows: 0), causal: row t's score uses rows <= t."""
    cfg = cfg or LikelihoodConfig()
    raw = np.asarray(values, dtype=float)
    n = len(raw)
    missing = np.isnan(raw)
    if n == 0 or missing.all():
        return np.zeros(n)
    # Predictions see a gap as its last value; gap rows are not scored.
    first = int(np.argmax(~missing))
    idx = np.where(~missing, np.arange(n), first)
    x = raw[np.maximum.accumulate(idx)]
    floor = np.maximum(cfg.rel_floor * _trailing_mean(np.abs(x), cfg.long), 1e-12)
    level = _block_median(x, cfg.level_window, cfg.hop)
    preds = [level]
    if cfg.season > 1 and cfg.season * 2 < n:
        # Before a whole cycle is there the seasonal predictor falls back on the level, so its
        # error history starts as the level's, not as zeros.
        seasonal = _seasonal(x, cfg.season, cfg.season_cycles)
        preds.append(np.where(np.isnan(seasonal), level, seasonal))
    tails, typical = [], []
    for p in preds:
        err = np.abs(x - np.where(np.isnan(p), x, p))
        tails.append(_log10_tail(err, cfg, floor))
        typical.append(np.concatenate(([0.0], _trailing_mean(err, cfg.long)[:-1])))
    pick = np.argmin(np.stack(typical), axis=0)  # ties (the start): the level
    big = np.stack(tails)[pick, np.arange(n)]
    big = np.where(missing, 0.0, np.maximum(big, 0.0))
    score = big / (big + L_HALF)
    return _refractory(score, cfg.refractory) if cfg.refractory > 0 else score


def _refractory(score: np.ndarray, rows: int) -> np.ndarray:
    """Halve the `rows` rows after each alarm (score >= 0.5 outside an earlier one's period)."""
    out = score.copy()
    until = -1
    for i in np.flatnonzero(score >= 0.5):  # alarms are rare: a loop over them is cheap
        if i <= until:
            continue
        until = int(i) + rows
        out[i + 1:until + 1] *= 1.0 - REFRACTORY_DAMP
    return out
