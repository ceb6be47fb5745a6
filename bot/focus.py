"""What an investigation question is after, beyond "what is wrong": when it started, its impact,
a summary, or a hypothesis to confirm or rule out ("is it the network?", "is it the db?").

`question_focus(text, services)` reads the question (pure, no I/O); `lead_lines(...)` writes the
answer's first lines from typed findings: every time and number is copied from a finding, and
what the copilot cannot observe (user counts, the network itself, DNS) is said, not guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.answer import RootCause
from tools.backends import TopologySource
from tools.base import Finding
from tools.catalog import LATENCY_METRICS
from tools.formatting import fmt_time

CHANGE_LOOKBACK_S = 3 * 3600  # a change up to 3 h before the trouble may explain it

_START = re.compile(r"\b(when did (this|it|that|the \w+) (start|begin)|since when|what time did|"
                    r"how long has (this|it) been|start(ed)? time|when did .{0,20}(start|begin)|"
                    r"when did .{0,20}(get|got|become|turn) (slow|bad|worse|sluggish|flaky))\b")
_IMPACT = re.compile(r"\b(impact\w*|blast radius|affected|how bad|customers? (see|hit)|"
                     r"users? (see|hit|affected)|how many (users|customers|requests))\b")
_SUMMARY = re.compile(r"\b(summar\w+|tl;?dr|sitrep|status update|recap|where are we|"
                      r"where do we stand|(what'?s|what is) the (situation|status|state))\b|"
                      r"^\s*status\b")
_HYPOTHESIS = re.compile(r"^\s*(is|could|might|can|was|would)\s+(it|this|that)\b|"
                         r"\b(be|is|was) the (cause|culprit|problem|issue)\b|"
                         r"^\s*(is|was) (this|it) (a|an|the)\b|"
                         r"^\s*(is|was|could)\s+[\w-]+\s+(be\s+)?the\s+(root\s+)?"
                         r"(cause|culprit|problem|issue)\b|"
                         # "is recommendation cpu bound?", "is cart leaking?": a resource verdict
                         r"^\s*(is|was|are)\b.{0,40}\b(bound|starved|leaking|saturated|"
                         r"exhausted|maxed( out)?)\b")
_HYPOTHESIS_TOPICS = {
    "network": re.compile(r"\b(network\w*|packet\w*|connectivity|net)\b"),
    "deploy": re.compile(r"\b(deploy\w*|release\w*|rollout|change[sd]?|config\w*|push(ed)?)\b"),
    "dns": re.compile(r"\bdns\b"),
    "cpu": re.compile(r"\bcpu\b"),
    "memory": re.compile(r"\b(memory|mem|oom|heap|leak)\b"),
    "disk": re.compile(r"\b(disk|storage|volume)\b"),
    "connections": re.compile(r"\b(pool|connections?)\b"),
    "certificate": re.compile(r"\b(cert\w*|tls|ssl)\b"),
}
# A resource topic is judged on its metric ("is it the pool?": connections).
_RESOURCE = {"cpu": "cpu", "memory": "memory", "disk": "disk", "connections": "connections",
             "certificate": "cert_expiry"}
_RESOURCE_WORDS = {"connections": "connection pool", "certificate": "the TLS certificate"}


@dataclass(frozen=True)
class Focus:
    kind: str  # "start", "impact", "summary" or "hypothesis"
    topics: list[str] = field(default_factory=list)  # hypothesis: network, deploy, dns, cpu...
    services: list[str] = field(default_factory=list)  # hypothesis: the services suspected


def question_focus(text: str, services: list[str]) -> Focus | None:
    """The focus of an investigation question, or None for a plain "what is wrong"."""
    t = text.lower()
    if _HYPOTHESIS.search(t):
        topics = [name for name, pattern in _HYPOTHESIS_TOPICS.items() if pattern.search(t)]
        if topics or services:
            return Focus("hypothesis", topics, list(services))
    if _SUMMARY.search(t):
        return Focus("summary")
    if _START.search(t):
        return Focus("start")
    if _IMPACT.search(t):
        return Focus("impact")
    return None


def _onset(anomalies: list[Finding], window_start: int | None = None) -> Finding | None:
    """The first dated anomaly; one dated at the window's opening was only *already* abnormal
    then (an expiring certificate), so one that began inside the window is preferred."""
    dated = [f for f in anomalies if f.since is not None]
    inside = [f for f in dated if window_start is None or (f.since or 0) > window_start]
    dated = inside or dated
    return min(dated, key=lambda f: (f.since or 0, -f.score)) if dated else None


def _start_line(anomalies: list[Finding], window_start: int | None = None) -> str:
    first = _onset(anomalies, window_start)
    if first is None or first.since is None:
        return "I cannot date the start: the anomalies were already there when the window opened."
    return f"It started at {fmt_time(first.since)}, first seen as: {first.text}."


def _impact_lines(anomalies: list[Finding], topology: TopologySource) -> list[str]:
    affected = sorted({f.service for f in anomalies})
    entries = [s for s in topology.services() if not topology.callers(s)]
    lines = [f"Impact: {len(affected)} services affected ({', '.join(affected)})."]
    for entry in entries:
        errors = next((f for f in anomalies if f.service == entry and f.metric == "error_rate"),
                      None)
        slow = next((f for f in anomalies if f.service == entry and f.metric in LATENCY_METRICS),
                    None)
        if errors is not None:
            lines.append(f"At the entry point, {errors.text}: that is the share of user requests "
                         "failing.")
        if slow is not None:
            lines.append(f"Users also wait longer: {slow.text}.")
        if errors is None and slow is None:
            lines.append(f"{entry}, where users come in, shows no abnormal errors or latency.")
    lines.append("How many users are affected is not measured here (no per-user data), so I "
                 "cannot give a user count.")
    return lines


def _hypothesis_lines(focus: Focus, anomalies: list[Finding], changes: list[Finding],
                      causes: list[RootCause]) -> list[str]:
    if not anomalies:
        return ["Nothing is abnormal right now, so there is nothing to confirm or rule out."]
    top = causes[0].service if causes else None
    by_service: dict[str, set[str]] = {}
    for f in anomalies:
        by_service.setdefault(f.service, set()).add(f.metric or "")
    lines: list[str] = []
    for service in focus.services:
        if service == top:
            lines.append(f"Likely: {service} is the most likely cause.")
        elif service in by_service:
            lines.append(f"Partly: {service} shows anomalies "
                         f"({', '.join(sorted(m.replace('_', ' ') for m in by_service[service]))})"
                         + (f", but the most likely cause is {top}." if top else "."))
        else:
            lines.append(f"Unlikely: {service} looks normal over this window"
                         + (f"; the most likely cause is {top}." if top else "."))
    onset = _onset(anomalies)
    for topic in focus.topics:
        if topic == "deploy":
            lines.append(_deploy_verdict(changes, onset, set(by_service)))
        elif topic == "network":
            lines.append(_network_verdict(top, by_service))
        elif topic == "dns":
            lines.append("I have no DNS data, so I cannot confirm or rule DNS out"
                         + (f"; what I can see points at {top}." if top else "."))
        elif topic in _RESOURCE:
            hit = sorted(s for s, ms in by_service.items() if _RESOURCE[topic] in ms)
            word = _RESOURCE_WORDS.get(topic, topic)
            lines.append(f"Yes, {word} is abnormal on {', '.join(hit)}." if hit else
                         f"Unlikely: no service shows abnormal {word} over this window.")
    return lines


def _deploy_verdict(changes: list[Finding], onset: Finding | None, sick: set[str]) -> str:
    start = onset.since if onset is not None else None
    if start is None:
        return "I cannot tell whether a change caused it: the start of the trouble is not dated."
    before = [c for c in changes if c.since is not None
              and start - CHANGE_LOOKBACK_S <= c.since <= start + 60 and c.service in sick]
    if before:
        return (f"Possibly: {before[0].text}, shortly before the trouble began at "
                f"{fmt_time(start)}.")
    return (f"Unlikely: no deploy or config change on the affected services in the 3 h before "
            f"the trouble began at {fmt_time(start)}.")


def _network_verdict(top: str | None, by_service: dict[str, set[str]]) -> str:
    if top is None:
        return "No cause stands out, so I cannot tell whether it is the network."
    metrics = by_service.get(top, set())
    resources = sorted(m for m in metrics if m in _RESOURCE)
    if metrics & set(LATENCY_METRICS) and not resources and "request_rate" not in metrics:
        return (f"Possibly: {top} shows added latency with no CPU, memory, disk or pool change "
                "and no drop in traffic of its own, which is how a network delay looks; I read "
                "no network metrics, so I cannot confirm it.")
    seen = ", ".join(m.replace("_", " ") for m in resources or sorted(metrics)) or "a change"
    return (f"Unlikely: the most likely cause, {top}, shows {seen}, which points at the service "
            "itself rather than the network; I read no network metrics, so this is inferred.")


def lead_lines(focus: Focus | None, anomalies: list[Finding], changes: list[Finding],
               causes: list[RootCause], topology: TopologySource,
               window_start: int | None = None) -> list[str]:
    """The answer's opening lines for a focused question; [] for a plain investigation."""
    if focus is None:
        return []
    if focus.kind == "start":
        return [_start_line(anomalies, window_start)] if anomalies else []
    if focus.kind == "impact":
        return _impact_lines(anomalies, topology) if anomalies else []
    if focus.kind == "summary":
        if not anomalies:
            return []
        cause = f" Most likely cause: {causes[0].service}." if causes else ""
        return [f"Summary: {_start_line(anomalies, window_start)}{cause}",
                *_impact_lines(anomalies, topology)]
    return _hypothesis_lines(focus, anomalies, changes, causes)
