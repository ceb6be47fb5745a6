"""Two-sided CUSUM for level shifts, vectorised over series and over the samples of a block.

The recursion S_t = max(0, S_{t-1} + x_t) has the closed form
S_t = C_t - min(-S_0, min_{j<=t} C_j) with C the cumulative sum of x, so a block of samples is
one `cumsum` and one `minimum.accumulate` instead of a Python loop. The state is capped at
`2 h` between blocks so a long anomaly does not keep the alarm on for hours after it ends.
"""

from __future__ import annotations

import numpy as np


def _lindley(x: np.ndarray, s0: np.ndarray) -> np.ndarray:
    c = np.cumsum(x, axis=1)
    floor = np.minimum(np.minimum.accumulate(c, axis=1), -s0[:, None])
    return c - floor


def cusum_block(v: np.ndarray, s_up: np.ndarray, s_down: np.ndarray, k: float, h: float,
                ready: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """CUSUM states for one block of deviations `v` (n, m) in threshold units, starting from
    `s_up`/`s_down` (n,). Returns (up states, down states, next s_up, next s_down)."""
    if v.shape[1] == 0:
        return v.copy(), v.copy(), s_up, s_down
    x_up = v - k
    x_down = -v - k
    if ready is not None:  # samples without a baseline only let the state decay
        x_up = np.where(ready, x_up, -k)
        x_down = np.where(ready, x_down, -k)
    cap = 2.0 * h
    up = np.minimum(_lindley(x_up, s_up), cap)
    down = np.minimum(_lindley(x_down, s_down), cap)
    return up, down, up[:, -1].copy(), down[:, -1].copy()


def change_onset(states: np.ndarray, alarm: int, max_back: int) -> int:
    """The CUSUM change-point estimate for an alarm at index `alarm` of one series: the first
    index after the last time the state was 0, looking back at most `max_back` samples."""
    lo = max(0, alarm - max_back)
    zeros = np.flatnonzero(states[lo:alarm + 1] <= 0)
    return lo + int(zeros[-1]) + 1 if zeros.size else lo
