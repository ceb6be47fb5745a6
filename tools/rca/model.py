"""The RCA engine's plain data: what goes in (signals, graph, changes, log templates) and what
comes out (candidates with their evidence). No numpy here beyond the value arrays."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class ChangeRecord:
    """A deploy or config change on a service."""

    ts: int
    service: str
    kind: str  # "deploy", "config_change", ...
    description: str


@dataclass(frozen=True)
class LogTemplateRecord:
    """How often a log template appeared after and before the onset, per service."""

    service: str
    template: str
    level: str
    count: int  # lines from the onset on
    count_before: int  # lines in the same-length window before the onset
    first_ts: int | None = None


@dataclass
class RcaInput:
    """Everything the ranking reads: series on one time axis, and the onset hint.

    `signals` maps (service, metric) to values aligned with `timestamps` (NaN = no sample).
    `graph` maps each service to the services it calls; None when no call graph is known.
    """

    timestamps: np.ndarray
    signals: dict[tuple[str, str], np.ndarray]
    onset: int
    graph: dict[str, list[str]] | None = None
    changes: list[ChangeRecord] = field(default_factory=list)
    logs: list[LogTemplateRecord] = field(default_factory=list)


@dataclass(frozen=True)
class SignalScore:
    """How far one series moved after the onset, against its own robust baseline."""

    service: str
    metric: str
    kind: str  # "latency", "errors", "traffic", "resource", "other"
    z: float  # peak robust z-score after the onset, in the bad direction
    baseline: float  # median before the onset
    peak: float  # the value at that peak (3-point median)
    direction: str  # "up" or "down"
    first_ts: int | None  # when it first left its normal band (may precede the given onset)
    gradual: bool = False  # it kept growing after the onset (a leak, a filling disk)

    @property
    def significant(self) -> bool:
        return self.z > 0


@dataclass
class Candidate:
    """One suspected root cause and why it ranks where it does."""

    service: str
    metric: str | None
    score: float  # 0..1, comparable within one ranking
    raw: float  # the additive score the ranking sorted by
    signals: list[SignalScore] = field(default_factory=list)
    position: str = ""  # graph position relative to the symptoms, in words
    changes: list[ChangeRecord] = field(default_factory=list)
    log_templates: list[LogTemplateRecord] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {
            "service": self.service,
            "metric": self.metric,
            "score": round(self.score, 4),
            "reasons": self.reasons,
            "signals": [{"metric": s.metric, "z": round(s.z, 1), "baseline": s.baseline,
                         "peak": s.peak, "direction": s.direction, "first_ts": s.first_ts}
                        for s in self.signals],
            "changes": [{"ts": c.ts, "kind": c.kind, "description": c.description}
                        for c in self.changes],
            "log_templates": [{"template": t.template, "count": t.count,
                               "count_before": t.count_before} for t in self.log_templates],
        }


@dataclass
class RcaResult:
    """The ranking: candidates best first; `clear` is False when nothing stands out."""

    candidates: list[Candidate]
    clear: bool
    onset: int
    first_anomaly: int | None  # the earliest time a significant signal left its band
    changes_near_onset: list[ChangeRecord] = field(default_factory=list)
    note: str = ""
    scored: list[SignalScore] = field(default_factory=list)  # every significant signal
    confidence: float = 0.0  # what `clear` thresholds: how far the top candidate stands out
    # Every service: the candidates; with a graph, the quiet callees of a caller slow for no
    # reason of its own; then the rest by their largest move.
    ranking: list[str] = field(default_factory=list)
