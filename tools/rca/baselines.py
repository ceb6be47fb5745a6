"""N-Sigma and BARO as the RCAEval benchmark (1.8.1, `RCAEval.e2e.nsigma` / `.baro`) runs them,
re-implemented in numpy so they run without pandas and scikit-learn.

Both split the data at the onset hint, drop columns that are constant on either side (RCAEval's
`preprocess` with a dataset name), scale the part after the onset by the part before (N-Sigma:
mean and standard deviation; BARO: median and inter-quartile range, as sklearn's RobustScaler),
score each column by its largest scaled value (signed, so only increases count) and rank columns
by score. A service's rank is that of its best column.
"""

from __future__ import annotations

import numpy as np


def _rank(timestamps: np.ndarray, signals: dict[tuple[str, str], np.ndarray], onset: int,
          robust: bool) -> list[tuple[str, str, float]]:
    ts = np.asarray(timestamps)
    normal, anomal = ts < onset, ts >= onset
    out = []
    for key, values in signals.items():
        v = np.asarray(values, dtype=float)
        a, b = v[normal], v[anomal]
        if a.size == 0 or b.size == 0:
            continue
        # drop_constant: a column whose values all equal its first on either side is dropped
        # (NaN != NaN, so a column with NaNs is kept, as pandas does).
        if np.all(a == a[0]) or np.all(b == b[0]):
            continue
        with np.errstate(all="ignore"):
            if robust:
                center = np.nanmedian(a)
                q75, q25 = np.nanpercentile(a, [75, 25])
                scale = q75 - q25
            else:
                center = np.nanmean(a)
                scale = np.nanstd(a)
            if not np.isfinite(scale) or scale == 0:
                scale = 1.0  # sklearn's _handle_zeros_in_scale
            z = (b - center) / scale
        score = float(np.max(z)) if not np.isnan(z).any() else float("nan")
        out.append((key[0], key[1], score))
    # sorted(..., reverse=True) on floats; NaN compares false, so keep Python's sort on them.
    return sorted(out, key=lambda r: r[2], reverse=True)


def nsigma(timestamps: np.ndarray, signals: dict[tuple[str, str], np.ndarray],
           onset: int) -> list[tuple[str, str, float]]:
    """(service, metric, score) best first, as RCAEval's nsigma ranks columns."""
    return _rank(timestamps, signals, onset, robust=False)


def baro(timestamps: np.ndarray, signals: dict[tuple[str, str], np.ndarray],
         onset: int) -> list[tuple[str, str, float]]:
    """(service, metric, score) best first, as RCAEval's baro ranks columns."""
    return _rank(timestamps, signals, onset, robust=True)


def services_in_order(ranked: list[tuple[str, str, float]]) -> list[str]:
    """Service-level ranking: each service at the rank of its best column."""
    return list(dict.fromkeys(s for s, _, _ in ranked))
