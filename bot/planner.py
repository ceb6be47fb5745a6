"""Turn a routed question (intent + entities) into tool calls, without any LLM.

The plan is explicit and small: which tools, with which arguments, over which window. What the
registry has decides what can be done; an intent whose tool is not configured gets a plan with
no calls and a note saying so, never a made-up answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from bot.intents import intent_spec
from tools.backends import TopologySource, downstream
from tools.base import Finding
from tools.capacity import CAPACITY_METRICS
from tools.rootcause import rank_root_causes

FORECAST_WORDS = re.compile(r"\b(fill(s|ing)? up|run(s|ning)? out|when will|how long (until|"
                            r"before|till)|saturat\w*|capacity|forecast|exhaust\w*|headroom)\b",
                            re.IGNORECASE)
ROLLBACK_WORDS = re.compile(r"\b(roll(ing|ed)?[ -]?back|revert\w*|undo|previous (version|release)|"
                            r"prev version|downgrade)\b", re.IGNORECASE)
CHANGES_LOOKBACK_S = 3 * 3600  # deploys up to 3 h before the window can explain it
CHANGES_DEFAULT_S = 24 * 3600  # "what changed?" with no window: the last day
INCIDENT_WINDOW_S = 3600  # "what changed?" also asks whether anything is broken in the last hour


@dataclass
class ToolCall:
    tool: str
    args: dict[str, Any]


@dataclass
class Plan:
    intent: str
    services: list[str]
    start: int
    end: int
    calls: list[ToolCall] = field(default_factory=list)
    note: str | None = None  # why nothing (or less) could be done
    scope: list[str] = field(default_factory=list)  # every service the plan looks at


def make_plan(
    intent: str,
    services: list[str],
    metrics: list[str],
    start: int,
    end: int,
    available_tools: set[str],
    topology: TopologySource,
    *,
    window_given: bool = True,
    log_level: str | None = None,
    keywords: list[str] | None = None,
    question: str = "",
    context_query: str | None = None,
) -> Plan:
    plan = Plan(intent, list(services), start, end)
    spec = intent_spec(intent)
    needed = spec.tools
    covered = intent == "investigate" and "incident_context" in available_tools
    if needed and not covered and not all(t in available_tools for t in needed[:1]):
        plan.note = spec.missing or f"No tool can answer {intent} questions yet."
        return plan
    keyword = keywords[0] if keywords else None

    if intent == "investigate":
        scope: list[str] = []
        for s in services:
            scope += [d for d in downstream(topology, s) if d not in scope]
        plan.scope = scope or topology.services()
        if "incident_context" in available_tools:
            # One call gathers anomalies, logs, changes and alerts, and ranks the causes.
            plan.calls.append(ToolCall("incident_context",
                                       {"services": scope, "start": start, "end": end}))
            return plan
        plan.calls.append(ToolCall("detect_metric_anomalies",
                                   {"services": scope, "start": start, "end": end}))
        if "search_logs" in available_tools:
            plan.calls.append(ToolCall("search_logs", {"services": scope, "start": start,
                                                       "end": end, "level": "WARN"}))
        if "recent_changes" in available_tools:
            plan.calls.append(ToolCall("recent_changes", {
                "services": scope, "start": min(start, end - CHANGES_LOOKBACK_S), "end": end}))
        if "firing_alerts" in available_tools:
            plan.calls.append(ToolCall("firing_alerts", {"at": end, "services": scope}))
    elif intent == "metrics":
        targets = services or topology.services()
        plan.scope = targets
        plan.calls.append(ToolCall("query_metrics", {"services": targets, "metrics": metrics,
                                                     "start": start, "end": end}))
        resources = [m for m in metrics if m in CAPACITY_METRICS]
        if "forecast_capacity" in available_tools and (
                resources or (FORECAST_WORDS.search(question) and not metrics)):
            # "Will the disk fill up?": when, at this rate, with a band.
            plan.calls.append(ToolCall("forecast_capacity", {
                "services": services, "metrics": resources, "start": start, "end": end}))
    elif intent == "logs":
        plan.scope = services or topology.services()
        args: dict[str, Any] = {"services": services, "start": start, "end": end}
        if log_level:
            args["level"] = log_level
        if keyword:
            args["contains"] = keyword
        plan.calls.append(ToolCall("search_logs", args))
    elif intent == "changes":
        plan.scope = services or topology.services()
        since = start if window_given else end - CHANGES_DEFAULT_S
        plan.calls.append(ToolCall("recent_changes",
                                   {"services": services, "start": since, "end": end}))
        if "incident_context" in available_tools:
            # Which of those changes lines up with trouble right now, if there is any.
            scope = [d for s in services for d in downstream(topology, s)]
            plan.calls.append(ToolCall("incident_context", {
                "services": list(dict.fromkeys(scope)),
                "start": max(since, end - INCIDENT_WINDOW_S), "end": end}))
    elif intent == "alerts":
        plan.scope = services or topology.services()
        plan.calls.append(ToolCall("firing_alerts", {"at": end, "services": services}))
    elif intent in ("similar_incidents", "runbook"):
        # "Have we seen this before?" means *this*: the thread's incident, when there is one.
        query = f"{context_query} {question}" if context_query else question
        plan.scope = services
        plan.calls.append(ToolCall(needed[0], {"query": query, "services": services}))
        if intent == "runbook" and "propose_runbooks" in available_tools:
            # The executable runbooks that fit, with their dry-run plans: what to request.
            plan.calls.append(ToolCall("propose_runbooks", {"text": query, "services": services,
                                                            "k": 2}))
        if intent == "runbook" and services and ROLLBACK_WORDS.search(question) \
                and "recent_changes" in available_tools:
            # "Roll back to which version?": the last deploys name the version to return to.
            plan.calls.append(ToolCall("recent_changes", {
                "services": services, "start": end - CHANGES_DEFAULT_S, "end": end}))
    elif needed:
        plan.scope = services
        plan.calls.append(ToolCall(needed[0], {"services": services, "start": start,
                                               "end": end}))
    return plan


def incident_context(findings: list[Finding], topology: TopologySource) -> tuple[str, list[str]]:
    """A search query describing the live incident in words (suspect, symptoms, error templates,
    alert names), and the suspected services: what past incidents and runbooks are matched on."""
    causes = [f for f in findings if f.kind == "root_cause"]
    if causes:  # the incident context tool's ranking, when it ran
        suspects = [f.service for f in causes[:2]]
    else:
        ranked = rank_root_causes(findings, topology)
        if not ranked:
            return "", []
        suspects = [c.service for c in ranked[:2]]
    words: list[str] = []
    for f in findings:
        if f.service not in suspects:
            continue
        if f.kind == "metric_anomaly" and f.metric:
            words.append(f"{f.service} {f.metric.replace('_', ' ')} "
                         f"{'high' if (f.value or 0) >= (f.baseline or 0) else 'low'}")
        elif (f.kind == "log_errors" and f.score >= 0.5 or f.kind == "log_warnings") \
                and f.detail:  # unusual errors, telling warnings: their template
            words.append(" ".join(f.detail.replace("<*>", " ").split()))
        elif f.kind in ("alert", "change") and f.detail:  # the alert's name, the change
            words.append(f.detail)
    return "; ".join(dict.fromkeys(words))[:400], suspects


def enrichment_calls(findings: list[Finding], topology: TopologySource,
                     available_tools: set[str]) -> tuple[list[ToolCall], str]:
    """After an investigation found trouble: similar past incidents and fitting runbooks."""
    query, suspects = incident_context(findings, topology)
    if not query:
        return [], ""
    alerts = sorted({f.detail for f in findings
                     if f.kind == "alert" and f.service in suspects and f.detail})
    calls = []
    if "search_incidents" in available_tools:
        calls.append(ToolCall("search_incidents", {"query": query, "services": suspects,
                                                   "k": 3}))
    if "suggest_runbooks" in available_tools:
        calls.append(ToolCall("suggest_runbooks", {"query": query, "services": suspects,
                                                   "alerts": alerts, "k": 3}))
    return calls, query
