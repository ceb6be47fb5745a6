"""Capacity forecasts: when will a disk, memory or connection pool reach its limit?

A robust straight line (Theil-Sen, scipy) through the recent window, started after the last
reset (a drop of more than a third of the window's range: a restart, a cleanup), gives the
growth rate; its 90 % confidence interval gives the band: the earliest saturation time from the
steepest plausible slope, the latest from the flattest (none when that one is not rising).

`forecast_recent` fits the long window (6 h: a steady trend, such as a disk filling by a few
per cent a day) unless growth clearly sped up within the last hour (a runaway: a log storm, a
leak): then only the points since it began count. "Clearly" is two straight lines fitting far
better than one, the later steeper, so noise does not shorten a calm forecast. Right after a
reset (a restart) too few points remain and there is no forecast yet.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

MIN_POINTS = 8
SPLIT_F = 30.0  # how much better two lines must fit than one to call a new regime
Z90 = 1.645


@dataclass(frozen=True)
class CapacityForecast:
    level: float  # the fitted value now
    capacity: float
    slope_per_hour: float
    eta_s: float | None  # seconds from the last sample until the limit, None: not rising
    eta_low_s: float | None  # earliest plausible
    eta_high_s: float | None  # latest plausible, None: may never saturate
    points: int
    slope_low_per_hour: float = 0.0  # the slope's 90 % interval
    slope_high_per_hour: float = 0.0
    window_s: float = 0.0  # the window the line was fitted on
    observed: float | None = None  # the last sample, as other answers quote "now"
    full_since: float | None = None  # the samples have sat at the limit since then

    @property
    def saturated(self) -> bool:
        return self.full_since is not None or self.level >= self.capacity


def _after_last_reset(ts: np.ndarray, vs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The points after the last reset (a drop of over a third of the range). Right after a
    restart that leaves too few points to forecast from, which is the honest answer."""
    span = float(np.ptp(vs)) if len(vs) else 0.0
    drops = np.flatnonzero(np.diff(vs) < -span / 3.0) if span > 0 else np.array([], int)
    if drops.size:
        cut = drops[-1] + 1
        return ts[cut:], vs[cut:]
    return ts, vs


def _regime_start(ts: np.ndarray, vs: np.ndarray, min_points: int = 5) -> int:
    """Where the current growth began: the split into two straight lines that fits far better
    than one line (an F ratio over `SPLIT_F`), when the later line rises faster; else 0.
    Least squares on both sides for every split at once, from cumulative sums."""
    n = len(ts)
    if n < 2 * min_points:
        return 0
    x = (ts - ts[0]) / max(float(ts[-1] - ts[0]), 1.0)
    y = vs - float(np.mean(vs))

    def sse_prefix(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        k = np.arange(1, len(x) + 1, dtype=float)
        sx, sy = np.cumsum(x), np.cumsum(y)
        sxx, sxy, syy = np.cumsum(x * x), np.cumsum(x * y), np.cumsum(y * y)
        vx = sxx - sx * sx / k
        cxy = sxy - sx * sy / k
        slope = np.divide(cxy, vx, out=np.zeros_like(vx), where=vx > 1e-12)
        return np.maximum(syy - sy * sy / k - slope * cxy, 0.0), slope

    sse_left, slope_left = sse_prefix(x, y)
    sse_right_rev, slope_right_rev = sse_prefix(x[::-1], y[::-1])
    sse_right, slope_right = sse_right_rev[::-1], slope_right_rev[::-1]
    splits = np.arange(min_points, n - min_points + 1)  # right part starts at b
    total = sse_left[splits - 1] + sse_right[splits]
    best = int(np.argmin(total))
    b, split_sse, one_sse = int(splits[best]), float(total[best]), float(sse_left[-1])
    f_ratio = (one_sse - split_sse) / 2.0 / max(split_sse / (n - 4), 1e-12)
    faster = slope_right[b] > max(2.0 * slope_left[b - 1], 0.0)
    return b if f_ratio > SPLIT_F and faster else 0


def _eta(level: float, capacity: float, slope: float) -> float | None:
    if level >= capacity:
        return 0.0
    if slope <= 0:
        return None
    return (capacity - level) / slope


def forecast_saturation(timestamps: np.ndarray, values: np.ndarray, capacity: float,
                        window_s: float = 3600.0, max_points: int = 400,
                        min_points: int = MIN_POINTS) -> CapacityForecast | None:
    """Forecast from the last `window_s` of data; None with fewer than `min_points` valid
    points. The band combines the slope's 90 % interval with the scatter around the line."""
    from scipy.stats import theilslopes

    ts = np.asarray(timestamps, dtype=float)
    vs = np.asarray(values, dtype=float)
    ok = np.isfinite(ts) & np.isfinite(vs)
    ts, vs = ts[ok], vs[ok]
    if len(ts) < min_points:
        return None
    keep = ts >= ts[-1] - window_s
    ts, vs = _after_last_reset(ts[keep], vs[keep])
    if len(ts) < min_points:
        return None
    if len(ts) > max_points:  # Theil-Sen is quadratic in the number of points
        pick = np.linspace(0, len(ts) - 1, max_points).astype(int)
        ts, vs = ts[pick], vs[pick]
    t0 = ts[-1]
    slope, intercept, lo, hi = theilslopes(vs, ts - t0, alpha=0.90)
    level = float(intercept)
    resid = vs - (intercept + slope * (ts - t0))
    spread = Z90 * 1.4826 * float(np.median(np.abs(resid - np.median(resid))))
    return CapacityForecast(
        level=level, capacity=float(capacity), slope_per_hour=float(slope) * 3600.0,
        eta_s=_eta(level, capacity, float(slope)),
        eta_low_s=_eta(level + spread, capacity, float(hi)),
        eta_high_s=_eta(level - spread, capacity, float(lo)), points=len(ts),
        slope_low_per_hour=float(lo) * 3600.0, slope_high_per_hour=float(hi) * 3600.0,
        window_s=float(window_s))


REGIME_S, LONG_S = 3600.0, 6 * 3600.0


def forecast_recent(timestamps: np.ndarray, values: np.ndarray, capacity: float
                    ) -> CapacityForecast | None:
    """The long window's forecast, or the current regime's when growth clearly sped up in the
    last hour (two lines fit far better than one, the later one steeper)."""
    ts = np.asarray(timestamps, dtype=float)
    vs = np.asarray(values, dtype=float)
    ok = np.isfinite(ts) & np.isfinite(vs)
    ts, vs = ts[ok], vs[ok]
    if len(ts) == 0:
        return None
    full = _full_since(ts, vs, capacity)
    if full is not None:  # already at the limit: no line to extrapolate, say since when
        return CapacityForecast(level=float(vs[-1]), capacity=float(capacity),
                                slope_per_hour=0.0, eta_s=0.0, eta_low_s=0.0, eta_high_s=0.0,
                                points=len(ts), observed=float(vs[-1]), full_since=full)
    recent = ts >= ts[-1] - REGIME_S
    rt, rv = _after_last_reset(ts[recent], vs[recent])
    b = _regime_start(rt, rv)
    if b > 0:
        span = float(rt[-1] - rt[b]) + 1.0
        fitted = forecast_saturation(rt[b:], rv[b:], capacity, span, min_points=5)
    else:
        fitted = forecast_saturation(ts, vs, capacity, LONG_S)
    return replace(fitted, observed=float(vs[-1])) if fitted is not None else None


AT_LIMIT = 0.005  # within half a percent of the limit counts as at it (gauges jitter)


def _full_since(ts: np.ndarray, vs: np.ndarray, capacity: float) -> float | None:
    """When the trailing run of samples at the limit began, if the last two samples are in it."""
    at = vs >= capacity * (1.0 - AT_LIMIT)
    if len(at) < 2 or not (at[-1] and at[-2]):
        return None
    below = np.flatnonzero(~at)
    return float(ts[below[-1] + 1]) if below.size else float(ts[0])
