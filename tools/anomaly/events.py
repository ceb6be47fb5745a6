"""Anomaly events: runs of anomalous samples of one series, with when, which way and how much.

An event opens at the first sample whose score reaches the threshold (`alarm`), is dated back to
the CUSUM change point when the shift built up before the alarm (`start`), and closes when the
score stays below the threshold for more than `merge_gap` samples.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from tools.anomaly.changepoint import change_onset
from tools.anomaly.robust import THRESHOLD, RobustScores


@dataclass(frozen=True)
class AnomalyEvent:
    start: int  # timestamp of the estimated onset (the change point)
    alarm: int  # timestamp of the first sample at or above the threshold
    end: int  # timestamp of the last anomalous sample
    start_index: int
    alarm_index: int
    end_index: int
    direction: str  # "up" or "down"
    value: float  # the value at the peak
    baseline: float  # the baseline it was judged against at the peak
    peak_score: float

    @property
    def magnitude(self) -> float:
        """Value minus baseline at the peak, in the series' unit."""
        return self.value - self.baseline

    @property
    def ratio(self) -> float | None:
        return None if abs(self.baseline) < 1e-12 else self.value / self.baseline

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "magnitude": self.magnitude, "ratio": self.ratio}


def runs(flags: np.ndarray, merge_gap: int) -> list[tuple[int, int]]:
    """(first, last) index of each run of True, runs closer than `merge_gap` merged."""
    idx = np.flatnonzero(flags)
    if idx.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) > merge_gap + 1)
    starts = np.concatenate(([idx[0]], idx[breaks + 1]))
    ends = np.concatenate((idx[breaks], [idx[-1]]))
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def extract_events(timestamps: np.ndarray, values: np.ndarray, scores: RobustScores,
                   merge_gap: int = 8, max_back: int = 40, min_samples: int = 2,
                   spike_v: float = 2.0) -> list[AnomalyEvent]:
    """Events of one series (1-D arrays) from its `score_series` result.

    A run is confirmed (and its `alarm` raised) at its `min_samples`-th anomalous sample, or at
    once when a sample is `spike_v` thresholds out; runs never confirmed are not events."""
    ts = np.asarray(timestamps)
    xs = np.asarray(values, dtype=float)
    out: list[AnomalyEvent] = []
    flags = scores.score >= THRESHOLD
    for first, last in runs(flags, merge_gap):
        seg = slice(first, last + 1)
        hit = np.flatnonzero(flags[seg])
        strong = np.flatnonzero(np.abs(scores.v[seg][hit]) >= spike_v)
        confirm = [int(hit[min_samples - 1])] if len(hit) >= min_samples else []
        if strong.size:
            confirm.append(int(hit[strong[0]]))
        if not confirm:
            continue
        alarm = first + min(confirm)
        peak = first + int(np.argmax(scores.score[seg]))
        up = scores.v[peak] >= 0
        states = scores.cusum_up if up else scores.cusum_down
        onset = min(first, change_onset(states, first, max_back))
        out.append(AnomalyEvent(
            start=int(ts[onset]), alarm=int(ts[alarm]), end=int(ts[last]),
            start_index=onset, alarm_index=alarm, end_index=last,
            direction="up" if up else "down", value=float(xs[peak]),
            baseline=float(scores.level[peak]), peak_score=float(scores.score[peak])))
    return out
