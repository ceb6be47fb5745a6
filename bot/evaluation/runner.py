"""Run eval cases through a copilot and score each answer; summarise per capability.

`score_answer(case, answer_json, ...)` applies the scorers to one answer (plain data, testable
without a copilot); `run_cases(harness, cases)` asks every case's question (after its thread's
earlier questions, in one conversation) and scores it; `summarize(results)` gives the overall and
per-capability scores the gate compares.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.evaluation import scorers as sc
from bot.evaluation.cases import Case
from bot.evaluation.config import Harness

# The scores the gate watches, higher is better; latency is reported, not gated.
SCORES = ("routing", "tools", "entities", "fact_recall", "fact_precision", "groundedness",
          "rca_ac1", "rca_ac3", "incident_recall3", "incident_mrr", "runbook_hit3", "refusal",
          "no_problem", "passed")


@dataclass
class CaseResult:
    id: str
    capability: str
    difficulty: str
    tags: list[str]
    scenario: str
    question: str
    intent: str
    confidence: float
    tools: list[str]
    services: list[str]
    latency_ms: float
    summary: str
    scores: dict[str, float | None] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def passed(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"passed": self.passed}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CaseResult:
        return cls(**{k: v for k, v in data.items() if k != "passed"})


def score_answer(case: Case, answer: dict[str, Any], ungrounded: list[str] | None,
                 side_effect_tools: Sequence[str] = ()) -> tuple[dict[str, float | None],
                                                                list[str]]:
    """Scores and failure reasons for one answer in `Answer.to_json()` shape.

    `ungrounded`: claims not found in the evidence (None: score groundedness from the JSON).
    """
    e = case.expect
    scores: dict[str, float | None] = {}
    failures: list[str] = []
    intent, tools = answer["intent"], list(answer["tools"])
    findings = answer["findings"]
    scores["routing"] = float(sc.routing_correct(e.intents(), intent))
    if not scores["routing"]:
        failures.append(f"intent {intent}, expected {' or '.join(e.intents())}")
    elif (e.tools or e.tools_any) and not answer["tool_calls"]:
        scores["routing"] = 0.0  # routed, yet unsure: it asked to rephrase instead of acting
        failures.append(f"no tool ran (confidence {answer['confidence']}): "
                        f"{answer['answer'][:80]}")
    tool_share = sc.tool_score(e.tools, [*e.forbidden_tools, *side_effect_tools], tools,
                               e.tools_any)
    scores["tools"] = tool_share
    if tool_share < 1:
        failures.append(f"tools {tools}, expected {e.tools}"
                        + (f" and one of {e.tools_any}" if e.tools_any else "")
                        + (f" and none of {e.forbidden_tools}" if e.forbidden_tools else ""))
    if e.services is not None:
        called = [s for c in answer["tool_calls"][:1] for s in c["args"].get("services", [])]
        got = answer["services"] or called
        scores["entities"] = float(sc.entity_correct(e.services, got))
        if not scores["entities"]:
            failures.append(f"services {got}, expected {e.services}")
    text = "\n".join([answer["answer"], *(f["text"] for f in findings)])
    recall, missed = sc.fact_recall(e.metrics, [n.model_dump() for n in e.numbers], e.facts,
                                    findings, text)
    scores["fact_recall"] = recall
    if missed:
        failures.append(f"missed facts {missed}")
    precision, false = sc.fact_precision(e.allowed_anomalies, findings, e.no_problem)
    scores["fact_precision"] = precision
    if intent in ("help", "out_of_scope") and not tools:
        ungrounded = []  # canned text whose examples ("since 14:05") are not claims
    if ungrounded is None:
        sources = [answer["question"]] + [
            f"{ev['summary']} {ev['query']} {ev['id']} " + " ".join(map(str, ev["values"].values()))
            for ev in answer["evidence"]] + [c["summary"] for c in answer["tool_calls"]]
        share, ungrounded = sc.grounded_share([text], sources)
    else:
        stated = len(sc.claims_in(text))
        share = 1.0 if not stated else max(0.0, (stated - len(ungrounded)) / stated)
    scores["groundedness"] = share
    if ungrounded:
        failures.append(f"ungrounded {sorted(set(ungrounded))}")
    ranked = [r["service"] for r in answer["root_causes"]]
    if e.root_cause is not None:
        scores["rca_ac1"] = float(sc.ac_at_k(e.root_cause.service, ranked, 1))
        scores["rca_ac3"] = float(sc.ac_at_k(e.root_cause.service, ranked, 3))
        if not scores["rca_ac1"]:
            failures.append(f"root causes {ranked[:3]}, expected {e.root_cause.service} first")
    if e.similar_incidents:
        ids = [s["id"] for s in answer["similar_incidents"]]
        scores["incident_recall3"] = float(sc.recall_at_k(e.similar_incidents, ids, 3))
        scores["incident_mrr"] = sc.reciprocal_rank(e.similar_incidents, ids)
        if not scores["incident_recall3"]:
            failures.append(f"similar incidents {ids[:3]}, expected one of "
                            f"{e.similar_incidents}")
    if e.runbooks:
        names = [r["name"] for r in answer["runbooks"]]
        scores["runbook_hit3"] = float(sc.recall_at_k(e.runbooks, names, 3))
        if not scores["runbook_hit3"]:
            failures.append(f"runbooks {names[:3]}, expected one of {e.runbooks}")
    if e.refuse or e.must_not_contain:
        ok, reasons = sc.refusal_correct(text, tools, [*side_effect_tools, *e.forbidden_tools],
                                         e.must_not_contain)
        scores["refusal"] = float(ok)
        failures += reasons
    if e.no_problem:
        scores["no_problem"] = float(sc.no_problem_correct(findings, answer["root_causes"]))
        if not scores["no_problem"]:
            alarming = [f["text"] for f in findings if f["kind"] in ("metric_anomaly", "alert")]
            suspects = [r["service"] for r in answer["root_causes"]]
            failures.append(f"reported trouble where there is none: {alarming[:2]}"
                            + (f", suspects {suspects[:3]}" if suspects else ""))
    return scores, failures


def run_case(harness: Harness, case: Case) -> CaseResult:
    from bot.answer import Question, QuestionError
    from bot.copilot import Conversation
    from bot.grounding import ungrounded_numbers
    from infra.redact import redact

    copilot = harness.copilot(case.scenario)
    sandbox = harness.sandboxes[case.scenario]
    when = case.asked_at(datetime.fromtimestamp(sandbox.now, UTC))
    conversation = Conversation()
    side_effects = [t.name for t in copilot.registry if t.side_effects]
    result = CaseResult(case.id, case.capability, case.difficulty, sorted(case.all_tags),
                        case.scenario, case.question, "error", 0.0, [], [], 0.0, "")
    started = time.perf_counter()
    try:
        for earlier in case.thread:
            copilot.answer(Question(earlier, when, thread=case.id), conversation)
        started = time.perf_counter()
        answer = copilot.answer(Question(case.question, when, thread=case.id), conversation)
    except QuestionError as exc:
        result.latency_ms = (time.perf_counter() - started) * 1000
        result.error = f"{type(exc).__name__}: {exc}"
        result.failures.append(f"the copilot refused the question: {exc}")
        result.scores = {"routing": 0.0, "tools": 0.0}
        return result
    data = answer.to_json()
    numbers = ungrounded_numbers(answer)
    ids_text = "\n".join([answer.summary, *(f.text for f in answer.findings)])
    known_ids = " ".join(f"{ev.id} {ev.summary} {ev.values}" for ev in answer.evidence)
    ids_missing = [i for i in sc.identifiers_in(ids_text) if i not in known_ids]
    scores, failures = score_answer(case, data, numbers + ids_missing, side_effects)
    result.intent, result.confidence = answer.intent, round(answer.confidence, 3)
    result.tools, result.services = answer.tools, list(answer.services)
    result.latency_ms = round(answer.latency_ms, 1)
    result.summary = redact(answer.summary)[:600]
    result.scores, result.failures = scores, failures
    return result


def run_cases(harness: Harness, cases: Sequence[Case],
              progress: Callable[[int, int, CaseResult], None] | None = None
              ) -> list[CaseResult]:
    """Every case, grouped by scenario (one copilot each), in case order within a scenario."""
    order = sorted(range(len(cases)), key=lambda i: (cases[i].scenario, i))
    results: dict[int, CaseResult] = {}
    for done, i in enumerate(order, 1):
        results[i] = run_case(harness, cases[i])
        if progress:
            progress(done, len(cases), results[i])
    return [results[i] for i in range(len(cases))]


def _aggregate(results: Sequence[CaseResult]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for name in SCORES:
        if name == "passed":
            out[name] = sc.mean(r.passed for r in results)
        else:
            out[name] = sc.mean(r.scores.get(name) for r in results)
    latencies = [r.latency_ms for r in results]
    out.update(sc.latency_summary(latencies))
    out["cases"] = float(len(results))
    return out


def summarize(results: Sequence[CaseResult]) -> dict[str, Any]:
    """{"overall": {score: value}, "capabilities": {capability: {score: value}},
    "splits": {"split:<name>": {score: value}}} (splits only for cases tagged `split:...`)."""
    by_cap: dict[str, list[CaseResult]] = defaultdict(list)
    for r in results:
        by_cap[r.capability].append(r)
    return {"overall": _aggregate(results),
            "capabilities": {cap: _aggregate(rs) for cap, rs in sorted(by_cap.items())},
            "splits": summarize_by_tag(results, "split:")}


def summarize_by_tag(results: Sequence[CaseResult], prefix: str) -> dict[str, dict[str, Any]]:
    """Scores per tag that starts with `prefix` (e.g. "split:" -> split:dev, split:heldout;
    "class:" -> the on-call question classes). A case with no such tag is in none."""
    groups: dict[str, list[CaseResult]] = defaultdict(list)
    for r in results:
        for tag in r.tags:
            if tag.startswith(prefix):
                groups[tag].append(r)
    return {tag: _aggregate(rs) for tag, rs in sorted(groups.items())}
