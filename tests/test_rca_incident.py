"""The incident context tool over the sandbox, and how the planner and composer use it."""

from __future__ import annotations

import pytest

from bot.composer import compose
from bot.grounding import ungrounded_numbers
from bot.planner import enrichment_calls, make_plan
from tests.conftest import SHOP
from tools.base import ToolRegistry, ToolStatus
from tools.incident import IncidentContext
from tools.sandbox.backend import SandboxBackend
from tools.sandbox.simulator import load_sandbox

TOOLS = {"incident_context", "detect_metric_anomalies", "search_logs", "recent_changes",
         "firing_alerts", "search_incidents"}


def registry_for(scenario: str) -> tuple[ToolRegistry, SandboxBackend, int]:
    sandbox = load_sandbox(scenario)
    backend = SandboxBackend(sandbox)
    registry = ToolRegistry()
    registry.register(IncidentContext(backend, backend, backend, backend, backend))
    return registry, backend, sandbox.now


@pytest.mark.parametrize(("scenario", "culprit"), [("bad-deploy-checkout", "checkout"),
                                                   ("dependency-down-redis", "redis"),
                                                   ("cert-expiry-payment", "payment")])
def test_one_call_gathers_everything_and_ranks_the_culprit(scenario, culprit):
    registry, _, now = registry_for(scenario)
    result = registry.run("incident_context", {"start": now - 3600, "end": now})
    assert result.status is ToolStatus.OK, result.summary
    kinds = {f.kind for f in result.findings}
    assert {"metric_anomaly", "root_cause", "alert"} <= kinds
    causes = [f for f in result.findings if f.kind == "root_cause"]
    assert causes[0].service == culprit, [c.text for c in causes]
    assert result.data["clear"] and result.data["root_causes"][0]["service"] == culprit
    evidence = {e.id: e for e in result.evidence}
    top = evidence[causes[0].evidence[0]]
    assert all(r in top.values.values() for r in result.data["root_causes"][0]["reasons"])
    assert causes[0].text.endswith("; ".join(result.data["root_causes"][0]["reasons"]))


def test_a_bad_deploy_is_named_with_its_version_and_timing():
    registry, _, now = registry_for("bad-deploy-checkout")
    result = registry.run("incident_context", {"start": now - 3600, "end": now})
    top = next(f for f in result.findings if f.kind == "root_cause")
    assert "deploy checkout v" in top.text and "the first anomaly" in top.text
    assert result.data["changes_near_onset"]


def test_quiet_window_has_no_root_cause():
    registry, _, now = registry_for("quiet")
    result = registry.run("incident_context", {"start": now - 3600, "end": now})
    assert result.status is ToolStatus.OK
    assert not [f for f in result.findings if f.kind in ("root_cause", "metric_anomaly")]


def test_investigate_plans_one_incident_context_call():
    plan = make_plan("investigate", ["checkout"], [], 1000, 2800, TOOLS, SHOP)
    assert [c.tool for c in plan.calls] == ["incident_context"]
    assert plan.calls[0].args["services"] == ["checkout", "payment", "cart", "postgres", "redis"]
    changes = make_plan("changes", [], [], 1000, 9000, TOOLS, SHOP)
    assert [c.tool for c in changes.calls] == ["recent_changes", "incident_context"]
    assert changes.calls[1].args["start"] == 9000 - 3600


def test_answers_show_the_ranked_causes_grounded():
    registry, backend, now = registry_for("bad-deploy-checkout")
    plan = make_plan("investigate", ["checkout"], [], now - 1800, now, set(registry.names()),
                     backend)
    results = [registry.run(c.tool, c.args) for c in plan.calls]
    answer = compose("why is checkout failing?", "investigate", 0.9, plan, results, backend)
    assert answer.root_causes[0].service == "checkout"
    assert "Most likely cause: checkout" in answer.summary
    assert "the first anomaly" in answer.root_causes[0].reason
    assert ungrounded_numbers(answer) == []
    calls, query = enrichment_calls([f for r in results for f in r.findings], backend, TOOLS)
    assert calls and calls[0].args["services"][0] == "checkout" and query


def test_what_changed_links_the_deploy_to_the_trouble():
    sandbox = load_sandbox("bad-deploy-checkout")
    backend = SandboxBackend(sandbox)
    registry = ToolRegistry()
    from tools.events import RecentChanges

    registry.register(RecentChanges(backend))
    registry.register(IncidentContext(backend, backend, backend, backend, backend))
    now = sandbox.now
    plan = make_plan("changes", [], [], now - 3 * 3600, now, set(registry.names()), backend)
    results = [registry.run(c.tool, c.args) for c in plan.calls]
    answer = compose("what changed in the last 3 hours?", "changes", 0.9, plan, results, backend)
    assert "Changes that line up with the current anomalies:" in answer.summary
    assert "- checkout: " in answer.summary
    assert answer.root_causes and answer.root_causes[0].service == "checkout"
    assert ungrounded_numbers(answer) == []


@pytest.mark.parametrize(("scenario", "culprit"), [("cpu-hog-recommendation", "recommendation"),
                                                   ("dependency-down-redis", "redis")])
def test_metrics_alone_still_rank_when_no_logs_backend_is_configured(scenario, culprit):
    from tools.backends.seams import Unconfigured

    sandbox = load_sandbox(scenario)
    backend = SandboxBackend(sandbox)
    registry = ToolRegistry()
    registry.register(IncidentContext(backend, backend, Unconfigured("logs"), backend, backend))
    result = registry.run("incident_context", {"start": sandbox.now - 3600, "end": sandbox.now})
    causes = [f for f in result.findings if f.kind == "root_cause"]
    assert causes and causes[0].service == culprit, (result.data.get("note"), result.summary)
    assert "no logs backend is configured" in result.data["ranked_without_logs"]
    assert "no logs backend is configured" in result.data["failed"]["search_logs"]


def test_the_answer_says_which_source_it_could_not_check():
    from tools.backends.seams import Unconfigured

    sandbox = load_sandbox("cpu-hog-recommendation")
    backend = SandboxBackend(sandbox)
    registry = ToolRegistry()
    registry.register(IncidentContext(backend, backend, Unconfigured("logs"), backend, backend))
    plan = make_plan("investigate", [], [], sandbox.now - 1800, sandbox.now,
                     set(registry.names()), backend)
    results = [registry.run(c.tool, c.args) for c in plan.calls]
    answer = compose("what is wrong?", "investigate", 1.0, plan, results, backend)
    assert "Not checked (search_logs): no logs backend is configured" in answer.summary
    assert "metrics, changes and alerts only" in answer.summary
    assert answer.root_causes[0].service == "recommendation"
    assert ungrounded_numbers(answer) == []


class SandboxPrometheus:
    """A Prometheus HTTP API (query_range, label values) over a sandbox scenario's series,
    answering the default PromQL templates, as a team's Prometheus would."""

    def __init__(self, scenario: str) -> None:
        from tools.backends.prometheus import DEFAULT_TEMPLATES, fill

        self.sandbox = load_sandbox(scenario)
        self.queries = {fill(t, s, "service", "2m"): (s, m)
                        for s in self.sandbox.observed for m, t in DEFAULT_TEMPLATES.items()
                        if m in self.sandbox.metric_names(s)}

    def __call__(self, request):
        import httpx

        if request.url.path == "/api/v1/label/__name__/values":  # metric discovery
            from tools.backends.prometheus import metrics_read_by

            names = set().union(*(metrics_read_by(q) for q in self.queries))
            return httpx.Response(200, json={"status": "success", "data": sorted(names)})
        if request.url.path.startswith("/api/v1/label/"):
            return httpx.Response(200, json={"status": "success",
                                             "data": sorted(self.sandbox.observed)})
        q = request.url.params
        found = self.queries.get(q.get("query", ""))
        result = []
        if request.url.path == "/api/v1/query_range" and found:
            ts, vs = self.sandbox.series(*found, int(q["start"]), int(q["end"]) + 1)
            result = [{"metric": {"service": found[0]},
                       "values": [[int(t), repr(float(v))] for t, v in zip(ts, vs, strict=True)]}]
        return httpx.Response(200, json={"status": "success",
                                         "data": {"resultType": "matrix", "result": result}})


def test_prometheus_alone_ranks_the_culprit_from_metrics():
    """Issue 18 item 5: Prometheus configured, no Loki, traces, graph file or change events: the
    incident context still ranks, and says which sources it did without."""
    import httpx

    from bot.app import build_backends, build_registry
    from infra.settings import load_settings

    fake = SandboxPrometheus("cpu-hog-recommendation")
    settings = load_settings(prometheus={"url": "http://prom.test:9090", "alerts": False,
                                         "step_s": fake.sandbox.step})
    backends, sandbox = build_backends(settings, transport=httpx.MockTransport(fake))
    assert sandbox is None and {"logs", "traces", "changes"} <= set(backends.unconfigured)
    registry = build_registry(backends)
    now = fake.sandbox.now
    result = registry.run("incident_context", {"start": now - 3600, "end": now})
    assert result.status is ToolStatus.OK, result.summary
    ranked = result.data["root_causes"]
    assert ranked and ranked[0]["service"] == "recommendation", result.data.get("note")
    # No call graph is known (no traces, no graph file): the rules for none apply, and the
    # reasons say so; how sure the ranking is stays its calibrated own ("clear" or the note).
    assert "no call graph given" in ranked[0]["reasons"]
    assert "ranking not possible" not in str(result.data["note"])
    assert result.data["clear"] or "recommendation leads" in result.data["note"]
    assert "no logs backend is configured" in result.data["ranked_without_logs"]
