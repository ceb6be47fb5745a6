"""Log anomalies per service: templates never seen before, templates whose rate jumps, error bursts.

Lines are mined into templates per service (`TemplateMiner`) and counted per time bin. Counts
are square-rooted (Poisson counts then have about the same noise at any rate) and scored by the
robust detector (`score_series`, causal), so a burst is judged against the same service's recent
past. A template first seen after the warm-up is a new-template anomaly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from tools.anomaly.events import extract_events
from tools.anomaly.logtemplates import TemplateMiner
from tools.anomaly.robust import RobustConfig, score_series

ERROR_LEVELS = ("ERROR", "FATAL", "CRITICAL", "PANIC")


class LogLine(Protocol):
    @property
    def ts(self) -> int: ...
    @property
    def service(self) -> str: ...
    @property
    def level(self) -> str: ...
    @property
    def message(self) -> str: ...


@dataclass(frozen=True)
class LogAnomaly:
    kind: str  # "new_template", "template_rate", "error_burst"
    service: str
    start: int  # unix seconds
    template: str  # "" for an error burst
    count: int  # lines in the anomalous bins (in its first `new_window_s`, for a new template)
    baseline: float  # lines per bin expected (0 for a new template)


@dataclass
class ServiceLogs:
    miner: TemplateMiner = field(default_factory=TemplateMiner)
    rows: list[tuple[int, int, bool]] = field(default_factory=list)  # (bin, template id, error)
    first_seen: dict[int, int] = field(default_factory=dict)


def detect_log_anomalies(lines: Iterable[LogLine], start: int, end: int, bin_s: int = 60,
                         warmup_s: int = 3600, min_lines: float = 5.0,
                         new_window_s: int = 600) -> list[LogAnomaly]:
    """Anomalies in [start + warmup_s, end) from `lines` in [start, end) (any order).

    A template first seen after the warm-up is reported once it has `min_lines` lines within
    `new_window_s` of its first line (a rare line seen once an hour is not news)."""
    n_bins = max(1, -(-(end - start) // bin_s))
    per: dict[str, ServiceLogs] = {}
    for line in sorted(lines, key=lambda x: x.ts):
        if not start <= line.ts < end:
            continue
        svc = per.setdefault(line.service, ServiceLogs())
        tpl = svc.miner.add(line.message)
        svc.first_seen.setdefault(tpl.id, line.ts)
        svc.rows.append(((line.ts - start) // bin_s, tpl.id, line.level.upper() in ERROR_LEVELS))
    cfg = RobustConfig(window=60, hop=5, min_history=20, trend=False)
    warm_bin = warmup_s // bin_s
    bin_ts = start + bin_s * np.arange(n_bins)
    # Counts of 0 to 1 line a bin move by 1 in sqrt units: the floor asks for ~min_lines more.
    floor = float(np.sqrt(min_lines + 1.0) - 1.0)
    out: list[LogAnomaly] = []
    for service, svc in sorted(per.items()):
        ids = np.array([r[1] for r in svc.rows])
        bins = np.array([r[0] for r in svc.rows])
        errs = np.array([r[2] for r in svc.rows])
        counts = np.zeros((len(svc.miner.templates), n_bins))
        np.add.at(counts, (ids - 1, bins), 1.0)
        errors = np.bincount(bins[errs], minlength=n_bins).astype(float) if errs.any() \
            else np.zeros(n_bins)
        burst_bins = max(1, new_window_s // bin_s)
        for tpl in svc.miner.templates:
            first = svc.first_seen[tpl.id]
            b0 = (first - start) // bin_s
            early = counts[tpl.id - 1, b0:b0 + burst_bins].sum()
            if first >= start + warmup_s and early >= min_lines:
                out.append(LogAnomaly("new_template", service, first, tpl.text,
                                      int(early), 0.0))
        rows = np.sqrt(np.vstack([counts, errors[None, :]]))
        scores = score_series(rows, cfg, floor)
        for i in range(rows.shape[0]):
            row = scores.row(i)
            for ev in extract_events(bin_ts, rows[i], row):
                if ev.alarm_index < warm_bin or ev.direction != "up":
                    continue
                is_error = i == rows.shape[0] - 1
                source = errors if is_error else counts[i]
                seg = source[ev.start_index:ev.end_index + 1]
                first_seen = svc.first_seen.get(i + 1, 0)
                if not is_error and first_seen >= start + warmup_s:
                    continue  # already reported as a new template
                out.append(LogAnomaly(
                    "error_burst" if is_error else "template_rate", service, ev.start,
                    "" if is_error else svc.miner.templates[i].text, int(seg.sum()),
                    float(max(ev.baseline, 0.0) ** 2)))
    out.sort(key=lambda a: (a.start, a.service, a.kind))
    return out

