"""Which backend serves which seam, from settings; "not configured" answers; the service graph
for real mode; and an end-to-end answer with Prometheus down (a closed loopback port) while
Loki, Alertmanager and the change-event store answer."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bot.answer import Question
from bot.app import build_backends, build_registry, build_runtime
from infra.settings import SettingsError, load_settings
from tests.servers import free_port
from tools.backends.alertmanager import AlertmanagerBackend, CombinedAlerts, PrometheusAlertsBackend
from tools.backends.change_store import ChangeEventIn, ChangeStore
from tools.backends.jaeger import JaegerBackend
from tools.backends.loki import LokiBackend
from tools.backends.prometheus import PrometheusBackend
from tools.backends.selection import Unconfigured
from tools.backends.tempo import TempoBackend
from tools.base import ToolStatus
from tools.sandbox.backend import SandboxBackend

PROM, AM, LOKI, JAEGER = ("http://prom.test:9090", "http://am.test:9093",
                          "http://loki.test:3100", "http://jaeger.test:16686")
WHEN = datetime(2026, 11, 20, 14, 5, tzinfo=UTC)
NOW = int(WHEN.timestamp())
SHOP = """services:
  frontend: [checkout, cart]
  checkout: [payment, cart]
  payment: [postgres]
"""


class Routes(httpx.BaseTransport):
    """One transport per host: MockTransports for fakes, a real one for loopback servers."""

    def __init__(self, routes: dict[str, httpx.BaseTransport]) -> None:
        self.routes = routes

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.routes[request.url.host].handle_request(request)


def mock(handler) -> httpx.MockTransport:
    return httpx.MockTransport(handler)


def test_no_backend_configured_is_the_sandbox_exactly():
    backends, sandbox = build_backends(load_settings())
    assert sandbox is not None and isinstance(backends.metrics, SandboxBackend)
    assert backends.topology is backends.metrics is backends.logs is backends.alerts
    scenario, _ = build_backends(load_settings(prometheus={"url": PROM}), "cpu-hog-recommendation")
    assert isinstance(scenario.metrics, SandboxBackend)  # a scenario asks for the sandbox


def test_prometheus_alone_serves_metrics_and_alerts_the_rest_say_not_configured():
    settings = load_settings(prometheus={"url": PROM})
    backends, sandbox = build_backends(settings, transport=mock(
        lambda r: httpx.Response(200, json={"status": "success", "data": ["checkout"]})))
    assert sandbox is None and backends.unconfigured == ["logs", "traces", "changes"]
    assert isinstance(backends.metrics, PrometheusBackend)
    assert isinstance(backends.alerts, PrometheusAlertsBackend)
    assert isinstance(backends.logs, Unconfigured)
    registry = build_registry(backends)
    logs = registry.run("search_logs", {"start": NOW - 600, "end": NOW})
    assert logs.status is ToolStatus.ERROR
    assert logs.summary == "no logs backend is configured: set OPSCOPILOT_LOKI__URL"
    changes = registry.run("recent_changes", {"start": NOW - 600, "end": NOW})
    assert "run `opscopilot events serve` and set OPSCOPILOT_EVENTS__ENABLED=true" in \
        changes.summary
    traces = registry.run("search_traces", {"start": NOW - 600, "end": NOW})
    assert traces.summary.startswith("no traces backend is configured: set OPSCOPILOT_TRACES")


def test_sandbox_fallback_always_fills_unset_seams():
    settings = load_settings(prometheus={"url": PROM}, sandbox={"fallback": "always"})
    backends, sandbox = build_backends(settings, transport=mock(lambda r: httpx.Response(500)))
    assert sandbox is not None and isinstance(backends.metrics, PrometheusBackend)
    assert isinstance(backends.logs, SandboxBackend) and backends.unconfigured == []
    assert "checkout" in backends.services()  # the sandbox graph, though Prometheus is down


def test_every_backend_configured(tmp_path):
    settings = load_settings(prometheus={"url": PROM}, alertmanager={"url": AM},
                             loki={"url": LOKI, "bearer_token": "t0ken"},
                             traces={"url": "http://tempo.test:3200", "kind": "tempo"},
                             events={"enabled": True}, sandbox={"fallback": "never"})
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"status": "success", "data": ["checkout"]})

    backends, _ = build_backends(settings, transport=mock(handler))
    assert isinstance(backends.alerts, CombinedAlerts)
    assert [type(b) for b in backends.alerts.backends] == [AlertmanagerBackend,
                                                           PrometheusAlertsBackend]
    assert isinstance(backends.logs, LokiBackend) and isinstance(backends.traces, TempoBackend)
    assert isinstance(backends.changes_source, ChangeStore) and backends.unconfigured == []
    backends.logs.services()
    assert seen[-1].headers["Authorization"] == "Bearer t0ken"


def test_unusable_files_stop_start_up_naming_the_file(tmp_path):
    bad = tmp_path / "promql.yaml"
    bad.write_text("templates: {latency_p999: up}")
    with pytest.raises(SettingsError, match="unknown metric 'latency_p999'"):
        build_backends(load_settings(prometheus={"url": PROM, "templates_file": bad}))
    graph = tmp_path / "graph.yaml"
    graph.write_text("services: {checkout: payment}")
    with pytest.raises(SettingsError, match="checkout must map to a list"):
        build_backends(load_settings(prometheus={"url": PROM}, topology={"file": graph}))
    for settings in ({"prometheus": {"url": PROM, "templates_file": bad}},
                     {"prometheus": {"url": PROM}, "topology": {"file": graph}}):
        bad.write_text("templates:\n  error_rate: [unclosed\n")
        graph.write_text("services:\n  checkout: [unclosed\n")
        with pytest.raises(SettingsError) as caught:
            build_backends(load_settings(**settings))
        assert "not valid YAML (line 3: expected ',' or ']'" in str(caught.value)
        assert "\n" not in str(caught.value)  # one line, not PyYAML's excerpt


def test_the_service_graph_merges_the_file_jaeger_and_prometheus(tmp_path):
    graph = tmp_path / "graph.yaml"
    graph.write_text(SHOP)

    def jaeger(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/dependencies":
            return httpx.Response(200, json={"data": [
                {"parent": "cart", "child": "redis", "callCount": 40},
                {"parent": "checkout", "child": "payment", "callCount": 9}], "errors": None})
        return httpx.Response(200, json={"data": ["cart", "email"], "errors": None})

    def prometheus(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"status": "success", "data": ["checkout", "currency"]})

    settings = load_settings(prometheus={"url": PROM}, traces={"url": JAEGER},
                             topology={"file": graph})
    backends, _ = build_backends(settings, transport=Routes(
        {"jaeger.test": mock(jaeger), "prom.test": mock(prometheus)}))
    assert isinstance(backends.traces, JaegerBackend)
    topo = backends.topology
    assert topo.dependencies("checkout") == ["payment", "cart"]
    assert topo.dependencies("cart") == ["redis"]
    assert topo.callers("cart") == ["frontend", "checkout"]
    assert {"email", "currency", "postgres"} <= set(topo.services())


def test_a_backend_down_at_start_leaves_a_usable_graph(tmp_path):
    graph = tmp_path / "graph.yaml"
    graph.write_text(SHOP)

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    settings = load_settings(prometheus={"url": PROM, "retries": 0}, topology={"file": graph})
    backends, _ = build_backends(settings, transport=mock(down))
    assert backends.topology.services() == ["frontend", "checkout", "payment", "cart",
                                            "postgres"]
    assert "unreachable" in backends.topology.problems[0]


# -- end to end: Prometheus down, the others up


def loki(request: httpx.Request) -> httpx.Response:
    if request.url.path.endswith("/labels"):
        return httpx.Response(200, json={"status": "success", "data": ["service", "level"]})
    if request.url.path.endswith("/label/service/values"):
        return httpx.Response(200, json={"status": "success", "data": ["payment", "checkout"]})
    start = int(request.url.params["start"]) // 10**9
    recent = start >= NOW - 3600  # the question's window, not the hour before it
    lines = ([[str((NOW - 60 * i) * 10**9), f"charge failed: upstream 503 order={i}"]
              for i in range(25)] if recent else
             [[str((start + 60) * 10**9), "charge failed: upstream 503 order=1"]])
    return httpx.Response(200, json={"status": "success", "data": {
        "resultType": "streams",
        "result": [{"stream": {"service": "payment", "level": "error"}, "values": lines}]}})


def alertmanager(request: httpx.Request) -> httpx.Response:
    started = (WHEN - timedelta(minutes=7)).isoformat().replace("+00:00", "Z")
    return httpx.Response(200, json=[{
        "labels": {"alertname": "PaymentErrors", "service": "payment", "severity": "critical"},
        "annotations": {"summary": "payment 5xx above 5 %"}, "startsAt": started,
        "endsAt": started, "fingerprint": "f1", "status": {"state": "active", "silencedBy": [],
                                                           "inhibitedBy": []}}])


def test_prometheus_down_the_answer_says_so_and_uses_the_others(runtime_for, tmp_path: Path):
    graph = tmp_path / "graph.yaml"
    graph.write_text(SHOP)
    prom = f"http://127.0.0.1:{free_port()}"  # nothing listens there: connection refused
    settings = load_settings(prometheus={"url": prom, "retries": 1, "alerts": False},
                             alertmanager={"url": AM}, loki={"url": LOKI},
                             events={"enabled": True}, topology={"file": graph})
    from infra.state import state_engine

    ChangeStore(state_engine(settings)).add([ChangeEventIn(
        service="payment", description="deploy payment v9.1.0", version="v9.1.0",
        ts=NOW - 900, id="e2e-payment-v9.1.0")])
    router = runtime_for("bad-deploy-checkout").copilot.router
    before = list(router.services)
    try:
        runtime = build_runtime(settings, router=router, transport=Routes({
            "127.0.0.1": httpx.HTTPTransport(), "am.test": mock(alertmanager),
            "loki.test": mock(loki)}), clock=lambda: NOW + 60)
        answer = runtime.copilot.answer(Question("what is wrong with checkout?", WHEN))
    finally:
        router.services = before
    assert runtime.sandbox is None
    # Whichever tools the planner picks, the answer names the backend that is down ...
    assert f"Prometheus at {prom} is unreachable" in answer.summary
    # ... and still reports what Loki, Alertmanager and the change-event store said.
    kinds = {(f.kind, f.service) for f in answer.findings}
    assert {("log_errors", "payment"), ("alert", "payment"), ("change", "payment")} <= kinds
    assert "payment" in answer.summary
    sources = {e.source for e in answer.evidence}
    assert {"loki", "alertmanager", "webhook"} <= sources
    json.dumps(answer.to_json())  # the whole answer still renders


def test_a_backend_down_later_keeps_the_services_it_last_named(tmp_path):
    """Discovery that cannot read Prometheus uses what it last answered: in this process, and
    through the cache file in the next one, instead of knowing no services at all."""
    up = {"yes": True}

    def prometheus(request: httpx.Request) -> httpx.Response:
        if not up["yes"]:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        return httpx.Response(200, json={"status": "success", "data": ["checkout", "cart"]})

    settings = load_settings(prometheus={"url": PROM, "retries": 0},
                             cache_dir=tmp_path / "cache")
    first, _ = build_backends(settings, transport=mock(prometheus))
    assert first.services() == ["cart", "checkout"] and not first.discovery_problems()
    up["yes"] = False
    later, _ = build_backends(settings, transport=mock(prometheus))  # a new process
    assert later.services() == ["cart", "checkout"]
    assert "unreachable" in later.discovery_problems()[0]


def test_prometheus_down_with_nothing_else_is_no_unknown_service_error(runtime_for):
    prom = f"http://127.0.0.1:{free_port()}"  # nothing listens there: connection refused
    settings = load_settings(prometheus={"url": prom, "alerts": False})
    router = runtime_for("bad-deploy-checkout").copilot.router
    before = list(router.services)
    try:
        runtime = build_runtime(settings, router=router,
                                transport=Routes({"127.0.0.1": httpx.HTTPTransport()}))
        assert router.services_incomplete
        answer = runtime.copilot.answer(Question("what is wrong with checkout?", WHEN))
    finally:
        router.services, router.services_incomplete = before, False
    assert answer.services == ["checkout"]
    assert f"Prometheus at {prom} is unreachable" in answer.summary
    assert "cannot tell whether they are normal" in answer.summary


@pytest.mark.parametrize(("question", "claim", "cause"), [
    ("what changed in the last 3 hours?", "Nothing found", "no changes backend is configured"),
    ("which alerts are firing?", "No alerts firing", "is unreachable"),
])
def test_a_source_that_could_not_be_read_is_never_reported_as_empty(runtime_for, question,
                                                                    claim, cause):
    prom = f"http://127.0.0.1:{free_port()}"  # nothing listens there: connection refused
    settings = load_settings(prometheus={"url": prom, "retries": 0})
    router = runtime_for("bad-deploy-checkout").copilot.router
    before = list(router.services)
    try:
        runtime = build_runtime(settings, router=router,
                                transport=Routes({"127.0.0.1": httpx.HTTPTransport()}))
        answer = runtime.copilot.answer(Question(question, WHEN))
    finally:
        router.services, router.services_incomplete = before, False
    assert claim not in answer.summary
    assert answer.summary.startswith("Could not use") and cause in answer.summary
