"""Proposals: which runbooks fit an incident, with parameters filled from its context and the
dry-run plan that would run.

`IncidentContext` is what the copilot knows (suspected services, firing alerts, anomalous
metrics, recent deploys, the knowledge base's runbook suggestions, words of the question);
`infer_fault_kinds` turns the symptoms into likely fault kinds; `rank_runbooks` scores each
runbook's `when` against the context with named reasons; `propose` fills parameters from the
context's facts (namespace, node, certificate, ...) and renders the plan.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from tools.runbooks.errors import ParameterError
from tools.runbooks.loader import RunbookLibrary
from tools.runbooks.model import Runbook
from tools.runbooks.params import check_value
from tools.runbooks.plan import Plan, render_plan

_ALERT = re.compile(r"^([A-Za-z][A-Za-z0-9_]+) \(")
# symptom -> (fault kind, weight): the resource that moved says most about the cause
_BY_METRIC = {"connections": ("connection_pool_exhaustion", 1.0), "disk": ("disk_full", 1.0),
              "cert_expiry": ("certificate_expiry", 1.0), "memory": ("memory_leak", 0.9),
              "cpu": ("cpu_hog", 0.9)}
_BY_ALERT = {"ConnectionPoolExhausted": ("connection_pool_exhaustion", 1.0),
             "DiskAlmostFull": ("disk_full", 1.0),
             "CertificateExpiringSoon": ("certificate_expiry", 1.0),
             "MemoryNearLimit": ("memory_leak", 0.9), "CPUSaturated": ("cpu_hog", 0.9),
             "ServiceDown": ("dependency_down", 1.0)}


@dataclass
class IncidentContext:
    text: str = ""
    services: list[str] = field(default_factory=list)  # most suspected first
    alerts: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)  # anomalous metrics of services[0]
    deployed: list[str] = field(default_factory=list)  # services with a recent deploy
    kb_runbooks: list[str] = field(default_factory=list)
    fault_kinds: list[str] = field(default_factory=list)  # when known (an incident's label)
    facts: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_answer(cls, answer: Any, facts_for: Callable[[str], dict[str, str]] | None = None
                    ) -> IncidentContext:
        """From a copilot `Answer`: root causes, alert and change findings, runbook hits."""
        services = [r.service for r in answer.root_causes] or list(answer.services)
        top = services[0] if services else ""
        alerts, metrics, deployed = [], [], []
        for f in answer.findings:
            if f.kind == "alert" and f.service in services[:1] and (m := _ALERT.match(f.text)):
                alerts.append(m.group(1))
            elif f.kind == "metric_anomaly" and f.service == top and f.metric:
                metrics.append(f.metric)
            elif f.kind == "change" and "deploy" in f.text:
                deployed.append(f.service)
        facts = dict(facts_for(top)) if facts_for and top else {}
        return cls(answer.question, services, alerts, metrics, deployed,
                   [r.name for r in answer.runbooks], [], facts)


def infer_fault_kinds(ctx: IncidentContext) -> dict[str, float]:
    """Likely fault kinds (weight 0..1) from the symptoms of the most suspected service."""
    kinds: dict[str, float] = {k: 1.0 for k in ctx.fault_kinds}

    def add(kind: str, weight: float) -> None:
        kinds[kind] = max(kinds.get(kind, 0.0), weight)

    for metric in ctx.metrics:
        if metric in _BY_METRIC:
            add(*_BY_METRIC[metric])
    for alert in ctx.alerts:
        if alert in _BY_ALERT:
            add(*_BY_ALERT[alert])
    top = ctx.services[0] if ctx.services else ""
    errors = "error_rate" in ctx.metrics
    latency = any(m.startswith("latency") for m in ctx.metrics)
    if top and top in ctx.deployed and errors:
        add("bad_deploy", 1.0)
    if "request_rate" in ctx.metrics and not errors:
        add("dependency_down", 0.8)
    if not kinds or max(kinds.values()) < 0.9:
        if errors:
            add("bad_deploy", 0.5)
        if latency and errors:
            add("network_delay", 0.7)
        elif latency:
            add("latency_injection", 0.7)
    return kinds


@dataclass
class Ranked:
    runbook: Runbook
    score: float  # 0..1
    reasons: list[str]


def rank_runbooks(library: Iterable[Runbook], ctx: IncidentContext) -> list[Ranked]:
    kinds = infer_fault_kinds(ctx)
    text = " ".join(re.findall(r"[a-z0-9-]+", ctx.text.lower()))
    out = []
    for rb in library:
        w, score, reasons = rb.when, 0.0, []
        kind_hits = {k: kinds[k] for k in w.fault_kinds if k in kinds}
        if kind_hits:
            kind, weight = max(kind_hits.items(), key=lambda kv: kv[1])
            score += 3.0 * weight
            reasons.append(f"fits a {kind.replace('_', ' ')}")
        if alerts := sorted(set(w.alerts) & set(ctx.alerts)):
            score += 1.5
            reasons.append(f"alert {', '.join(alerts)} is firing")
        if symptoms := sorted(set(w.symptoms) & set(ctx.metrics)):
            score += min(0.5 * len(symptoms), 1.0)
            reasons.append(f"{', '.join(symptoms)} abnormal")
        if w.services:
            if ctx.services and ctx.services[0] in w.services:
                score += 1.0
                reasons.append(f"made for {ctx.services[0]}")
            else:
                score -= 3.0
        if kb := sorted(set(w.kb_ids) & set(ctx.kb_runbooks)):
            score += 0.75
            reasons.append(f"the knowledge base suggests {kb[0]}")
        if hits := [k for k in w.keywords  # phrases too: "roll back", "fail over"
                    if re.search(rf"(?<![a-z0-9-]){re.escape(k)}(?![a-z0-9-])", text)]:
            score += min(0.3 * len(hits), 0.9)
            reasons.append(f"the question mentions {', '.join(hits[:3])}")
        if score > 0:
            out.append(Ranked(rb, round(min(score / 7.0, 1.0), 3), reasons))
    return sorted(out, key=lambda r: (-r.score, r.runbook.name))


@dataclass
class Proposal:
    runbook: str
    title: str
    risk: str
    score: float
    reasons: list[str]
    params: dict[str, Any]
    missing: list[str]  # parameters the context could not fill
    plan: Plan | None  # None while parameters are missing


def fill_params(rb: Runbook, ctx: IncidentContext) -> tuple[dict[str, Any], list[str]]:
    """Values from the context's facts for parameters that name a `from_context` key (only
    values that pass the parameter's checks), and the required ones still missing."""
    facts = {"service": ctx.services[0]} if ctx.services else {}
    facts.update(ctx.facts)
    params: dict[str, Any] = {}
    missing = []
    for name, spec in rb.parameters.items():
        value = facts.get(spec.from_context or "")
        if value is not None:
            try:
                params[name] = check_value(name, spec, value)
                continue
            except ParameterError:
                pass
        if spec.default is None:
            missing.append(name)
    return params, missing


def propose(library: RunbookLibrary, ctx: IncidentContext, target: str, k: int = 3
            ) -> list[Proposal]:
    out = []
    for ranked in rank_runbooks(library, ctx)[:k]:
        rb = ranked.runbook
        params, missing = fill_params(rb, ctx)
        plan = None if missing else render_plan(rb, params, target)
        out.append(Proposal(rb.name, rb.title, rb.risk, ranked.score, ranked.reasons, params,
                            missing, plan))
    return out
