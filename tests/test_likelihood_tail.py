"""The likelihood scorer's normal tail, computed without scipy, against scipy's own."""

from __future__ import annotations

import numpy as np
from scipy.special import log_ndtr

from tools.anomaly.likelihood import log_upper_tail


def test_tail_matches_scipy_from_below_the_mean_to_far_beyond_underflow() -> None:
    z = np.concatenate([np.linspace(-8.0, 40.0, 20001), [0.0, 1e-12, -1e-12, 100.0, 300.0]])
    ours, theirs = log_upper_tail(z), log_ndtr(-z)
    assert np.all(np.isfinite(ours))  # exp(-z^2/2) underflows at z ~ 38; the log form does not
    assert np.max(np.abs(ours - theirs) / np.maximum(np.abs(theirs), 1e-12)) < 2e-7
    assert abs(log_upper_tail(np.array([0.0]))[0] - np.log(0.5)) < 1e-7
