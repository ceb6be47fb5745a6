"""Alert correlation: group firing alerts into incidents, and say why each alert joined.

Alerts are taken in start order. An incident is open while one of its alerts fires (one that
started within `max_open_s`: a warning firing all day holds nothing open), or for `gap_s` after
its last alert started or ended. A new alert joins the open incident it is most
related to, when it is related to any of its alerts by
- the service graph: the same service, or services at most `max_hops` calls apart; or
- text: the same alert name on a related service, or summaries whose word sets overlap
  (Jaccard >= `text_similarity`, numbers and the service names left out);
the same alert on the same service firing again within `refire_s` of resolving always rejoins
its incident; otherwise an alert opens a new incident. Each grouping keeps its reasons, for the
answer to quote.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

_WORD = re.compile(r"[a-z][a-z_]+")


class AlertLike(Protocol):
    """What correlation reads of an alert (`tools.sandbox.model.Alert` has it)."""

    @property
    def name(self) -> str: ...
    @property
    def service(self) -> str: ...
    @property
    def starts_at(self) -> int: ...
    @property
    def ends_at(self) -> int | None: ...
    @property
    def summary(self) -> str: ...


@dataclass
class Incident:
    id: int
    alerts: list[AlertLike] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)  # one per alert, "" for the first
    last_activity: int = 0

    @property
    def services(self) -> list[str]:
        return sorted({a.service for a in self.alerts})

    @property
    def start(self) -> int:
        return min(a.starts_at for a in self.alerts)


def hop_distances(calls: Mapping[str, Iterable[str]], max_hops: int) -> dict[tuple[str, str], int]:
    """Undirected call-graph distance between services, up to `max_hops`."""
    adj: dict[str, set[str]] = {}
    for caller, callees in calls.items():
        for callee in callees:
            adj.setdefault(caller, set()).add(callee)
            adj.setdefault(callee, set()).add(caller)
    out: dict[tuple[str, str], int] = {}
    for src in adj:
        seen = {src: 0}
        queue = deque([src])
        while queue:
            node = queue.popleft()
            if seen[node] >= max_hops:
                continue
            for nxt in adj[node]:
                if nxt not in seen:
                    seen[nxt] = seen[node] + 1
                    queue.append(nxt)
        for dst, d in seen.items():
            out[(src, dst)] = d
    return out


def _words(text: str, services: set[str]) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in services}


@dataclass
class AlertCorrelator:
    calls: Mapping[str, Iterable[str]]  # service -> the services it calls
    gap_s: int = 600
    refire_s: int = 3600  # the same alert firing again this soon is the same incident
    max_open_s: int = 3600  # an alert firing longer than this no longer holds its incident open
    max_hops: int = 2
    text_similarity: float = 0.5

    def group(self, alerts: Iterable[AlertLike]) -> list[Incident]:
        dist = hop_distances(self.calls, self.max_hops)
        services = {s for pair in dist for s in pair} | set(self.calls)
        incidents: list[Incident] = []
        for alert in sorted(alerts, key=lambda a: (a.starts_at, a.service, a.name)):
            best: tuple[float, Incident, str] | None = None
            for inc in incidents:
                refire = self._refire(alert, inc)
                if refire:
                    best = (10.0, inc, refire)
                    break
                if not self._open(inc, alert.starts_at):
                    continue
                strength, why = self._relation(alert, inc, dist, services)
                if strength > 0 and (best is None or strength > best[0]):
                    best = (strength, inc, why)
            if best is None:
                inc = Incident(len(incidents) + 1)
                incidents.append(inc)
                inc.alerts.append(alert)
                inc.reasons.append("")
            else:
                inc = best[1]
                inc.alerts.append(alert)
                inc.reasons.append(best[2])
            inc.last_activity = max(inc.last_activity, alert.starts_at)
        return incidents

    def _open(self, inc: Incident, t: int) -> bool:
        """Open at `t`: an alert started within `gap_s`, ended within `gap_s`, or fires and
        started within `max_open_s` (only what is known at `t` counts)."""
        for a in inc.alerts:
            age = t - a.starts_at
            if age <= self.gap_s:
                return True
            if a.ends_at is not None and a.ends_at <= t:
                if t - a.ends_at <= self.gap_s:
                    return True
            elif age <= self.max_open_s:
                return True
        return False

    def _refire(self, alert: AlertLike, inc: Incident) -> str:
        """The same alert on the same service firing again within `refire_s` of its last end."""
        for a in inc.alerts:
            if (a.name == alert.name and a.service == alert.service and a.ends_at is not None
                    and 0 <= alert.starts_at - a.ends_at <= self.refire_s):
                minutes = (alert.starts_at - a.ends_at) / 60.0
                return f"{a.name} on {a.service} firing again {minutes:.0f} min after it resolved"
        return ""

    def _relation(self, alert: AlertLike, inc: Incident, dist: dict[tuple[str, str], int],
                  services: set[str]) -> tuple[float, str]:
        best, why = 0.0, ""
        words = _words(alert.summary, services)
        for other in inc.alerts:
            minutes = abs(alert.starts_at - other.starts_at) / 60.0
            when = f"{minutes:.0f} min apart"
            hops = dist.get((alert.service, other.service))
            if alert.service == other.service:
                hops = 0
            if hops is not None:
                strength = 3.0 - hops
                text = ("same service as" if hops == 0 else
                        f"{hops} call{'s' if hops > 1 else ''} from")
                reason = f"{text} {other.name} on {other.service}, {when}"
                if strength > best:
                    best, why = strength, reason
            other_words = _words(other.summary, services)
            union = words | other_words
            jaccard = len(words & other_words) / len(union) if union else 0.0
            if jaccard >= self.text_similarity:
                strength = 0.5 + jaccard
                if strength > best:
                    best, why = strength, (f"summary like {other.name} on {other.service} "
                                           f"(word overlap {jaccard:.2f}), {when}")
        return best, why


def compression(alert_count: int, incidents: list[Incident]) -> float:
    return alert_count / max(1, len(incidents))
