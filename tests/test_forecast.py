"""Capacity forecasts: time to saturation with a band, resets and flat series."""

from __future__ import annotations

import numpy as np
import pytest

from tools.anomaly.forecast import forecast_recent, forecast_saturation
from tools.sandbox.simulator import load_sandbox


def test_linear_growth_gives_eta_inside_its_band():
    ts = np.arange(0, 3600, 15.0)
    vs = 50 + 10 * ts / 3600 + np.random.default_rng(0).normal(0, 0.3, len(ts))
    f = forecast_saturation(ts, vs, capacity=100.0)
    assert f is not None and f.eta_s is not None
    assert f.eta_s == pytest.approx(4 * 3600, rel=0.1)
    assert f.eta_low_s is not None and f.eta_high_s is not None
    assert f.eta_low_s <= f.eta_s <= f.eta_high_s


def test_flat_or_falling_series_never_saturates_and_few_points_are_none():
    ts = np.arange(0, 3600, 15.0)
    flat = forecast_saturation(ts, 60 - ts / 3600, capacity=100.0)
    assert flat is not None and flat.eta_s is None
    assert forecast_saturation(ts[:3], np.ones(3), 10.0) is None
    full = forecast_saturation(ts, np.full(len(ts), 100.0), capacity=100.0)
    assert full is not None and full.saturated and full.eta_s == 0.0


def test_memory_leak_of_the_sandbox_is_forecast_from_its_last_restart():
    sb = load_sandbox("memory-leak-cart")
    fault = sb.scenario.faults[0]
    ts, vs = sb.series("cart", "memory", fault.start - 1800, fault.start + 1200)
    f = forecast_saturation(ts, vs, capacity=1024.0, window_s=1800)
    assert f is not None and f.eta_s is not None
    assert f.slope_per_hour == pytest.approx(2400, rel=0.2)  # 40 MB a minute


def test_a_pool_full_for_ten_minutes_is_at_its_limit_since_then_not_about_to_fill():
    # fills over 20 min, then sits at its limit of 20 for 10 min (the case that once answered
    # "17.3 of 20.0, reaches the limit in about 5 min" beside "20.0 now")
    ts = np.arange(0, 1800, 15.0)
    vs = np.minimum(20.0, 5 + 15 * ts / 1200)
    f = forecast_recent(ts, vs, capacity=20.0)
    assert f is not None and f.saturated
    assert f.observed == 20.0 and f.eta_s == 0.0
    assert f.full_since == pytest.approx(1200, abs=15)
    rising = forecast_recent(ts[:60], vs[:60], capacity=20.0)  # before it filled: an ETA, not full
    assert rising is not None and rising.full_since is None and rising.eta_s
    assert rising.observed == pytest.approx(vs[59])
