"""Anomaly likelihood over the prediction errors of cheap causal predictors (`anomaly score`).

The idea is Numenta's (the HTM anomaly likelihood of their NAB detector): a raw prediction
error says little by itself (a noisy series always errs), but an error far larger than the
series' own past errors does. Per predictor:

1. the prediction for row t uses rows before t only: the median of a long window (the series'
   usual value: for a mostly-zero counter that is 0, so a return to 0 after a burst is
   predicted, not an alarm) and, when the timestamps have a clock, the median of the same phase
   of the last `season_cycles` days (seasonal naive) and, once two weeks are there, of the same
   phase of the last `season_cycles` weeks (a weekday differs from a Sunday); without a clock,
   the same phase of a cycle in samples learned from the first `learn_at` rows, if any;
2. the absolute error, in units of the series' mean |value| over the last `long` rows (so a
   series that grows tenfold keeps a comparable error history) and averaged over `short` rows,
   is compared with the mean and deviation of the errors of up to `long` earlier rows; the
   upper Gaussian tail of that z (taken in logs, so it never underflows) is the chance of an
   error this large.

Of the predictors, the one with the smaller mean error so far is trusted (a daily cycle makes
the daily one win, a weekly one the weekly; a spiky counter, the level). A run of repeated
values adds its own evidence (`tools.anomaly.stuck`: a frozen gauge). The score is
`L / (L + L_HALF)` with `L = -log10(tail)`: continuous, 0.5 at a tail of 10^-L_HALF, below 1.0
for any finite error. After a score reaches 0.5 the next `refractory` rows are halved: one
incident, one alarm.

Everything is vectorised over rows (`cumsum` windows, block medians every `hop` rows), about a
million rows a second on one core. `LikelihoodStream` takes the rows in chunks of any size and
carries the state over (running totals, the last rows, the refractory period): its scores equal
a whole-series run's, which is one chunk of it (`score_likelihood`). Constants were chosen on
NAB's development split and are reported leave-one-category-out by `evals.bench_nab`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tools.anomaly.adaptive import detect_period
from tools.anomaly.stuck import StuckRuns

L_HALF = 5.0  # -log10 tail probability at which the score is 0.5 (HTM's 0.99999 likelihood)
LN10 = float(np.log(10.0))
REFRACTORY_DAMP = 0.5
DAY_S = 86400.0

# Numerical Recipes' erfc approximation (fractional error below 1.2e-7 everywhere), kept in log
# form so it never underflows: the scorer needs no scipy, which would cost a small CLI 0.2 s.
_ERFC = (-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398,
         1.48851587, -0.82215223, 0.17087277)


def log_upper_tail(z: np.ndarray) -> np.ndarray:
    """log P(Z > z) for a standard normal Z, elementwise (scipy's `log_ndtr(-z)`)."""
    x = np.abs(np.asarray(z, dtype=np.float64)) / np.sqrt(2.0)
    t = 1.0 / (1.0 + 0.5 * x)
    poly = np.zeros_like(t)
    for c in reversed(_ERFC):
        poly = poly * t + c
    log_erfc = np.log(t) - x * x + poly  # log erfc(|z| / sqrt 2)
    upper = np.log(0.5) + log_erfc  # the tail beyond |z|
    # Below the mean the upper tail is 1 - (the tail beyond |z|).
    return np.where(np.asarray(z) >= 0, upper, np.log1p(-np.exp(upper)))


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
    weekly: bool = True  # also a weekly predictor (7 `season`s) once two weeks are there
    learn_at: int = 500  # without a clock: the row a cycle in samples is learned at (0: never)
    stuck: bool = True  # also the evidence of a run of repeated values (`tools.anomaly.stuck`)


def season_rows(timestamps: np.ndarray, clock: bool) -> int:
    """A day in rows, from the median step (0 without a clock or with a step of a day+)."""
    if not clock or len(timestamps) < 2:
        return 0
    return season_for_step(float(np.median(np.diff(timestamps))))


def season_for_step(step: float) -> int:
    """A day in rows for a sampling step in seconds (0 for a step of half a day or more)."""
    return int(round(DAY_S / step)) if 0 < step < DAY_S / 2 else 0


class _Trailing:
    """Trailing sums of a[t - width + 1 .. t] over a stream fed in chunks, equal to a whole-array
    cumsum's: the running total is carried (numpy's cumsum adds in order), as are the last
    `width` cumulative sums."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.done = 0  # rows seen
        self.cum = np.zeros(1)  # cumulative sums C[max(0, done - width) .. done]

    def sums(self, a: np.ndarray) -> np.ndarray:
        m = len(a)
        c = np.concatenate((self.cum, np.cumsum(np.concatenate((self.cum[-1:], a)))[1:]))
        base = self.done - (len(self.cum) - 1)  # global index of c[0]
        t1 = np.arange(self.done + 1, self.done + m + 1)
        out = c[t1 - base] - c[np.maximum(t1 - self.width, 0) - base]
        self.done += m
        self.cum = c[-min(self.width + 1, len(c)):]
        return out

    def means(self, a: np.ndarray) -> np.ndarray:
        start = self.done
        return self.sums(a) / np.minimum(np.arange(start + 1, start + len(a) + 1), self.width)


def _block_medians(x: np.ndarray, starts: np.ndarray, base: int, window: int) -> np.ndarray:
    """np.median(x[max(0, s - window) - base : s - base]) for each global block start s."""
    out = np.empty(len(starts))
    full = starts >= window
    for j in np.flatnonzero(~full):  # the first blocks, before a whole window is there
        out[j] = np.median(x[:starts[j] - base])
    if full.any():
        view = np.lib.stride_tricks.sliding_window_view(x, window)
        out[full] = np.median(view[starts[full] - window - base], axis=1)
    return out


class _ErrorTail:
    """-log10 of the Gaussian upper tail of the (short-averaged) error against earlier errors,
    streamed: the error-average, its `short`-row delay line and the error history's sums."""

    def __init__(self, cfg: LikelihoodConfig, start: int = 0) -> None:
        self.cfg = cfg
        self.start = start  # the first row fed (a cycle learned later starts later)
        self.avg = _Trailing(cfg.short)
        self.delay = np.zeros(cfg.short)
        self.s1 = _Trailing(cfg.long)
        self.s2 = _Trailing(cfg.long)
        self.typ = _Trailing(cfg.long)
        self.last_typ = 0.0

    def update(self, err: np.ndarray, floor: np.ndarray, t0: int) -> tuple[np.ndarray, np.ndarray]:
        """(tail, typical error before each row) for the rows t0 .. t0 + len(err)."""
        cfg = self.cfg
        m = len(err)
        avg = self.avg.means(err)
        joined = np.concatenate((self.delay, avg))
        hist, self.delay = joined[:m], joined[m:]
        cnt = np.clip(np.arange(t0, t0 + m) - self.start - cfg.short + 1, 0,
                      cfg.long).astype(float)
        mu = self.s1.sums(hist) / np.maximum(cnt, 1.0)
        var = np.maximum(self.s2.sums(hist * hist) / np.maximum(cnt, 1.0) - mu * mu, 0.0)
        z = (avg - mu) / np.maximum(np.sqrt(var), floor)
        # A tail of 1/2 (an error at its mean) is no evidence: L counts from there.
        tail = np.maximum(-(log_upper_tail(z) + np.log(2.0)) / LN10, 0.0)
        tm = self.typ.means(err)
        typical = np.concatenate(([self.last_typ], tm[:-1]))
        self.last_typ = float(tm[-1]) if m else self.last_typ
        if self.start:  # not trusted before it has a history of its own
            typical = np.where(cnt >= cfg.min_history, typical, np.inf)
        return np.where(cnt >= cfg.min_history, tail, 0.0), typical


class LikelihoodStream:
    """The detector over a series fed in chunks of any size, with its state carried over: the
    scores equal one whole-series run's. `rows` (the series' length) decides whether the seasonal
    predictor runs and `fill` (the first non-missing value) stands for the leading gap, as a
    whole-series run sees them."""

    def __init__(self, cfg: LikelihoodConfig, rows: int, fill: float) -> None:
        self.cfg = cfg
        self.dead = bool(np.isnan(fill))  # no value at all: every score is 0
        self.seasonal = cfg.season > 1 and cfg.season * 2 < rows
        self.periods = [cfg.season] if self.seasonal else []
        if self.seasonal and cfg.weekly and cfg.season * 7 * 2 < rows:
            self.periods.append(cfg.season * 7)
        # Without a clock a cycle in samples is learned at row `learn_at` (`detect_period`: at
        # most learn_at / 2.5 rows).
        learn = cfg.learn_at if cfg.season <= 1 else 0
        self.learned = -1 if learn else 0  # the learned cycle (-1: not learned yet)
        self.learned_errors: _ErrorTail | None = None
        self.keep = max([cfg.level_window, learn, learn * cfg.season_cycles // 2]
                        + [p * cfg.season_cycles for p in self.periods])
        self.done = 0
        self.last = fill
        self.tail = np.zeros(0)  # the last `keep` filled values
        self.abs = _Trailing(cfg.long)
        self.errors = [_ErrorTail(cfg) for _ in range(1 + len(self.periods))]
        self.level_now = np.nan  # the median of the block in progress
        self.until = -1  # the last row damped by an alarm
        self.stuck = StuckRuns() if cfg.stuck else None

    def update(self, values: np.ndarray) -> np.ndarray:
        """Scores in [0, 1) for the next rows (NaN rows: 0), causal."""
        cfg = self.cfg
        raw = np.asarray(values, dtype=float)
        m, t0 = len(raw), self.done
        if self.dead or m == 0:
            self.done += m
            return np.zeros(m)
        missing = np.isnan(raw)
        # Predictions see a gap as its last value; gap rows are not scored.
        idx = np.maximum.accumulate(np.where(~missing, np.arange(1, m + 1), 0))
        x = np.concatenate(([self.last], raw))[idx]
        self.last = float(x[-1])
        # Errors are measured in the series' scale at the time (its mean |value| over the last
        # `long` rows), so a series that grows or shrinks keeps a comparable error history.
        scale = np.maximum(self.abs.means(np.abs(x)), 1e-12)
        floor = np.maximum(cfg.rel_floor * scale, 1e-12) / scale
        hx = np.concatenate((self.tail, x))
        base = t0 - len(self.tail)  # global row of hx[0]
        rows = np.arange(t0, t0 + m)
        level = np.full(m, self.level_now)
        starts = np.arange(-(-t0 // cfg.hop) * cfg.hop, t0 + m, cfg.hop)
        starts = starts[starts > 0]
        if len(starts):
            meds = _block_medians(hx, starts, base, cfg.level_window)
            after = np.searchsorted(starts, rows, side="right") - 1
            level = np.where(after >= 0, meds[np.maximum(after, 0)], level)
            self.level_now = float(meds[-1])
        preds = [level]
        for period in self.periods:
            # Before a whole cycle is there a seasonal predictor falls back on the level, so its
            # error history starts as the level's, not as zeros.
            seasonal = _seasonal_rows(hx, base, rows, period, cfg.season_cycles)
            preds.append(np.where(np.isnan(seasonal), level, seasonal))
        tails, typical = [], []
        for p, et in zip(preds, self.errors, strict=True):
            tail, typ = et.update(np.abs(x - np.where(np.isnan(p), x, p)) / scale, floor, t0)
            tails.append(tail)
            typical.append(typ)
        if self.learned < 0 and t0 + m >= cfg.learn_at:
            self._learn(hx[:cfg.learn_at - base])  # base is 0 here: keep >= learn_at
        if self.learned_errors is not None and t0 + m > cfg.learn_at:
            tail, typ = self._learned_tail(hx, base, x, level, scale, floor, rows)
            tails.append(tail)
            typical.append(typ)
        pick = np.argmin(np.stack(typical), axis=0)  # ties (the start): the level
        big = np.stack(tails)[pick, np.arange(m)]
        if self.stuck is not None:
            runs = self.stuck.update(raw, level)
            big = np.maximum(big, np.where(rows >= cfg.min_history, runs, 0.0))
        big = np.where(missing, 0.0, np.maximum(big, 0.0))
        score = big / (big + L_HALF)
        if cfg.refractory > 0:
            score = self._refractory(score, t0)
        self.tail = hx[-self.keep:] if self.keep else np.zeros(0)
        self.done += m
        return score

    def _learn(self, first: np.ndarray) -> None:
        """The cycle in samples of the first `learn_at` rows (0: none)."""
        period = detect_period(first)
        self.learned = period if period > 1 else 0
        if self.learned:
            self.learned_errors = _ErrorTail(self.cfg, start=self.cfg.learn_at)

    def _learned_tail(self, hx: np.ndarray, base: int, x: np.ndarray, level: np.ndarray,
                      scale: np.ndarray, floor: np.ndarray,
                      rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(tail, typical error) of the learned cycle's predictor from row `learn_at` on, with
        an error history of its own (before: no evidence, never trusted)."""
        assert self.learned_errors is not None
        sel = rows >= self.cfg.learn_at
        seasonal = _seasonal_rows(hx, base, rows[sel], self.learned, self.cfg.season_cycles)
        pred = np.where(np.isnan(seasonal), level[sel], seasonal)
        err = np.abs(x[sel] - pred) / scale[sel]
        t, ty = self.learned_errors.update(err, floor[sel], int(rows[sel][0]))
        tail, typical = np.zeros(len(rows)), np.full(len(rows), np.inf)
        tail[sel], typical[sel] = t, ty
        return tail, typical

    def _refractory(self, score: np.ndarray, t0: int) -> np.ndarray:
        """Halve the `refractory` rows after each alarm (score >= 0.5 outside an earlier one's
        period); an alarm's period runs on into the next chunks."""
        damp = np.zeros(len(score), dtype=bool)
        if self.until >= t0:
            damp[:self.until - t0 + 1] = True
        for i in np.flatnonzero(score >= 0.5):  # alarms are rare: a loop over them is cheap
            if t0 + i <= self.until:
                continue
            self.until = t0 + int(i) + self.cfg.refractory
            damp[i + 1:self.until - t0 + 1] = True
        return np.where(damp, score * (1.0 - REFRACTORY_DAMP), score)


def _seasonal_rows(hx: np.ndarray, base: int, rows: np.ndarray, period: int,
                   cycles: int) -> np.ndarray:
    """For global rows t: the median of x[t - k period], k = 1..cycles (those that exist; NaN if
    none); hx holds x from global row `base` on."""
    m = len(rows)
    stack = np.full((cycles, m), np.inf)
    for k in range(1, cycles + 1):
        lag = rows - k * period
        ok = lag >= 0
        stack[k - 1, ok] = hx[lag[ok] - base]
    srt = np.sort(stack, axis=0)  # missing lags (inf) sort last
    cnt = np.isfinite(stack).sum(axis=0)
    cols = np.arange(m)
    lo = srt[np.maximum((cnt - 1) // 2, 0), cols]
    hi = srt[np.minimum(cnt // 2, cycles - 1), cols]
    return np.where(cnt > 0, 0.5 * (lo + hi), np.nan)


def score_likelihood(values: np.ndarray, cfg: LikelihoodConfig | None = None) -> np.ndarray:
    """Scores in [0, 1) for one series (NaN rows: 0), causal: row t's score uses rows <= t."""
    cfg = cfg or LikelihoodConfig()
    raw = np.asarray(values, dtype=float)
    ok = ~np.isnan(raw)
    fill = float(raw[int(np.argmax(ok))]) if ok.any() else np.nan
    return LikelihoodStream(cfg, len(raw), fill).update(raw)
