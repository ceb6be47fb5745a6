"""The robust online detector: a causal rolling median/MAD baseline, a time-of-day profile, CUSUM.

`score_series(values, config)` scores many series at once (rows of a 2-D array, one column per
sample) in one causal pass: the baseline used for sample t is computed from samples before the
block containing t, so a score never looks ahead. Per block of `hop` samples:

1. the seasonal shape (median per phase over the last complete cycles, each cycle centred on its
   own median) is taken out, once at least `season_min_cycles` cycles have been seen;
2. level and spread are the median and 1.4826 x MAD of the last `window` samples, leaving out
   samples already judged anomalous (unless most of the window is: then the new level is
   accepted as normal), with a linear trend term when the two halves of the window differ clearly;
3. a deviation counts in units of `thr = max(z_threshold * spread, min_change,
   rel_floor * |level|)`, so `v = 1` is the calibrated threshold; the point score is
   `v^2 / (1 + v^2)` (0.5 at the threshold) and a two-sided CUSUM on `v` catches sustained shifts
   just under it (never ones under the magnitude floors).

Missing values (NaN) get score 0 and are left out of every baseline.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from tools.anomaly.changepoint import cusum_block

THRESHOLD = 0.5  # a score at or above this is anomalous: it means v >= 1


@dataclass(frozen=True)
class RobustConfig:
    window: int = 240  # samples in the rolling baseline (1 h at a 15 s step)
    hop: int = 20  # the baseline is recomputed every `hop` samples
    min_history: int = 20  # fewer valid samples before t: score 0 (warming up)
    z_threshold: float = 6.0  # robust z at which the point score is 0.5 (calibrated by `fit`)
    rel_floor: float = 0.0  # a change smaller than this share of the level is never anomalous
    sigma_rel_floor: float = 0.002  # spread is at least this share of |level| (constant series)
    relearn_share: float = 0.8  # more of the window than this anomalous: accept the new level
    relearn_after: int = 0  # > 0: this many anomalous samples in a row start a new baseline
    min_hop: int = 1  # `config_for`: the baseline is recomputed at most every this many samples
    trend: bool = True
    season: float = 0  # cycle length in timestamp units (samples without timestamps), 0: off
    season_buckets: int = 96  # phases per cycle (15-minute buckets of a day)
    season_min_cycles: int = 2
    season_max_cycles: int = 7
    cusum_k: float = 0.6  # CUSUM allowance, in threshold units
    cusum_h: float = 4.0  # CUSUM alarm level, in threshold units

    def to_dict(self) -> dict[str, float | int | bool]:
        return asdict(self)


@dataclass
class RobustScores:
    """Per sample (same shape as the input): score in [0, 1], the baseline level it was judged
    against, the threshold distance, the deviation in threshold units and the CUSUM states."""

    score: np.ndarray
    level: np.ndarray
    thr: np.ndarray
    v: np.ndarray
    cusum_up: np.ndarray
    cusum_down: np.ndarray

    @property
    def flagged(self) -> np.ndarray:
        return self.score >= THRESHOLD

    def row(self, i: int) -> RobustScores:
        """The scores of one series of a matrix result."""
        return RobustScores(self.score[i], self.level[i], self.thr[i], self.v[i],
                            self.cusum_up[i], self.cusum_down[i])


def _take(sorted_rows: np.ndarray, idx: np.ndarray) -> np.ndarray:
    return sorted_rows[np.arange(len(idx)), idx]


def nan_median_rows(a: np.ndarray) -> np.ndarray:
    """Median of each row ignoring NaN (NaN for an all-NaN row); faster than np.nanmedian."""
    width = a.shape[1]
    if width == 0:
        return np.full(a.shape[0], np.nan)
    s = np.sort(a, axis=1)  # NaN sorts last
    if not np.isnan(s[:, -1]).any():  # no NaN at all: the middle column(s)
        return 0.5 * (s[:, (width - 1) // 2] + s[:, width // 2])
    n = width - np.isnan(s).sum(axis=1)
    lo = np.maximum((n - 1) // 2, 0)
    hi = np.minimum(np.maximum(n // 2, 0), width - 1)
    med = 0.5 * (_take(s, lo) + _take(s, hi))
    med[n == 0] = np.nan
    return med


def _spread(hist: np.ndarray, level: np.ndarray) -> np.ndarray:
    """1.4826 x MAD per row; where the MAD is 0 (quantised or mostly constant data) the mean
    absolute deviation x 1.2533 instead, so a few distinct values still give a spread."""
    dev = np.abs(hist - level[:, None])
    mad = nan_median_rows(dev)
    if dev.shape[1] == 0 or np.all(mad > 0):
        return 1.4826 * mad
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = ~np.isnan(dev)
        mean_ad = np.where(ok, dev, 0.0).sum(axis=1) / np.maximum(ok.sum(axis=1), 1)
    return np.where(mad > 0, 1.4826 * mad, 1.2533 * mean_ad)


class _Season:
    """Per-phase means of the samples of each complete cycle, each cycle centred on its
    own median and its trend ramp (from the last cycle's level) taken out; the profile is the
    median of the last cycles' shapes. Phases come from the
    timestamps, so irregular sampling and dropped samples keep their place in the cycle."""

    def __init__(self, n: int, period: float, cfg: RobustConfig) -> None:
        self.period = period
        self.buckets = cfg.season_buckets
        self.cfg = cfg
        self.sums = np.zeros((n, self.buckets))
        self.counts = np.zeros((n, self.buckets))
        self.cycle: int | None = None
        self.shapes: list[np.ndarray] = []
        self.profile: np.ndarray | None = None  # (n, buckets)
        self.last_level: np.ndarray | None = None  # the level of the last whole cycle
        self.last_cycle: int | None = None

    def bucket(self, ts: np.ndarray) -> np.ndarray:
        phase = np.mod(ts, self.period) / self.period
        return np.minimum((phase * self.buckets).astype(int), self.buckets - 1)

    def add_block(self, ts: np.ndarray, normal: np.ndarray) -> None:
        """Add a block's samples (NaN where missing); a new cycle closes the last."""
        cycles = (ts // self.period).astype(np.int64)
        if cycles[0] != cycles[-1]:  # the block crosses a cycle boundary: each part in its own
            cut = int(np.searchsorted(cycles, cycles[-1]))
            self.add_block(ts[:cut], normal[:, :cut])
            self.add_block(ts[cut:], normal[:, cut:])
            return
        cycle = int(cycles[0])
        if self.cycle is not None and cycle != self.cycle:
            self._close()
        self.cycle = cycle
        ok = ~np.isnan(normal)
        idx = self.bucket(ts)
        for j in (idx[:1] if idx[0] == idx[-1] and np.all(idx == idx[0]) else np.unique(idx)):
            cols = idx == j
            self.sums[:, j] += np.where(ok[:, cols], normal[:, cols], 0.0).sum(axis=1)
            self.counts[:, j] += ok[:, cols].sum(axis=1)

    def _close(self) -> None:
        with np.errstate(invalid="ignore", divide="ignore"):
            cells = np.where(self.counts > 0, self.sums / self.counts, np.nan)
        filled = (self.counts > 0).mean()
        if filled >= 0.8:  # a partial first or last cycle says little about the shape
            level = nan_median_rows(cells)
            shape = cells - level[:, None]
            after_last = (self.cycle is not None and self.last_cycle is not None
                          and self.last_cycle == self.cycle - 1)
            if self.last_level is not None and after_last:
                # A trend moves each cycle's level: take its ramp out of the shape, or the
                # profile becomes a saw-tooth that steps at every cycle boundary.
                ramp = (level - self.last_level) / self.buckets
                shape -= np.nan_to_num(ramp)[:, None] * (np.arange(self.buckets)
                                                         - (self.buckets - 1) / 2)[None, :]
            self.last_level, self.last_cycle = level, self.cycle
            self.shapes = [*self.shapes, shape][-self.cfg.season_max_cycles:]
        if len(self.shapes) >= self.cfg.season_min_cycles:
            stack = np.stack(self.shapes, axis=2)  # (n, buckets, cycles)
            flat = stack.reshape(-1, stack.shape[2])
            self.profile = np.nan_to_num(nan_median_rows(flat)).reshape(stack.shape[:2])
        self.sums[:] = 0.0
        self.counts[:] = 0.0

    def shape_at(self, ts: np.ndarray) -> np.ndarray | None:
        """The seasonal shape at each timestamp (None: no profile yet)."""
        if self.profile is None:
            return None
        return self.profile[:, self.bucket(ts)]


def _trend_level(hist: np.ndarray, level: np.ndarray, spread: np.ndarray,
                 offsets: np.ndarray) -> np.ndarray:
    """Level at each offset (samples after the window's end), following a clear linear trend.

    The window's thirds must move the same way by similar amounts (a step inside the window is
    not a trend) and by well more than the noise of their medians."""
    third = hist.shape[1] // 3
    if third < 10:
        return np.broadcast_to(level[:, None], (len(level), len(offsets)))
    m1 = nan_median_rows(hist[:, :third])
    m2 = nan_median_rows(hist[:, third:2 * third])
    m3 = nan_median_rows(hist[:, 2 * third:3 * third])
    d1, d2 = m2 - m1, m3 - m2
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = d2 / d1
    clear = ((ratio > 0.5) & (ratio < 2.0)
             & (np.abs(m3 - m1) > 4.0 * spread / np.sqrt(third)))
    slope = np.where(clear & np.isfinite(d1 + d2), (m3 - m1) / (2 * third), 0.0)
    base = np.where(clear, m3, level)
    # m3 is the level in the middle of the last third: extrapolate from there.
    ahead = hist.shape[1] - (2.5 * third)
    return base[:, None] + slope[:, None] * (ahead + offsets[None, :])


def _trailing_run(flags: np.ndarray) -> np.ndarray:
    """Per row: how many of the last columns are all True."""
    clear = ~flags[:, ::-1]
    return np.where(clear.any(axis=1), clear.argmax(axis=1), flags.shape[1])


def score_series(values: np.ndarray, config: RobustConfig | None = None,
                 min_change: np.ndarray | float = 0.0,
                 timestamps: np.ndarray | None = None) -> RobustScores:
    """Score every sample of every row of `values` (shape (n, T) or (T,)) causally.

    `min_change` (per row or one number, in the series' unit) is the smallest change that may be
    anomalous whatever the noise. `timestamps` (T,) place samples in the seasonal cycle; without
    them the sample index does.
    """
    cfg = config or RobustConfig()
    x = np.asarray(values, dtype=float)
    one = x.ndim == 1
    if one:
        x = x[None, :]
    n, t_len = x.shape
    floor = np.broadcast_to(np.asarray(min_change, dtype=float), (n,)).copy()
    score = np.zeros((n, t_len))
    level_out = np.full((n, t_len), np.nan)
    thr_out = np.full((n, t_len), np.nan)
    v_out = np.zeros((n, t_len))
    up = np.zeros((n, t_len))
    down = np.zeros((n, t_len))
    flagged = np.zeros((n, t_len), dtype=bool)
    hop = max(1, cfg.hop)
    ts = (np.arange(t_len, dtype=float) if timestamps is None
          else np.asarray(timestamps, dtype=float))
    season = _Season(n, float(cfg.season), cfg) if cfg.season > 0 else None
    s_up = np.zeros(n)
    s_down = np.zeros(n)
    regime = np.zeros(n, dtype=int)  # first sample of each row's current regime
    for s in range(0, t_len, hop):
        e = min(s + hop, t_len)
        lo = max(0, s - cfg.window)
        cur = x[:, s:e]
        shape_cur = season.shape_at(ts[s:e]) if season else None
        if s - lo > 0:
            hist = x[:, lo:s].copy()
            if shape_cur is not None:
                shape_hist = season.shape_at(ts[lo:s]) if season else None
                assert shape_hist is not None
                hist -= shape_hist
            if cfg.relearn_after > 0:
                # The series moved and stayed there for `relearn_after` samples: a new regime,
                # not a long anomaly. Its samples become normal and the baseline starts there.
                run = _trailing_run(flagged[:, lo:s])
                moved = run >= cfg.relearn_after
                if moved.any():
                    regime = np.where(moved, s - run, regime)
                    for i in np.flatnonzero(moved):
                        flagged[i, regime[i]:s] = False
                    s_up = np.where(moved, 0.0, s_up)
                    s_down = np.where(moved, 0.0, s_down)
                hist[np.arange(lo, s)[None, :] < regime[:, None]] = np.nan
            masked = np.where(flagged[:, lo:s], np.nan, hist)
            valid = (~np.isnan(masked)).sum(axis=1)
            relearn = valid < (1.0 - cfg.relearn_share) * (~np.isnan(hist)).sum(axis=1)
            use = np.where(relearn[:, None], hist, masked)
            level = nan_median_rows(use)
            spread = _spread(use, level)
            n_valid = (~np.isnan(use)).sum(axis=1)
            offsets = np.arange(e - s, dtype=float)
            lvl = _trend_level(use, level, spread, offsets) if cfg.trend else (
                np.broadcast_to(level[:, None], cur.shape))
        else:
            level = np.full(n, np.nan)
            spread = np.zeros(n)
            n_valid = np.zeros(n, dtype=int)
            lvl = np.full(cur.shape, np.nan)
        if shape_cur is not None:
            lvl = lvl + shape_cur
        abs_level = np.where(np.isnan(level), 0.0, np.abs(level))
        sigma = np.maximum(spread, cfg.sigma_rel_floor * abs_level)
        thr = np.maximum.reduce([cfg.z_threshold * sigma, floor, cfg.rel_floor * abs_level,
                                 np.full(n, 1e-12)])
        ready = (n_valid >= cfg.min_history)[:, None] & ~np.isnan(cur) & ~np.isnan(lvl)
        v = np.where(ready, (cur - np.where(ready, lvl, 0.0)) / thr[:, None], 0.0)
        # Only changes at least as big as the magnitude floor may build up the CUSUM, so a
        # sustained change under the floor is never anomalous either.
        magnitude = np.maximum(floor, cfg.rel_floor * abs_level)[:, None]
        big = ready & (np.abs(v) * thr[:, None] >= magnitude)
        bu, bd, s_up, s_down = cusum_block(v, s_up, s_down, cfg.cusum_k, cfg.cusum_h, big)
        point = v * v / (1.0 + v * v)
        cu = np.maximum(bu, bd) / cfg.cusum_h
        blk = np.where(ready, np.maximum(point, cu * cu / (1.0 + cu * cu)), 0.0)
        score[:, s:e] = blk
        flagged[:, s:e] = blk >= THRESHOLD
        level_out[:, s:e] = lvl
        thr_out[:, s:e] = thr[:, None]
        v_out[:, s:e] = v
        up[:, s:e], down[:, s:e] = bu, bd
        if season is not None:
            # Every sample counts here (anomalous ones too): leaving out the first hours after
            # a daily step would leave the step out of the profile forever. The median over
            # cycles keeps one bad day from shaping it.
            season.add_block(ts[s:e], cur)
    out = RobustScores(score, level_out, thr_out, v_out, up, down)
    return out.row(0) if one else out
