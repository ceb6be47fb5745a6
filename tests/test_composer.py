"""The composer on hand-made tool results: structure, grounding, honesty about failures."""

from bot.composer import compose
from bot.grounding import ungrounded_numbers
from bot.planner import ToolCall, make_plan
from tests.conftest import SHOP
from tools.base import Evidence, Finding, ToolResult, ToolStatus

TOOLS = {"detect_metric_anomalies", "search_logs", "recent_changes", "firing_alerts",
         "search_incidents", "suggest_runbooks"}


def investigate_plan():
    return make_plan("investigate", ["checkout"], [], 1000, 2800, TOOLS, SHOP)


def metric_result(anomalous: bool) -> ToolResult:
    ev = Evidence("metric:payment:error_rate", "detect_metric_anomalies", "sandbox",
                  'error_rate{service="payment"}', "payment error rate",
                  {"current": "23.4 %", "baseline": "0.31 %", "ratio": "x75", "since": "00:20 UTC"})
    findings = [Finding("metric_anomaly", "payment",
                        "error rate of payment is 23.4 % (last 5 min), up from 0.31 % in the hour "
                        "before (x75), since 00:20 UTC", 0.95, metric="error_rate", value=23.4,
                        baseline=0.31, since=1200, evidence=[ev.id])] if anomalous else []
    summary = "scanned 40 series of 5 services: " + ("1" if anomalous else "0") + " outside"
    return ToolResult("detect_metric_anomalies", ToolStatus.OK, summary, findings,
                      [ev] if anomalous else [])


def others(logs_down: bool = False) -> list[ToolResult]:
    logs = (ToolResult("search_logs", ToolStatus.ERROR, "Loki at http://loki:3100 did not answer "
                       "within 5 s") if logs_down else
            ToolResult("search_logs", ToolStatus.NO_DATA, "no matching log lines"))
    return [logs, ToolResult("recent_changes", ToolStatus.NO_DATA, "no changes"),
            ToolResult("firing_alerts", ToolStatus.NO_DATA, "no alerts")]


def test_anomalies_give_a_grounded_answer_with_a_root_cause_and_chart():
    plan = investigate_plan()
    answer = compose("what is wrong with checkout?", "investigate", 0.9, plan,
                     [metric_result(True), *others()], SHOP)
    lines = answer.summary.splitlines()
    assert lines[0].startswith("checkout itself looks normal")  # only its dependency is not
    assert "(payment)" in lines[0]
    assert "23.4 %" in answer.summary and "Most likely cause: payment" in answer.summary
    assert answer.root_causes[0].service == "payment"
    assert answer.charts[0].metric == "error_rate"
    assert ungrounded_numbers(answer) == []
    assert answer.tools == [c.tool for c in plan.calls]


def test_nothing_wrong_is_said_plainly():
    answer = compose("what is wrong with checkout?", "investigate", 0.9, investigate_plan(),
                     [metric_result(False), *others()], SHOP)
    assert answer.summary.startswith("Nothing abnormal in checkout and its dependencies")
    assert answer.root_causes == [] and ungrounded_numbers(answer) == []


def test_a_failed_backend_is_reported_and_lowers_confidence():
    ok = compose("q", "investigate", 0.9, investigate_plan(), [metric_result(True), *others()],
                 SHOP)
    down = compose("q", "investigate", 0.9, investigate_plan(),
                   [metric_result(True), *others(logs_down=True)], SHOP)
    assert "Could not use search_logs: Loki at http://loki:3100 did not answer" in down.summary
    assert down.confidence < ok.confidence


def test_a_number_not_in_the_evidence_is_caught():
    answer = compose("q", "investigate", 0.9, investigate_plan(),
                     [metric_result(True), *others()], SHOP)
    answer.summary += "\nAbout 42 % of users are affected."
    assert ungrounded_numbers(answer) == ["42"]


def test_knowledge_findings_fill_the_answer_lists():
    plan = investigate_plan()
    ev = Evidence("kb:INC-7", "search_incidents", "knowledge-base", 'kb search "x"',
                  "passage", {"id": "INC-7", "title": "Payment pool starvation", "score": 0.9,
                              "date": "2026-11-01"})
    kb = ToolResult("search_incidents", ToolStatus.OK, "1 similar past incident", [
        Finding("similar_incident", "payment",
                "similar past incident INC-7 (2026-11-01): Payment pool starvation", 0.9,
                evidence=[ev.id])], [ev])
    plan.calls.append(ToolCall("search_incidents", {"query": "x"}))
    answer = compose("q", "investigate", 0.9, plan, [metric_result(True), *others(), kb], SHOP)
    assert [(s.id, s.title) for s in answer.similar_incidents] == [
        ("INC-7", "Payment pool starvation")]
    assert "Similar past incidents:" in answer.summary
    assert ungrounded_numbers(answer) == []


def test_help_and_out_of_scope_need_no_tools():
    for intent in ("help", "out_of_scope"):
        plan = make_plan(intent, [], [], 1000, 2800, TOOLS, SHOP)
        answer = compose("q", intent, 0.9, plan, [], SHOP)
        assert answer.summary and answer.tool_calls == []
