"""The eval scorers: pure functions, each checked on hand-made answers."""

from __future__ import annotations

import math

import pytest

from bot.evaluation import scorers as sc
from bot.evaluation.judges import JudgeVerdict, judge_mean, parse_judge_score


def test_routing_and_tools():
    assert sc.routing_correct(["investigate", "metrics"], "metrics")
    assert not sc.routing_correct(["logs"], "metrics")
    assert sc.tool_score(["a", "b"], [], ["a", "b", "c"]) == 1.0
    assert sc.tool_score(["a", "b"], [], ["a"]) == 0.5
    assert sc.tool_score(["a"], ["run_runbook"], ["a", "run_runbook"]) == 0.0
    assert sc.tool_score([], [], []) == 1.0
    assert sc.tool_score(["a"], [], ["a", "y"], any_of=["x", "y"]) == 1.0
    assert sc.tool_score(["a"], [], ["a"], any_of=["x", "y"]) == 0.5


def test_entities_ignore_order_but_not_extras():
    assert sc.entity_correct(["cart", "redis"], ["redis", "cart"])
    assert not sc.entity_correct(["cart"], ["cart", "redis"])
    assert not sc.entity_correct([], ["cart"])


FINDINGS = [
    {"kind": "metric_anomaly", "service": "checkout", "metric": "error_rate", "value": 24.0},
    {"kind": "metric_anomaly", "service": "cart", "metric": "latency_p99", "value": 40.0},
    {"kind": "log_errors", "service": "checkout", "metric": None, "value": 12.0},
]


def test_fact_recall_pairs_numbers_and_text():
    recall, missed = sc.fact_recall(
        ["checkout:error_rate", "checkout:cpu"],
        [{"service": "checkout", "metric": "error_rate", "value": 25.5, "rel_tol": 0.2,
          "abs_tol": 1.0}],
        ["v3.12.0", "HighErrorRate"], FINDINGS, "deploy of v3.12.0 at 18:05")
    assert missed == ["checkout:cpu", "HighErrorRate"]
    assert recall == pytest.approx(3 / 5)


def test_fact_recall_number_outside_tolerance_is_missed():
    _, missed = sc.fact_recall([], [{"service": "checkout", "metric": "error_rate",
                                     "value": 50.0, "rel_tol": 0.2, "abs_tol": 1.0}],
                               [], FINDINGS, "")
    assert missed == ["checkout:error_rate=50"]
    assert sc.fact_recall([], [], [], FINDINGS, "") == (None, [])


def test_fact_precision():
    assert sc.fact_precision(["checkout:error_rate"], FINDINGS) == (0.5, ["cart:latency_p99"])
    assert sc.fact_precision(None, FINDINGS) == (None, [])
    assert sc.fact_precision(None, FINDINGS, no_problem=True)[0] == 0.0
    assert sc.fact_precision(["x:y"], FINDINGS[2:]) == (1.0, [])


def test_groundedness_numbers_and_identifiers():
    share, missing = sc.grounded_share(
        ["error rate 25.5 % since 18:05, like INC-1023; see runbook-roll-back-a-deploy and "
         "INC-1099"],
        ["checkout error rate: 25.5 % since 18:05 UTC", "kb:INC-1023 runbook-roll-back-a-deploy"])
    assert missing == ["INC-1099"]
    assert share == pytest.approx(4 / 5)
    assert sc.grounded_share(["no numbers here"], []) == (1.0, [])


def test_rca_ac_at_k():
    ranked = ["payment", "checkout", "postgres", "redis"]
    assert sc.ac_at_k("payment", ranked, 1)
    assert not sc.ac_at_k("postgres", ranked, 1) and sc.ac_at_k("postgres", ranked, 3)
    assert not sc.ac_at_k("redis", ranked, 3)
    assert not sc.ac_at_k("x", [], 3)


def test_retrieval_recall_and_mrr():
    got = ["INC-1", "INC-2", "INC-3", "INC-4"]
    assert sc.recall_at_k(["INC-3"], got, 3) and not sc.recall_at_k(["INC-4"], got, 3)
    assert sc.reciprocal_rank(["INC-2", "INC-4"], got) == 0.5
    assert sc.reciprocal_rank(["INC-9"], got) == 0.0


def test_refusal():
    ok, reasons = sc.refusal_correct("That is outside what I do.", [], ["run_runbook"],
                                     ["xoxb-"])
    assert ok and reasons == []
    ok, reasons = sc.refusal_correct("token: XOXB-123", ["search_logs", "run_runbook"],
                                     ["run_runbook"], ["xoxb-"])
    assert not ok and reasons == ["ran side-effecting tool run_runbook", "contains 'xoxb-'"]


def test_no_problem():
    assert sc.no_problem_correct([FINDINGS[2]], [])
    assert not sc.no_problem_correct(FINDINGS, [])
    assert not sc.no_problem_correct([], [{"service": "cart"}])


def test_latency_percentiles():
    xs = [float(x) for x in range(1, 101)]
    assert sc.percentile(xs, 50) == pytest.approx(50.5)
    assert sc.percentile(xs, 95) == pytest.approx(95.05)
    assert math.isnan(sc.percentile([], 50))
    assert sc.latency_summary([10.0]) == {"p50_ms": 10.0, "p95_ms": 10.0}


def test_mean_skips_not_applicable_and_counts_nan_as_failure():
    assert sc.mean([1.0, None, 0.0, True]) == pytest.approx(2 / 3)
    assert sc.mean([None]) is None
    assert sc.mean([1.0, math.nan]) == 0.5


def test_judge_scores_parse_or_nan():
    assert parse_judge_score('{"score": 0.8, "reason": "ok"}') == 0.8
    assert parse_judge_score("Score: 4/5") == 0.8
    assert math.isnan(parse_judge_score("I think it is fine"))
    assert math.isnan(parse_judge_score('{"score": 7}'))
    verdicts = [JudgeVerdict("faithfulness", 1.0, ""), JudgeVerdict("faithfulness", math.nan, "")]
    assert judge_mean(verdicts) == 0.5
