"""Per-service multivariate detector: an IsolationForest over the service's golden signals.

The features of a sample are the robust detector's deviations of each golden signal in threshold
units (`RobustScores.v`, causal, seasonality and level already taken out), clipped to +-20, so
one forest serves any load level. The forest is fitted on a past window; its raw anomaly measure
is mapped to [0, 1] so that the training window's 99.9th percentile scores 0.5.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

CLIP = 20.0
CALIBRATION_QUANTILE = 0.999


def features(v_rows: np.ndarray) -> np.ndarray:
    """(signals, T) deviations -> (T, signals) features."""
    return np.clip(np.nan_to_num(np.asarray(v_rows, dtype=float)), -CLIP, CLIP).T


@dataclass
class ServiceForest:
    """A fitted forest and its calibration; `score` maps samples to [0, 1]."""

    forest: Any  # sklearn.ensemble.IsolationForest
    threshold: float  # raw measure scoring 0.5
    scale: float
    signals: tuple[str, ...]

    @classmethod
    def fit(cls, train: np.ndarray, signals: tuple[str, ...], seed: int = 0,
            n_estimators: int = 100) -> ServiceForest:
        from sklearn.ensemble import IsolationForest

        if train.ndim != 2 or train.shape[0] < 50:
            raise ValueError(f"need at least 50 training samples, got {train.shape[0]}")
        forest = IsolationForest(n_estimators=n_estimators, max_samples=min(256, len(train)),
                                 random_state=seed).fit(train)
        raw = -forest.score_samples(train)
        threshold = float(np.quantile(raw, CALIBRATION_QUANTILE))
        scale = max(float(threshold - np.median(raw)) / 4.0, 1e-6)
        return cls(forest, threshold, scale, signals)

    def raw(self, x: np.ndarray) -> np.ndarray:
        return -self.forest.score_samples(x)

    def score(self, x: np.ndarray) -> np.ndarray:
        z = (self.raw(x) - self.threshold) / self.scale
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))
