"""Questions as on-call engineers type them (issue 25), end to end over the sandbox and the real
router: typos, fragments, context questions about the incident in front of you, hypotheses,
impact, remediation. Each answer is checked against the scenario's ground truth."""

from __future__ import annotations

import pytest

from bot.answer import Question
from bot.grounding import ungrounded_numbers

pytestmark = pytest.mark.slow


def ask(runtime, text):
    answer = runtime.copilot.answer(Question(text, runtime.default_now()))
    assert ungrounded_numbers(answer) == [], answer.summary
    return answer


@pytest.fixture(scope="module")
def seeded_for(runtime_for):
    from knowledge.corpus import demo_documents
    from knowledge.ingest import ingest_documents

    def get(scenario: str):
        runtime = runtime_for(scenario)
        ingest_documents(runtime.kb.store, demo_documents())
        return runtime

    return get


def test_a_typo_of_an_ordinary_word_is_not_a_service(runtime_for):
    answer = ask(runtime_for("dependency-down-redis"), "wat changed in teh last 2h")
    assert answer.intent == "changes" and "recent_changes" in answer.tools


@pytest.mark.parametrize(("text", "service", "metric"), [
    ("frontend error % rn", "frontend", "error_rate"),
    ("mem usage cart", "cart", "memory"),
])
def test_fragments_read_the_series_they_name(runtime_for, text, service, metric):
    answer = ask(runtime_for("memory-leak-cart"), text)
    assert answer.intent == "metrics"
    assert any(f.service == service and f.metric == metric for f in answer.findings), \
        answer.summary


def test_when_did_this_start_dates_the_first_anomaly(runtime_for):
    answer = ask(runtime_for("dependency-down-redis"), "when did this start")
    assert answer.summary.startswith("It started at 20:15 UTC"), answer.summary


def test_impact_says_the_entry_points_error_share_and_what_is_not_measured(runtime_for):
    answer = ask(runtime_for("dependency-down-redis"), "blast radius?")
    assert answer.intent == "investigate"
    first = answer.summary.splitlines()
    assert first[0].startswith("Impact: 4 services affected (cart, checkout, frontend, redis)")
    assert "error rate of frontend" in first[1] and "share of user requests" in first[1]
    assert any("cannot give a user count" in line for line in first[:5])


@pytest.mark.parametrize(("scenario", "text", "verdict"), [
    ("network-delay-shipping", "is it the network?", "Possibly: shipping"),
    ("dependency-down-redis", "is it the network?", "Unlikely: the most likely cause, redis"),
    ("dependency-down-redis", "is it the db?", "Unlikely: postgres looks normal"),
    ("dependency-down-redis", "could redis be the cause", "Likely: redis"),
    ("bad-deploy-checkout", "was it the deploy?", "Possibly: deploy at 18:05 UTC"),
    ("cpu-hog-recommendation", "was it the deploy?", "Unlikely: no deploy or config change"),
    ("quiet", "is it the network?", "Nothing is abnormal right now"),
])
def test_hypotheses_are_confirmed_or_ruled_out_with_evidence(runtime_for, scenario, text,
                                                            verdict):
    answer = ask(runtime_for(scenario), text)
    assert answer.intent == "investigate" and answer.summary.startswith(verdict), answer.summary


def test_seen_this_before_outside_a_thread_means_the_current_incident(seeded_for):
    answer = ask(seeded_for("dependency-down-redis"), "have we seen this before?")
    assert answer.summary.startswith("(about the current incident: redis")
    assert answer.similar_incidents
    assert "redis" in answer.similar_incidents[0].title.lower(), answer.similar_incidents


def test_remediation_hands_over_the_executable_runbook_and_how_to_request_it(seeded_for):
    answer = ask(seeded_for("bad-deploy-checkout"), "roll back checkout")
    assert answer.intent == "runbook" and "propose_runbooks" in answer.tools
    assert "$ helm rollback checkout" in answer.summary
    assert "opscopilot runbook request roll-back-deploy" in answer.summary
    assert "/ops runbook run roll-back-deploy" in answer.summary


def test_log_answers_show_the_telling_error_and_the_warnings(runtime_for):
    answer = ask(runtime_for("dependency-down-redis"), "what's cart logging")
    errors = next(f for f in answer.findings if f.kind == "log_errors")
    assert "connection refused" in errors.text, errors.text
    leak = ask(runtime_for("memory-leak-cart"), "what's cart logging")
    warnings = next(f for f in leak.findings if f.kind == "log_warnings")
    assert "GC pause" in warnings.text


def test_changes_say_who_made_them(runtime_for):
    answer = ask(runtime_for("bad-deploy-checkout"), "who shipped what")
    assert answer.intent == "changes"
    deploy = next(f for f in answer.findings if f.kind == "change" and f.service == "checkout")
    assert " by " in deploy.text and "v3.11.9 -> v3.12.0" in deploy.text, deploy.text


def test_a_comparison_with_an_earlier_moment_compares_now_with_then(runtime_for):
    runtime = runtime_for("dependency-down-redis")
    answer = ask(runtime, "cart latency now vs this morning")
    assert answer.intent == "metrics"
    text = next(f.text for f in answer.findings if f.service == "cart")
    assert "(last 5 min), up from" in text and "this morning (09:00 UTC)" in text, text
    # the sandbox holds one day: yesterday is said to be missing, not made up
    yesterday = ask(runtime, "compare error rate today vs yesterday")
    assert "compared 0 with the same time yesterday (no data from then for" in yesterday.summary


def test_slowest_endpoints_come_from_the_traces_operations(runtime_for):
    answer = ask(runtime_for("latency-injection-currency"), "top 5 slowest endpoints")
    assert answer.intent == "traces"
    ops = [f for f in answer.findings if f.kind == "trace_operation"]
    assert len(ops) == 5 and ops[0].text.startswith("slow operation: ")
    assert any("CurrencyService/Convert on currency" in f.text for f in ops), [f.text for f in ops]


def test_endpoints_of_the_incident_list_its_own_operations_first_with_failures(runtime_for):
    answer = ask(runtime_for("bad-deploy-checkout"), "top 5 slowest endpoints")
    assert answer.intent == "traces" and answer.services == ["checkout"], answer.summary
    ops = [f for f in answer.findings if f.kind == "trace_operation"]
    assert ops[0].service == "checkout" and "CheckoutService/PlaceOrder" in ops[0].text
    assert ops[0].text.endswith(" failed"), ops[0].text  # the bad deploy fails a share of them


def test_roll_back_to_which_version_names_the_previous_one(seeded_for):
    answer = ask(seeded_for("bad-deploy-checkout"), "roll back to which version")
    assert answer.intent == "runbook" and "recent_changes" in answer.tools
    assert "Rolling back checkout returns it to v3.11.9" in answer.summary, answer.summary


@pytest.mark.parametrize(("scenario", "text", "runbook"), [
    ("pool-exhaustion-payment", "raise pool size payment", "raise-connection-pool"),
    ("disk-full-postgres", "clear disk on postgres pls", "clear-disk"),
])
def test_a_request_to_act_gets_the_runbook_not_a_reading(seeded_for, scenario, text, runbook):
    answer = ask(seeded_for(scenario), text)
    assert answer.intent == "runbook", answer.summary
    assert any(runbook in r.name for r in answer.runbooks), [r.name for r in answer.runbooks]


def test_a_log_answer_names_a_second_kind_of_error(runtime_for):
    answer = ask(runtime_for("bad-deploy-catalog"), "catalog err logs pls")
    errors = next(f for f in answer.findings if f.kind == "log_errors")
    # ground truth: the bad deploy panics and throws, each split per handler
    assert "Unhandled exception" in errors.text and "nil pointer" in errors.text, errors.text


@pytest.mark.parametrize(("text", "intent", "says"), [
    ("start time?", "investigate", "It started at 20:15 UTC"),
    ("checkout errs now vs 1h ago", "metrics", "1 hours ago"),
    ("whats the err % on checkout vs yday", "metrics", "the same time yesterday"),
])
def test_terse_incident_questions_and_comparisons(runtime_for, text, intent, says):
    answer = ask(runtime_for("dependency-down-redis"), text)
    assert answer.intent == intent and says in answer.summary, answer.summary
