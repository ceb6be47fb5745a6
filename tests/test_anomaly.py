"""The robust detector, CUSUM and events: causality, bad data, and faults of the sandbox."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tools.anomaly.changepoint import cusum_block
from tools.anomaly.events import extract_events
from tools.anomaly.robust import RobustConfig, nan_median_rows, score_series
from tools.anomaly.suite import SuiteScore, fault_suite, sandbox_config, score_sandbox
from tools.sandbox.simulator import simulate


def _noise(n: int = 2000, seed: int = 0, level: float = 100.0) -> np.ndarray:
    return level + np.random.default_rng(seed).standard_normal(n)


def test_nan_median_rows_matches_numpy():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((50, 31))
    a[rng.random(a.shape) < 0.2] = np.nan
    a[3] = np.nan
    got = nan_median_rows(a)
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        want = np.nanmedian(a, axis=1)
    np.testing.assert_allclose(got, want, equal_nan=True)


def test_scores_are_causal():
    x = _noise()
    x[1500:1600] += 20
    full = score_series(x).score
    prefix = score_series(x[:1550]).score
    np.testing.assert_array_equal(full[:1550], prefix)


def test_level_shift_is_found_at_once_with_direction_and_magnitude():
    x = _noise()
    x[1200:1400] -= 15
    ts = np.arange(len(x)) * 15
    scores = score_series(x)
    assert scores.score[:1200][100:].max() < 0.5
    events = extract_events(ts, x, scores)
    assert len(events) >= 1
    first = events[0]
    assert 1200 <= first.alarm_index <= 1202
    assert first.direction == "down"
    assert first.magnitude == pytest.approx(-15, abs=4)
    assert first.start <= first.alarm


def test_rows_are_scored_independently():
    a, b = _noise(seed=2), _noise(seed=3, level=5.0)
    b[900:950] += 10
    both = score_series(np.stack([a, b]))
    np.testing.assert_allclose(both.score[1], score_series(b).score)
    np.testing.assert_allclose(both.score[0], score_series(a).score)


def test_bad_data_gives_defined_scores():
    constant = np.full(500, 7.0)
    assert score_series(constant).score.max() == 0.0
    short = np.array([1.0, 2.0, 3.0])
    assert score_series(short).score.tolist() == [0.0, 0.0, 0.0]
    gappy = _noise(800)
    gappy[100:300] = np.nan
    scores = score_series(gappy)
    assert np.isfinite(scores.score).all()
    assert scores.score[100:300].max() == 0.0
    assert scores.score.min() >= 0.0 and scores.score.max() <= 1.0
    empty = score_series(np.zeros(0))
    assert empty.score.shape == (0,)


def test_spike_counts_only_when_strong_or_repeated():
    x = _noise(seed=5)
    x[1000] += 40  # 40 sigma: an event on its own
    ts = np.arange(len(x))
    events = extract_events(ts, x, score_series(x))
    assert [e.alarm_index for e in events] == [1000]


def test_min_change_floor_hides_small_real_changes():
    x = _noise(seed=6)
    x[1000:] += 6  # 6 sigma, sustained, but below a floor of 10 units
    assert score_series(x, min_change=10.0).score[1000:].max() < 0.5
    assert score_series(x).score[1000:1010].max() >= 0.5


def test_seasonal_profile_learns_a_daily_step():
    rng = np.random.default_rng(7)
    ts = np.arange(0, 5 * 86400, 300.0)
    hour = (ts % 86400) / 3600
    x = np.where((hour >= 8) & (hour < 18), 300.0, 100.0) + rng.standard_normal(len(ts)) * 3
    cfg = RobustConfig(window=30, hop=2, season=86400)
    flat = dataclasses.replace(cfg, season=0)
    last_day = ts >= 3 * 86400
    assert score_series(x, cfg, timestamps=ts).score[last_day].max() < 0.5
    assert score_series(x, flat, timestamps=ts).score[last_day].max() >= 0.5


def test_trend_is_followed_not_flagged():
    x = 100 + 0.05 * np.arange(3000) + np.random.default_rng(8).standard_normal(3000)
    assert score_series(x).score[300:].max() < 0.5


def test_cusum_block_matches_the_recursion():
    rng = np.random.default_rng(9)
    v = rng.standard_normal((3, 40))
    up, down, s_up, s_down = cusum_block(v, np.array([0.0, 1.0, 5.0]), np.zeros(3), 0.5, 100)
    for i, start in enumerate([0.0, 1.0, 5.0]):
        s, expect = start, []
        for x in v[i]:
            s = max(0.0, s + x - 0.5)
            expect.append(s)
        np.testing.assert_allclose(up[i], expect)
    assert s_up.tolist() == up[:, -1].tolist()


def test_sandbox_faults_are_found_without_false_alarms():
    suite = {sc.name: sc for sc in fault_suite((1,))}
    total = SuiteScore()
    for name in ("bad-deploy-checkout@1", "quiet@1"):
        score_sandbox(simulate(suite[name]), sandbox_config(), total)
    assert total.recall == 1.0
    assert total.false_pos == 0
    assert total.median_delay <= 2


def test_analysis_since_uses_the_detector_change_point():
    from tools.anomaly.analysis import compare_to_baseline, detector_onset

    ts = np.arange(0, 7200, 15)
    x = 0.2 + 0.02 * np.random.default_rng(11).standard_normal(len(ts))
    x[ts >= 5000] += 20.0  # error rate jumps at t = 5000 s
    assert detector_onset("error_rate", ts, x, 3600, 7200, "up") == 5010
    assert detector_onset("error_rate", ts, x, 3600, 7200, "down") is None
    cmp = compare_to_baseline("error_rate", ts, x, 3600, 7200)
    assert cmp is not None and cmp.anomalous and cmp.since == 5010
