"""Anomaly likelihood over the prediction errors of a few cheap causal predictors.

The idea is Numenta's (HTM anomaly likelihood, used by their NAB detector): a raw prediction
error says little by itself (a noisy series always errs), but a run of errors much larger than
the series' own recent errors does. Per predictor:

1. the prediction for row t uses rows before t only: the last value, a fast EWMA level, the
   median of a long window (the series' usual value: for a mostly-zero counter, 0, so a return
   to 0 after a burst is predicted) and, when the sampling has a daily or weekly clock, the
   median of the same phase in the last cycles (seasonal naive);
2. the absolute error is averaged over a short window (`short` rows) and compared with the mean
   and deviation of that average over a long history (`long` rows before the short window);
3. the upper Gaussian tail of that z is the probability that the errors are this bad by chance.

A row is as anomalous as its *least* surprising predictor (the largest tail probability): a
daily peak that the seasonal predictor expects, or a spike in a spiky counter, is not an alarm.
The score is `L / (L + L_HALF)` with `L = -log10(p)`: continuous, 0.5 at p = 10^-L_HALF, below
1.0 for any finite z (the tail is taken in logs, so it never underflows into a plateau). After a
score reaches 0.5, the next `refractory` rows are damped by `(1 - REFRACTORY_DAMP)` unless they
rise above the alarm's score: one incident, one alarm.

Everything is vectorised over the rows (`cumsum` windows, `lfilter` for the EWMA, block medians
every `hop` rows), so a file of a million rows takes well under a second.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter
from scipy.special import log_ndtr

L_HALF = 5.0  # -log10 tail probability at which the score is 0.5 (HTM's 0.99999 likelihood)
LN10 = float(np.log(10.0))
REFRACTORY_DAMP = 0.5


@dataclass(frozen=True)
class LikelihoodConfig:
    short: int = 10  # rows in the error average (HTM's averaging window)
    long: int = 2000  # rows of error history the average is compared with
    min_history: int = 100  # fewer rows before t: score 0
    alpha: float = 0.2  # EWMA weight of the newest row
    level_window: int = 1000  # rows in the long median (the usual value)
    hop: int = 20  # the long and seasonal medians are recomputed every `hop` rows
    season: int = 0  # cycle length in rows (0: no seasonal predictor)
    season_cycles: int = 3
    refractory: int = 0  # rows damped after an alarm (0: none)
    rel_floor: float = 1e-3  # the error deviation is at least this share of the mean |value|
    predictors: tuple[str, ...] = ("last", "ewma", "level", "season")
    combine: str = "min"
    bounded: str = "none"


def _trailing_sum(a: np.ndarray, width: int) -> np.ndarray:
    """Sum of a[t - width + 1 .. t] (fewer at the start)."""
    c = np.concatenate(([0.0], np.cumsum(a)))
    idx = np.arange(1, len(a) + 1)
    return c[idx] - c[np.maximum(idx - width, 0)]


def _trailing_count(n: int, width: int) -> np.ndarray:
    return np.minimum(np.arange(1, n + 1), width).astype(float)


def _block_median(x: np.ndarray, window: int, hop: int) -> np.ndarray:
    """For row t: the median of x over the `window` rows before the block of `hop` rows holding
    t (NaN before any row). Causal: a block's median uses only earlier blocks' rows."""
    n = len(x)
    out = np.full(n, np.nan)
    for s in range(hop, n, hop):
        past = x[max(0, s - window):s]
        out[s:s + hop] = np.median(past)
    return out


def _seasonal(x: np.ndarray, period: int, cycles: int) -> np.ndarray:
    """For row t: the median of x[t - k period], k = 1..cycles (those that exist)."""
    n = len(x)
    stack = np.full((cycles, n), np.nan)
    for k in range(1, cycles + 1):
        lag = k * period
        if lag < n:
            stack[k - 1, lag:] = x[:-lag]
    with np.errstate(all="ignore"):
        seen = ~np.isnan(stack)
        filled = np.where(seen, stack, 0.0)
        srt = np.sort(np.where(seen, stack, np.inf), axis=0)
        cnt = seen.sum(axis=0)
        lo = srt[np.maximum((cnt - 1) // 2, 0), np.arange(n)]
        hi = srt[np.maximum(cnt // 2, 0), np.arange(n)]
        med = np.where(cnt > 0, 0.5 * (lo + hi), np.nan)
    del filled
    return med


def _ewma_before(x: np.ndarray, alpha: float) -> np.ndarray:
    """EWMA of rows before t (the first row predicts itself)."""
    level = lfilter([alpha], [1.0, alpha - 1.0], x, zi=np.array([(1.0 - alpha) * x[0]]))[0]
    return np.concatenate(([x[0]], level[:-1]))


def _log10_tail(a: np.ndarray, cfg: LikelihoodConfig, floor: np.ndarray) -> np.ndarray:
    """-log10 of the Gaussian upper tail of the short error average against its history."""
    n = len(a)
    avg = _trailing_sum(a, cfg.short) / _trailing_count(n, cfg.short)
    # History: the averages up to the start of the current short window.
    hist = np.concatenate((np.zeros(cfg.short), avg[:-cfg.short])) if n > cfg.short else (
        np.zeros(n))
    s1 = _trailing_sum(hist, cfg.long)
    s2 = _trailing_sum(hist * hist, cfg.long)
    cnt = np.clip(np.arange(n) - cfg.short + 1, 0, cfg.long).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mu = s1 / np.maximum(cnt, 1.0)
        var = np.maximum(s2 / np.maximum(cnt, 1.0) - mu * mu, 0.0)
    sd = np.maximum(np.sqrt(var), floor)
    z = (avg - mu) / sd
    return np.where(cnt >= cfg.min_history, -log_ndtr(-z) / LN10, 0.0)


def score_likelihood(values: np.ndarray, cfg: LikelihoodConfig | None = None) -> np.ndarray:
    """Scores in [0, 1) for one series (NaN rows: 0), causal."""
    cfg = cfg or LikelihoodConfig()
    raw = np.asarray(values, dtype=float)
    n = len(raw)
    missing = np.isnan(raw)
    if n == 0 or missing.all():
        return np.zeros(n)
    # Predictions see a gap as its last value; gap rows are not scored.
    idx = np.where(~missing, np.arange(n), 0)
    np.maximum.accumulate(idx, out=idx)
    x = raw[idx]
    x[: int(np.argmax(~missing))] = raw[int(np.argmax(~missing))]
    scale = _trailing_sum(np.abs(x), cfg.long) / _trailing_count(n, cfg.long)
    floor = np.maximum(cfg.rel_floor * scale, 1e-12)
    preds = []
    if "last" in cfg.predictors:
        preds.append(np.concatenate(([x[0]], x[:-1])))
    if "ewma" in cfg.predictors:
        preds.append(_ewma_before(x, cfg.alpha))
    if "level" in cfg.predictors:
        preds.append(_block_median(x, cfg.level_window, cfg.hop))
    if "season" in cfg.predictors and cfg.season > 1 and cfg.season * 2 < n:
        preds.append(_seasonal(x, cfg.season, cfg.season_cycles))
    lows = []
    typ = []
    for p in preds:
        err = np.abs(x - np.where(np.isnan(p), x, p))
        if cfg.bounded != "none":
            typical = _trailing_sum(err, cfg.long) / _trailing_count(n, cfg.long)
            typical = np.concatenate(([0.0], typical[:-1])) + floor
            err = err / (err + typical) if cfg.bounded == "ratio" else np.log1p(err / typical)
        lows.append(_log10_tail(err, cfg, floor))
        t_err = _trailing_sum(err, cfg.long) / _trailing_count(n, cfg.long)
        typ.append(np.concatenate(([0.0], t_err[:-1])))
    if cfg.combine == "best":
        pick = np.argmin(np.stack(typ), axis=0)
        big = np.stack(lows)[pick, np.arange(n)]
    elif cfg.combine == "best2":  # the least surprising of the two best predictors
        order = np.argsort(np.stack(typ), axis=0)
        st = np.stack(lows)
        big = np.minimum(st[order[0], np.arange(n)], st[order[min(1, len(lows) - 1)], np.arange(n)])
    else:
        big = (np.min if cfg.combine == "min" else np.max if cfg.combine == "max" else np.mean)(
            np.stack(lows), axis=0)
    big = np.where(missing, 0.0, np.maximum(big, 0.0))
    score = big / (big + L_HALF)
    if cfg.refractory > 0:
        score = _refractory(score, cfg.refractory)
    return score


def _refractory(score: np.ndarray, rows: int) -> np.ndarray:
    """Damp the rows within `rows` after an alarm (score >= 0.5) unless they exceed it."""
    out = score.copy()
    last_alarm = -rows - 1
    peak = 0.0
    for i in np.flatnonzero(score >= 0.5):  # alarms are rare: a loop over them is cheap
        if i - last_alarm <= rows and score[i] <= peak:
            continue
        last_alarm, peak = int(i), float(score[i])
        out[i + 1:i + 1 + rows] = np.where(score[i + 1:i + 1 + rows] > peak,
                                           score[i + 1:i + 1 + rows],
                                           score[i + 1:i + 1 + rows] * (1 - REFRACTORY_DAMP))
    return out
