"""compare_to_baseline on synthetic series with known answers."""

import numpy as np
import pytest

from tools.anomaly.analysis import compare_to_baseline

STEP = 15
T0 = 1_000_000


def series(before: float, after: float, noise: float = 0.0, change_at: int = 2 * 3600,
           total: int = 3 * 3600, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    ts = np.arange(T0, T0 + total, STEP)
    vs = np.where(ts < T0 + change_at, before, after).astype(float)
    vs += np.random.default_rng(seed).normal(0, noise, len(ts))
    return ts, vs


def test_level_shift_is_anomalous_with_onset_and_numbers():
    ts, vs = series(1.0, 20.0, noise=0.1, change_at=2 * 3600 + 600)
    cmp = compare_to_baseline("error_rate", ts, vs, T0 + 2 * 3600, T0 + 3 * 3600)
    assert cmp is not None and cmp.anomalous
    assert cmp.direction == "up"
    assert cmp.current == pytest.approx(20.0, abs=0.2)
    assert cmp.baseline == pytest.approx(1.0, abs=0.1)
    assert cmp.since == T0 + 2 * 3600 + 600
    assert 0.9 < cmp.score <= 1.0


def test_noise_alone_is_not_anomalous():
    ts, vs = series(200.0, 200.0, noise=15.0)
    cmp = compare_to_baseline("latency_p99", ts, vs, T0 + 2 * 3600, T0 + 3 * 3600)
    assert cmp is not None and not cmp.anomalous and cmp.since is None


def test_small_absolute_change_is_ignored_even_when_relatively_large():
    # 0.1 % -> 0.3 % error rate triples, but stays under the metric's 1 % relevance floor.
    ts, vs = series(0.1, 0.3)
    cmp = compare_to_baseline("error_rate", ts, vs, T0 + 2 * 3600, T0 + 3 * 3600)
    assert cmp is not None and not cmp.anomalous


def test_good_direction_is_not_an_anomaly():
    ts, vs = series(300.0, 100.0)  # latency fell: good news, not an incident
    cmp = compare_to_baseline("latency_p99", ts, vs, T0 + 2 * 3600, T0 + 3 * 3600)
    assert cmp is not None and not cmp.anomalous and cmp.direction == "down"


def test_request_rate_drop_is_anomalous():
    ts, vs = series(100.0, 0.0)
    cmp = compare_to_baseline("request_rate", ts, vs, T0 + 2 * 3600, T0 + 3 * 3600)
    assert cmp is not None and cmp.anomalous and cmp.direction == "down"
    assert cmp.ratio == pytest.approx(0.0)


def test_alarm_level_counts_without_a_change():
    ts, vs = series(96.0, 97.0)  # a disk that was already nearly full an hour ago
    cmp = compare_to_baseline("disk", ts, vs, T0 + 2 * 3600, T0 + 3 * 3600)
    assert cmp is not None and cmp.anomalous and cmp.score >= 0.9


def test_expired_certificate_is_anomalous():
    ts, vs = series(0.05, -0.01, change_at=2 * 3600 + 300)
    cmp = compare_to_baseline("cert_expiry", ts, vs, T0 + 2 * 3600, T0 + 3 * 3600)
    assert cmp is not None and cmp.anomalous and cmp.direction == "down"


def test_empty_window_and_nan_values():
    ts, vs = series(1.0, 1.0)
    assert compare_to_baseline("cpu", ts, vs, T0 + 10 * 3600, T0 + 11 * 3600) is None
    vs[-10:] = np.nan
    cmp = compare_to_baseline("cpu", ts, vs, T0 + 2 * 3600, T0 + 3 * 3600)
    assert cmp is not None and np.isfinite(cmp.current)


def test_window_at_start_of_data_uses_its_own_first_points():
    ts, vs = series(10.0, 10.0, noise=0.5)
    cmp = compare_to_baseline("cpu", ts, vs, T0, T0 + 1800)
    assert cmp is not None and not cmp.anomalous
