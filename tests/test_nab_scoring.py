"""The NAB scoring protocol on small synthetic files whose scores can be worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evals.nab_scoring import (
    PROFILES,
    Labelled,
    normalised,
    probation,
    scaled_sigmoid,
    threshold_curve,
)

STANDARD, LOW_FP, LOW_FN = PROFILES


def test_scaled_sigmoid_and_probation_constants():
    assert float(scaled_sigmoid(-1.0)) == pytest.approx(2 / (1 + math.exp(-5)) - 1)
    assert float(scaled_sigmoid(0.0)) == pytest.approx(0.0)
    assert float(scaled_sigmoid(3.5)) == -1.0
    assert probation(1000) == 150 and probation(10_000) == 750


def _file(n: int = 1000, windows: tuple[tuple[int, int], ...] = ((400, 499),)) -> Labelled:
    return Labelled.from_windows(n, list(windows))


def test_weights_inside_after_and_before_windows():
    lab = _file()
    off = lab.start  # 150 rows of probation are cut off
    assert lab.weight[400 - off] == pytest.approx(float(scaled_sigmoid(-1.0)))
    assert lab.weight[499 - off] == pytest.approx(float(scaled_sigmoid(-1 / 100)))
    assert lab.weight[300 - off] == -1.0  # before the first window
    assert -0.3 < lab.weight[510 - off] < 0  # just after the window: cheap
    assert lab.weight[999 - off] == -1.0  # far after it


def test_only_the_first_detection_in_a_window_counts_and_early_is_better():
    lab = _file()
    early, late = np.zeros(1000), np.zeros(1000)
    early[[400, 410, 420]] = 1.0
    late[480] = 1.0
    c_early = threshold_curve([(early, lab)], STANDARD)
    c_late = threshold_curve([(late, lab)], STANDARD)
    assert c_early.at(0.5) == pytest.approx(float(scaled_sigmoid(-1.0)))
    assert 0 < c_late.at(0.5) < c_early.at(0.5)
    assert c_early.at(2.0) == -1.0  # nothing detected: the window is missed


def test_false_positives_cost_the_profiles_fp_weight():
    lab = _file()
    s = np.zeros(1000)
    s[300] = 1.0  # before the window: full FP weight
    s[100] = 1.0  # inside probation: not scored
    for profile in (STANDARD, LOW_FP):
        assert threshold_curve([(s, lab)], profile).at(0.5) == pytest.approx(
            -profile.fp - profile.fn)


def test_null_is_zero_perfect_is_one_hundred_and_the_threshold_is_chosen():
    lab = _file(windows=((300, 349), (700, 749)))
    perfect = np.zeros(1000)
    perfect[[300, 700]] = 1.0
    for profile in PROFILES:
        null_raw = threshold_curve([(np.zeros(1000), lab)], profile).best()[1]
        assert normalised(null_raw, lab.null(profile), lab.perfect(profile)) == 0.0
        thr, raw = threshold_curve([(perfect, lab)], profile).best()
        assert thr == 1.0
        assert normalised(raw, lab.null(profile), lab.perfect(profile)) == pytest.approx(100)
    # A noisy detector: the best threshold sits above the noise and below the true peaks.
    rng = np.random.default_rng(0)
    noisy = rng.uniform(0, 0.6, 1000)
    noisy[[305, 705]] = 0.9
    thr, raw = threshold_curve([(noisy, lab)], STANDARD).best()
    assert thr == pytest.approx(0.9) and raw > 1.5


def test_missed_windows_weigh_double_in_reward_low_fn():
    lab = _file(windows=((300, 349), (700, 749)))
    s = np.zeros(1000)
    s[300] = 1.0  # one of two windows found
    tp = float(scaled_sigmoid(-1.0))
    assert threshold_curve([(s, lab)], STANDARD).at(0.5) == pytest.approx(tp - 1.0)
    assert threshold_curve([(s, lab)], LOW_FN).at(0.5) == pytest.approx(tp - 2.0)


def test_the_curve_sums_files_and_matches_a_direct_count():
    rng = np.random.default_rng(1)
    files = [(rng.random(800), Labelled.from_windows(800, [(200, 260), (500, 560)])),
             (rng.random(600), Labelled.from_windows(600, [(300, 340)]))]
    curve = threshold_curve(files, STANDARD)
    for thr in (0.5, 0.9, 0.99):
        direct = 0.0
        for scores, lab in files:
            s = scores[lab.start:]
            hit = s >= thr
            direct += STANDARD.fp * lab.weight[hit & (lab.window < 0)].sum()
            for w in np.unique(lab.window[lab.window >= 0]):
                rows = np.flatnonzero((lab.window == w) & hit)
                direct += STANDARD.tp * lab.weight[rows[0]] if rows.size else -STANDARD.fn
        assert curve.at(thr) == pytest.approx(direct)


def test_a_window_inside_probation_is_not_counted():
    lab = Labelled.from_windows(1000, [(10, 20), (400, 420)])
    assert lab.n_windows == 1 and lab.null(STANDARD) == -1.0
