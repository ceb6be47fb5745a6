"""Capacity forecasts: when will a disk, memory or connection pool reach its limit?

A robust straight line (Theil-Sen, scipy) through the recent window, started after the last
reset (a drop of more than a third of the window's range: a restart, a cleanup), gives the
growth rate; its 90 % confidence interval gives the band: the earliest saturation time from the
steepest plausible slope, the latest from the flattest (none when that one is not rising).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_POINTS = 8


@dataclass(frozen=True)
class CapacityForecast:
    level: float  # the fitted value now
    capacity: float
    slope_per_hour: float
    eta_s: float | None  # seconds from the last sample until the limit, None: not rising
    eta_low_s: float | None  # earliest plausible
    eta_high_s: float | None  # latest plausible, None: may never saturate
    points: int

    @property
    def saturated(self) -> bool:
        return self.level >= self.capacity


def _after_last_reset(ts: np.ndarray, vs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    span = float(np.ptp(vs)) if len(vs) else 0.0
    drops = np.flatnonzero(np.diff(vs) < -span / 3.0) if span > 0 else np.array([], int)
    if drops.size and len(vs) - (drops[-1] + 1) >= MIN_POINTS:
        cut = drops[-1] + 1
        return ts[cut:], vs[cut:]
    return ts, vs


def _eta(level: float, capacity: float, slope: float) -> float | None:
    if level >= capacity:
        return 0.0
    if slope <= 0:
        return None
    return (capacity - level) / slope


def forecast_saturation(timestamps: np.ndarray, values: np.ndarray, capacity: float,
                        window_s: float = 3600.0, max_points: int = 400
                        ) -> CapacityForecast | None:
    """Forecast from the last `window_s` of data; None with fewer than MIN_POINTS valid points."""
    from scipy.stats import theilslopes

    ts = np.asarray(timestamps, dtype=float)
    vs = np.asarray(values, dtype=float)
    ok = np.isfinite(ts) & np.isfinite(vs)
    ts, vs = ts[ok], vs[ok]
    if len(ts) < MIN_POINTS:
        return None
    keep = ts >= ts[-1] - window_s
    ts, vs = _after_last_reset(ts[keep], vs[keep])
    if len(ts) < MIN_POINTS:
        return None
    if len(ts) > max_points:  # Theil-Sen is quadratic in the number of points
        pick = np.linspace(0, len(ts) - 1, max_points).astype(int)
        ts, vs = ts[pick], vs[pick]
    t0 = ts[-1]
    slope, intercept, lo, hi = theilslopes(vs, ts - t0, alpha=0.90)
    level = float(intercept)
    return CapacityForecast(
        level=level, capacity=float(capacity), slope_per_hour=float(slope) * 3600.0,
        eta_s=_eta(level, capacity, float(slope)), eta_low_s=_eta(level, capacity, float(hi)),
        eta_high_s=_eta(level, capacity, float(lo)), points=len(ts))
