"""Compare a metric's recent values with its own recent past: the first question of any on-call.

Pure functions over arrays. The baseline is the hour before the window (robust: median and MAD),
the current value is the median of the window's last five minutes, and a change counts as an
anomaly only when it is large against both the noise and the metric's own floor of relevance
(`tools.catalog.MetricInfo.min_abs_change`). Issue-4's detectors refine this; this comparison is
what the answer quotes, so it stays simple enough to explain in one sentence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from tools.catalog import METRICS

if TYPE_CHECKING:
    from tools.anomaly.events import AnomalyEvent
    from tools.anomaly.robust import RobustConfig, RobustScores

BASELINE_SECONDS = 3600
CURRENT_SECONDS = 300
# A change must exceed this many robust standard deviations of the baseline...
NOISE_SIGMAS = 4.0
# ...and this share of the baseline level, and the metric's min_abs_change.
MIN_RELATIVE_CHANGE = 0.2


@dataclass(frozen=True)
class Comparison:
    current: float  # median over the last CURRENT_SECONDS of the window
    baseline: float  # median over the BASELINE_SECONDS before the window
    spread: float  # robust standard deviation of the baseline (1.4826 * MAD)
    window_min: float
    window_max: float
    window_mean: float
    anomalous: bool
    direction: str  # "up", "down" or "flat"
    score: float  # 0..1, how far outside normal, for ranking
    # When it started: the earlier of the detector's change point (`detector_onset`) and the
    # first time in the window after which it stayed abnormal.
    since: int | None
    threshold: float  # the size of change that counts, in the metric's unit

    @property
    def ratio(self) -> float | None:
        if abs(self.baseline) < 1e-9:
            return None
        return self.current / self.baseline


def detector_events(metric: str, timestamps: np.ndarray, values: np.ndarray,
                    detector: RobustConfig | None = None
                    ) -> tuple[RobustScores, list[AnomalyEvent]] | None:
    """Issue 4's online detector (`tools.anomaly`) over a series, configured for the copilot
    (`detector`: the fitted model's configuration, when one is current); None when too short."""
    import dataclasses

    from tools.anomaly.events import extract_events
    from tools.anomaly.robust import score_series
    from tools.anomaly.series_io import config_for

    ts = np.asarray(timestamps, dtype=float)
    if len(ts) < 2:
        return None
    config = dataclasses.replace(config_for(ts, detector), rel_floor=MIN_RELATIVE_CHANGE)
    scores = score_series(values, config, METRICS[metric].min_abs_change, ts)
    return scores, extract_events(ts, values, scores)


def first_onset(events: list[AnomalyEvent], direction: str, window_start: int,
                window_end: int) -> int | None:
    """The change point of the first event going `direction` that alarmed in the window."""
    for event in events:
        if event.direction == direction and window_start <= event.alarm < window_end:
            return max(int(event.start), window_start)
    return None


def detector_onset(metric: str, timestamps: np.ndarray, values: np.ndarray, window_start: int,
                   window_end: int, direction: str,
                   detector: RobustConfig | None = None) -> int | None:
    """When the change began, by issue 4's online detector (`tools.anomaly`): the change point
    of its first anomaly event in the window going `direction`; None when it found none."""
    found = detector_events(metric, timestamps, values, detector)
    return None if found is None else first_onset(found[1], direction, window_start, window_end)


def _excursion_start(ts: np.ndarray, excess: np.ndarray, since: int, margin: float) -> int:
    """Walk a flagged onset back to where the excursion left the noise band: a slow ramp (a
    leak, a filling disk) crosses the threshold minutes after it began. `excess` is the signed
    distance from the baseline in the bad direction."""
    i = int(np.searchsorted(ts, since))
    while i > 0 and excess[i - 1] > margin:
        i -= 1
    return int(ts[i]) if i < len(ts) else since


def compare_to_baseline(
    metric: str,
    timestamps: np.ndarray,
    values: np.ndarray,
    window_start: int,
    window_end: int,
    detector: RobustConfig | None = None,
) -> Comparison | None:
    """Compare [window_start, window_end) with the hour before it; None when the window is empty.

    `timestamps`/`values` should cover the baseline hour too; a window at the very start of the
    data falls back to its own first points as the baseline.
    """
    info = METRICS[metric]
    ts = np.asarray(timestamps)
    vs = np.asarray(values, dtype=float)
    ok = np.isfinite(vs)
    ts, vs = ts[ok], vs[ok]
    in_window = (ts >= window_start) & (ts < window_end)
    if not in_window.any():
        return None
    w_ts, w_vs = ts[in_window], vs[in_window]
    in_base = (ts >= window_start - BASELINE_SECONDS) & (ts < window_start)
    base = vs[in_base] if in_base.sum() >= 8 else w_vs[: max(4, len(w_vs) // 4)]
    baseline = float(np.median(base))
    spread = float(1.4826 * np.median(np.abs(base - baseline)))
    recent = w_vs[w_ts >= max(window_start, window_end - CURRENT_SECONDS)]
    if recent.size == 0:
        recent = w_vs[-1:]
    current = float(np.median(recent))

    threshold = max(
        NOISE_SIGMAS * spread, MIN_RELATIVE_CHANGE * abs(baseline), info.min_abs_change
    )
    change = current - baseline
    direction = "flat" if change == 0 else ("up" if change > 0 else "down")
    bad = info.bad_direction in ("both", direction)
    anomalous = bool(abs(change) >= threshold and bad)
    # Score: how many thresholds away, squashed into 0..1 (1 threshold -> ~0.46, 3 -> ~0.9).
    score = float(np.tanh(0.5 * abs(change) / threshold)) if bad else 0.0

    # Some levels are bad whatever the history (a disk at 97 %, a certificate past expiry).
    beyond_alarm = None
    if info.alarm_level is not None:
        sign = -1.0 if info.bad_direction == "down" else 1.0
        beyond_alarm = sign * (w_vs - info.alarm_level) >= 0
        if sign * (current - info.alarm_level) >= 0:
            anomalous = True
            direction = "down" if sign < 0 else "up"
            score = max(score, 0.9)

    since = None
    if anomalous and direction in ("up", "down"):
        since = detector_onset(metric, ts, vs, window_start, window_end, direction, detector)
    if anomalous:
        sign = 1.0 if direction == "up" else -1.0
        outside = sign * (w_vs - baseline) >= threshold
        if beyond_alarm is not None:
            outside |= beyond_alarm
        # The first point from which at least 80 % of the points stayed outside.
        tail_share = np.cumsum(outside[::-1])[::-1] / np.arange(len(outside), 0, -1)
        candidates = np.flatnonzero(outside & (tail_share >= 0.8))
        if candidates.size:
            stayed = int(w_ts[candidates[0]])
            since = stayed if since is None else min(since, stayed)
        if since is not None:
            since = _excursion_start(w_ts, sign * (w_vs - baseline), since,
                                     max(2 * spread, 0.05 * threshold))
    return Comparison(
        current=current,
        baseline=baseline,
        spread=spread,
        window_min=float(w_vs.min()),
        window_max=float(w_vs.max()),
        window_mean=float(w_vs.mean()),
        anomalous=anomalous,
        direction=direction,
        score=score,
        since=since,
        threshold=threshold,
    )
