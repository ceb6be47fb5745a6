"""Stuck values: a run of exactly repeated values, as surprising as the series' own repeats say.

Under the series' own rate `p` of a row repeating the one before (counted causally, with a
Laplace prior), a run of `r` repeats has the chance `p^r`; its evidence `-r log10 p` is in the same
units as the likelihood detector's prediction-error evidence, so the two combine by their maximum.
A noisy gauge that freezes scores within a few rows; a value that often repeats needs a long run.
Runs at the series' usual value (its long median) or at its lowest or highest value so far are
not counted either way: a counter idling at 0 or a gauge pinned at its ceiling is clipped, not
stuck. Streamed in chunks with the counts, the extremes and the run carried over.
"""

from __future__ import annotations

import numpy as np


class StuckRuns:
    """Evidence (-log10 chance) that the run of repeats ending at each row is a stuck value."""

    def __init__(self) -> None:
        self.prev = np.nan  # the previous row's value (NaN: missing)
        self.lo, self.hi = np.inf, -np.inf  # extremes of the rows so far
        self.repeats = 0  # counted rows that repeated the one before
        self.counted = 0  # rows counted (not missing, not at the usual value or an extreme)
        self.run = 0  # repeats in the run in progress

    def update(self, raw: np.ndarray, usual: np.ndarray) -> np.ndarray:
        """`raw`: the rows (NaN: missing); `usual`: each row's usual value, from earlier rows."""
        m = len(raw)
        if m == 0:
            return np.zeros(0)
        missing = np.isnan(raw)
        before = np.concatenate(([self.prev], raw[:-1]))
        repeat = (raw == before) & ~missing
        hi = np.maximum.accumulate(np.concatenate(([self.hi], np.where(missing, -np.inf, raw))))
        lo = np.minimum.accumulate(np.concatenate(([self.lo], np.where(missing, np.inf, raw))))
        counted = ~missing & (raw != usual) & (raw > lo[:-1]) & (raw < hi[:-1])
        reps = np.cumsum(repeat & counted)
        cnts = np.cumsum(counted)
        # The rate from the rows before each row (the row itself excluded).
        p = (self.repeats + reps - (repeat & counted) + 1.0) / (self.counted + cnts - counted + 2.0)
        idx = np.arange(1, m + 1)
        last_break = np.maximum.accumulate(np.where(~repeat, idx, 0))
        run = np.where(last_break == 0, self.run + idx, idx - last_break)
        self.prev = float(raw[-1])
        self.lo, self.hi = float(lo[-1]), float(hi[-1])
        self.repeats += int(reps[-1])
        self.counted += int(cnts[-1])
        self.run = int(run[-1])
        return np.where(repeat & counted, -run * np.log10(p), 0.0)
