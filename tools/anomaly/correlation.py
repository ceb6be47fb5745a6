"""Alert correlation: group firing alerts into incidents, and say why each alert joined.

Alerts are taken in start order (at the same second, callees before their callers). An incident
is open while one of its alerts fires (one that started within `max_open_s`: a warning firing all
day holds nothing open), or for `gap_s` after its last alert started or ended; an incident whose
alert still fires on the new alert's own service is open to it however old that alert is (a
certificate warning firing for days belongs with the outage it warned of). A new alert joins the
open incident it relates to most strongly (`_relation`): by the service graph, in the direction
symptoms spread (to callers), with alike summaries as a bonus, fading with time; the same alert on
the same service firing again within `refire_s` of resolving is a strong relation too. Otherwise
it opens a new incident. Each grouping keeps its reason, for the answer to quote.
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
    @property
    def severity(self) -> str: ...


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


def call_heights(calls: Mapping[str, Iterable[str]]) -> dict[str, int]:
    """0 for a service that calls nothing, else 1 + its callees' highest (cycles cut)."""
    out: dict[str, int] = {}

    def height(s: str, path: frozenset[str]) -> int:
        if s not in out:
            below = [height(d, path | {s}) for d in calls.get(s, ()) if d not in path]
            out[s] = 1 + max(below) if below else 0
        return out[s]

    for s in calls:
        height(s, frozenset())
    return out


def callers_within(calls: Mapping[str, Iterable[str]], max_hops: int) -> set[tuple[str, str]]:
    """(caller, callee) pairs at most `max_hops` calls apart, following calls' direction."""
    out: set[tuple[str, str]] = set()
    for src in calls:
        frontier = {src}
        for _ in range(max_hops):
            frontier = {d for s in frontier for d in calls.get(s, ())}
            out |= {(src, d) for d in frontier if d != src}
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
    cause_lag_s: int = 300  # a callee's alert this soon after its incident opened may be its cause
    half_life_s: int = 900  # a relation to an alert this old counts half

    def group(self, alerts: Iterable[AlertLike]) -> list[Incident]:
        dist = hop_distances(self.calls, self.max_hops)
        upstream = callers_within(self.calls, self.max_hops)
        services = {s for pair in dist for s in pair} | set(self.calls)
        incidents: list[Incident] = []
        height = call_heights(self.calls)  # alerts starting together: callees first
        for alert in sorted(alerts, key=lambda a: (a.starts_at, height.get(a.service, 0),
                                                   a.service, a.name)):
            best: tuple[float, Incident, str] | None = None
            for inc in incidents:
                refire, since_end = self._refire(alert, inc)
                if refire:  # even once closed; fades with the time since it resolved
                    strength = 3.5 * 0.5 ** (since_end / self.half_life_s)
                    if best is None or strength > best[0]:
                        best = (strength, inc, refire)
                if not self._open(inc, alert.starts_at, alert.service):
                    continue
                strength, why = self._relation(alert, inc, dist, services, upstream)
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

    def _open(self, inc: Incident, t: int, service: str) -> bool:
        """Open at `t` (to an alert on `service`): an alert started within `gap_s`, ended within
        `gap_s`, or fires and started within `max_open_s` or is on `service` (only what is known
        at `t` counts)."""
        for a in inc.alerts:
            age = t - a.starts_at
            if age <= self.gap_s:
                return True
            if a.ends_at is not None and a.ends_at <= t:
                if t - a.ends_at <= self.gap_s:
                    return True
            elif age <= self.max_open_s or a.service == service:
                return True
        return False

    def _refire(self, alert: AlertLike, inc: Incident) -> tuple[str, int]:
        """The same alert on the same service firing again within `refire_s` of its last end:
        the reason and the seconds since that end ("" when it is not)."""
        for a in reversed(inc.alerts):
            if (a.name == alert.name and a.service == alert.service and a.ends_at is not None
                    and 0 <= alert.starts_at - a.ends_at <= self.refire_s):
                since = alert.starts_at - a.ends_at
                return (f"{a.name} on {a.service} firing again {since / 60:.0f} min after it "
                        f"resolved"), since
        return "", 0

    def _relation(self, alert: AlertLike, inc: Incident, dist: dict[tuple[str, str], int],
                  services: set[str], upstream: set[tuple[str, str]]) -> tuple[float, str]:
        """How strongly `alert` belongs with `inc` (0: not at all) and why. The service graph
        counts when the alert's service is, or calls, a service alerting in `inc` (symptoms
        spread to callers), or is otherwise near it while `inc` is younger than `cause_lag_s`
        (the cause's own alert may wait out a longer `for` than its symptoms'); text likeness
        adds to it, and both fade with the time since the related alert started (half-life
        `half_life_s`)."""
        best, why = 0.0, ""
        words = _words(alert.summary, services)
        for other in inc.alerts:
            lag = alert.starts_at - other.starts_at
            minutes = abs(lag) / 60.0
            when = f"{minutes:.0f} min apart"
            hops = 0 if alert.service == other.service else dist.get((alert.service,
                                                                       other.service))
            strength, reason = 0.0, ""
            young = alert.starts_at - inc.start <= self.cause_lag_s
            if hops is not None and (hops == 0 or (alert.service, other.service) in upstream
                                     or young):
                strength = 2.5 if hops == 0 else 3.0 - hops
                text = ("same service as" if hops == 0 else
                        f"{hops} call{'s' if hops > 1 else ''} from")
                reason = f"{text} {other.name} on {other.service}, {when}"
                if hops == 0 and minutes > self.max_open_s / 60 and (
                        other.ends_at is None or other.ends_at > alert.starts_at):
                    reason = (f"same service as {other.name} on {other.service}, "
                              f"firing since {minutes:.0f} min before")
            other_words = _words(other.summary, services)
            union = words | other_words
            jaccard = len(words & other_words) / len(union) if union else 0.0
            # Alike text (one rule's summary on two services) adds to a graph relation; alone
            # it relates alerts only when the graph does not know one of the services.
            unknown = alert.service not in services or other.service not in services
            if jaccard >= self.text_similarity and (strength > 0 or unknown):
                like = (f"summary like {other.name} on {other.service} "
                        f"(word overlap {jaccard:.2f})")
                strength += 0.5 * jaccard if strength > 0 else 0.5 + jaccard
                reason = f"{reason}; {like}" if reason else f"{like}, {when}"
            strength *= 0.5 ** (max(lag, 0) / self.half_life_s)
            if strength > best:
                best, why = strength, reason
        return best, why


def compression(alert_count: int, incidents: list[Incident]) -> float:
    return alert_count / max(1, len(incidents))
