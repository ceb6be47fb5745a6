"""A first, explainable root-cause ranking over the service graph.

Faults travel upstream: when payment fails, checkout and frontend fail too. So among the services
with anomalies, the likely culprit is one whose own dependencies look healthy, whose trouble
started first, whose resources (CPU, memory, disk, pool, certificate) moved rather than only its
golden signals, and that changed (a deploy) just before the trouble began. Each of those facts is
a named term of the score, so the answer can say why a service is ranked where it is.

This ranks already-made findings; it is the fallback when the incident context tool
(`tools.incident`, which ranks the series themselves with `tools.rca`) is not registered.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from tools.backends import TopologySource, downstream
from tools.base import Finding
from tools.catalog import RESOURCE_METRICS
from tools.formatting import fmt_time

CHANGE_BEFORE_S = 30 * 60  # a change up to 30 min before the onset can explain it
CHANGE_AFTER_S = 5 * 60


@dataclass
class Candidate:
    service: str
    metric: str | None
    score: float
    reasons: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)


def rank_root_causes(findings: list[Finding], topology: TopologySource,
                     limit: int = 3) -> list[Candidate]:
    """Rank services by how well they explain the anomalies in `findings` (scores in 0..1)."""
    anomalies: dict[str, list[Finding]] = defaultdict(list)
    changes: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        if f.kind == "metric_anomaly" or (f.kind == "log_errors" and f.score >= 0.5):
            anomalies[f.service].append(f)
        elif f.kind == "change":
            changes[f.service].append(f)
    if not anomalies:
        return []
    # Onsets from metrics when there are any: a log finding's first line may be one of the
    # usual background errors, long before the trouble.
    onsets = {}
    for s, fs in anomalies.items():
        metric_times = [f.since for f in fs if f.metric and f.since is not None]
        any_times = [f.since for f in fs if f.since is not None]
        onsets[s] = min(metric_times or any_times, default=None)
    known_onsets = [t for t in onsets.values() if t is not None]
    first_onset = min(known_onsets) if known_onsets else None

    candidates = []
    for service, fs in anomalies.items():
        metric_fs = sorted((f for f in fs if f.metric), key=lambda f: -f.score)
        strongest = max(f.score for f in fs)
        score = 0.4 * strongest
        reasons: list[str] = []
        resource = next((f for f in metric_fs if f.metric in RESOURCE_METRICS), None)
        if resource is not None and resource.metric is not None:
            score += 0.15
            reasons.append(f"its own {resource.metric.replace('_', ' ')} metric is abnormal")
        onset = onsets[service]
        # A dependency whose trouble began later than ours cannot have caused it.
        sick_deps = sorted(
            d for d in set(downstream(topology, service)[1:]) & anomalies.keys()
            if onset is None or (dep_onset := onsets[d]) is None or dep_onset <= onset + 60
        )
        if not sick_deps:
            score += 0.25
            if topology.dependencies(service):
                reasons.append("none of its dependencies is abnormal")
        else:
            reasons.append(f"its dependencies {', '.join(sick_deps)} are abnormal too")
            # The further up the chain of sick services, the more likely a mere victim.
            score -= 0.05 * len(sick_deps)
        if onset is not None and first_onset is not None:
            # Earlier trouble is likelier cause than effect: full bonus for the first, none
            # for ten minutes later.
            score += 0.1 * max(0.0, 1 - (onset - first_onset) / 600)
            if onset <= first_onset + 60:
                reasons.append(f"its trouble started first ({fmt_time(onset)})")
        evidence = [e for f in fs for e in f.evidence]
        for change in changes.get(service, []):
            if (onset is not None and change.since is not None
                    and onset - CHANGE_BEFORE_S <= change.since <= onset + CHANGE_AFTER_S):
                score += 0.35
                reasons.append(f"it changed just before: {change.text}")
                evidence += change.evidence
                break
        top = resource or (metric_fs[0] if metric_fs else None)
        candidates.append(Candidate(service, top.metric if top else None, min(max(score, 0.0), 1.0),
                                    reasons, evidence))
    candidates.sort(key=lambda c: (-c.score, c.service))
    return candidates[:limit]
