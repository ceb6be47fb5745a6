"""End to end over the real sandbox and the real router: questions in, grounded answers out."""

from __future__ import annotations

import pytest

from bot.answer import Question
from bot.copilot import Conversation
from bot.grounding import ungrounded_numbers
from evals.findings_accuracy import score_case
from tools.sandbox.scenario import list_scenarios

pytestmark = pytest.mark.slow

FAULT_SCENARIOS = [s.name for s in list_scenarios() if s.faults]


def ask(runtime, text, conversation=None, at=None):
    return runtime.copilot.answer(Question(text, at or runtime.default_now()), conversation)


@pytest.mark.parametrize("scenario", FAULT_SCENARIOS)
def test_findings_match_ground_truth(runtime_for, scenario):
    runtime = runtime_for(scenario)
    for gt in runtime.sandbox.ground_truth:
        answer = ask(runtime, f"what is wrong with {gt.service}?")
        assert answer.intent == "investigate"
        result = score_case(scenario, gt, answer)
        assert result.expected, f"{scenario}: ground truth names no metric of {gt.service}"
        missed = set(result.expected) - set(result.found)
        assert not missed, (f"{scenario}: missed {missed}; errors {result.value_errors}; "
                            f"findings {[f.text for f in answer.findings]}")
        assert ungrounded_numbers(answer) == []


@pytest.mark.parametrize("scenario", FAULT_SCENARIOS)
def test_top_root_cause_is_the_faulty_service(runtime_for, scenario):
    runtime = runtime_for(scenario)
    gt = runtime.sandbox.ground_truth[0]
    answer = ask(runtime, "is anything broken right now?")
    assert answer.root_causes, answer.summary
    assert answer.root_causes[0].service == gt.service, [
        (r.service, r.score, r.reason) for r in answer.root_causes]


def test_quiet_scenario_says_nothing_is_wrong(runtime_for):
    runtime = runtime_for("quiet")
    answer = ask(runtime, "is anything broken right now?")
    assert not [f for f in answer.findings if f.kind == "metric_anomaly"], answer.summary
    assert answer.summary.startswith("Nothing abnormal")
    assert answer.root_causes == []


QUESTIONS = [
    ("what is wrong with checkout?", "investigate"),
    ("p99 latency of frontend over the last hour", "metrics"),
    ("show me error logs of checkout since 14:00", "logs"),
    ("what changed in the last 3 hours?", "changes"),
    ("which alerts are firing?", "alerts"),
    ("slow traces for checkout", "traces"),
]


@pytest.mark.parametrize(("text", "intent"), QUESTIONS)
def test_every_intent_answers_grounded(runtime_for, text, intent):
    answer = ask(runtime_for("bad-deploy-checkout"), text)
    assert answer.intent == intent
    assert answer.tool_calls and all(c.status != "error" for c in answer.tool_calls), \
        answer.tool_calls
    assert answer.summary and ungrounded_numbers(answer) == [], answer.summary
    for ev in answer.evidence:
        # rca: the root-cause ranking; correlation: the grouping of firing alerts;
        # knowledge-base: past incidents, once another test module has seeded it
        assert ev.query and ev.tool and ev.source in ("sandbox", "rca", "correlation",
                                                      "knowledge-base")


def test_follow_up_reuses_the_threads_service(runtime_for):
    runtime = runtime_for("bad-deploy-checkout")
    conv = Conversation()
    first = ask(runtime, "what is wrong with checkout?", conv)
    assert first.services == ["checkout"]
    second = ask(runtime, "show me its error logs", conv)
    assert second.intent == "logs"
    assert second.tool_calls[0].args["services"] == ["checkout"]
    assert "from earlier in this thread" in second.summary


@pytest.fixture(scope="module")
def seeded(runtime_for):
    """The demo knowledge base (shop incident history + runbooks) in the tests' data dir."""
    from knowledge.corpus import demo_documents
    from knowledge.ingest import ingest_documents

    runtime = runtime_for("bad-deploy-checkout")
    ingest_documents(runtime.kb.store, demo_documents())
    return runtime


def test_investigation_brings_similar_incidents_and_runbooks(seeded):
    conv = Conversation()
    answer = ask(seeded, "what is wrong with checkout?", conv)
    assert "search_incidents" in answer.tools and "suggest_runbooks" in answer.tools
    assert answer.similar_incidents and answer.runbooks
    # the past incidents found are about the suspect and its kind of trouble
    top = next(f for f in answer.findings if f.kind == "similar_incident")
    assert top.service == "checkout", top.text
    assert ungrounded_numbers(answer) == [], answer.summary
    # "have we seen this before?" in the same thread searches with the incident's context, even
    # after a question about another service (as in the demo)
    ask(seeded, "p99 latency of frontend over the last hour", conv)
    again = ask(seeded, "have we seen this before?", conv)
    assert again.intent == "similar_incidents"
    assert "checkout" in again.tool_calls[0].args["query"]
    assert "checkout" in again.tool_calls[0].args["services"]  # this incident's services first
    assert again.similar_incidents
    services_of = {f.service for f in again.findings if f.kind == "similar_incident"}
    assert "checkout" in services_of, again.findings


def test_runbook_question_suggests_runbooks(seeded):
    answer = ask(seeded, "how do I roll back a bad deploy of checkout?")
    assert answer.intent == "runbook" and answer.runbooks, answer.summary
    assert ungrounded_numbers(answer) == []


def test_out_of_scope_calls_no_tool(runtime_for):
    answer = ask(runtime_for("bad-deploy-checkout"), "what's the weather like in Paris?")
    assert answer.intent == "out_of_scope" and answer.tool_calls == []


def test_a_window_with_no_data_is_no_data_not_an_error(runtime_for):
    runtime = runtime_for("bad-deploy-checkout")
    sb = runtime.sandbox
    from datetime import UTC, datetime
    at = datetime.fromtimestamp(sb.start + 1800, UTC)
    answer = ask(runtime, "cpu of cart yesterday", at=at)
    assert answer.tool_calls and answer.tool_calls[0].status == "no_data"
    assert "Traceback" not in answer.summary
