"""Intent + entities -> tool calls."""

from bot.planner import make_plan
from tests.conftest import SHOP
from tools.backends import downstream

ALL_TOOLS = {"detect_metric_anomalies", "search_logs", "recent_changes", "firing_alerts",
             "query_metrics"}


def plan(intent, services=(), metrics=(), tools=ALL_TOOLS, **kw):
    return make_plan(intent, list(services), list(metrics), 1000, 2800, set(tools), SHOP, **kw)


def test_downstream_is_nearest_first_and_complete():
    assert downstream(SHOP, "checkout") == ["checkout", "payment", "cart", "postgres", "redis"]
    assert downstream(SHOP, "redis") == ["redis"]


def test_investigate_a_service_scans_it_and_what_it_calls():
    p = plan("investigate", ["checkout"])
    tools = [c.tool for c in p.calls]
    assert tools == ["detect_metric_anomalies", "search_logs", "recent_changes", "firing_alerts"]
    scan = p.calls[0].args
    assert scan["services"] == ["checkout", "payment", "cart", "postgres", "redis"]
    assert (scan["start"], scan["end"]) == (1000, 2800)
    # changes look further back than the window: a deploy before the trouble explains it
    assert p.calls[2].args["start"] < 1000


def test_investigate_without_service_scans_everything():
    p = plan("investigate")
    assert p.calls[0].args["services"] == []
    assert p.scope == SHOP.services()


def test_metrics_and_logs_carry_entities():
    p = plan("metrics", ["cart"], ["latency_p99"])
    assert p.calls[0].args == {"services": ["cart"], "metrics": ["latency_p99"],
                               "start": 1000, "end": 2800}
    p = plan("logs", ["payment"], log_level="ERROR", keywords=["timeout"])
    assert p.calls[0].args["level"] == "ERROR" and p.calls[0].args["contains"] == "timeout"


def test_changes_default_to_the_last_day_without_a_window():
    p = plan("changes", window_given=False)
    assert p.calls[0].args["start"] == 2800 - 24 * 3600


def test_missing_capability_is_said_not_faked():
    for intent in ("traces", "similar_incidents", "runbook", "oncall"):
        p = plan(intent, ["checkout"])
        assert p.calls == [] and p.note


def test_help_and_out_of_scope_call_nothing():
    assert plan("help").calls == [] and plan("out_of_scope").calls == []
