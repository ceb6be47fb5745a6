"""PrometheusBackend against Prometheus' documented HTTP API shapes, replayed by MockTransport."""

from __future__ import annotations

import httpx
import pytest

from tools.backends.prometheus import PrometheusBackend
from tools.base import BackendError, BackendTimeout, ToolRegistry, ToolStatus
from tools.metrics import QueryMetrics

URL = "http://prom.test:9090"
T0 = 1_700_000_000


class FakePrometheus:
    """Answers /api/v1/query_range and /api/v1/label/<l>/values like Prometheus 2.x does."""

    def __init__(self, value_of=lambda t: 2.0, fail_first: int = 0, status: int = 500,
                 body: object | None = None) -> None:
        self.value_of = value_of
        self.fail_first = fail_first
        self.status = status
        self.body = body
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if len(self.requests) <= self.fail_first:
            if self.status == 0:
                raise httpx.ConnectTimeout("timed out", request=request)
            return httpx.Response(self.status, text="upstream error")
        if self.body is not None:
            return httpx.Response(200, json=self.body)
        if request.url.path.startswith("/api/v1/label/"):
            return httpx.Response(200, json={"status": "success",
                                             "data": ["checkout", "cart"]})
        q = request.url.params
        if "query" in q and "{" not in q["query"]:
            return httpx.Response(400, json={"status": "error", "errorType": "bad_data",
                                             "error": "parse error at char 3"})
        start, end, step = int(q["start"]), int(q["end"]), int(q["step"])
        values = [[t, str(self.value_of(t))] for t in range(start, end + 1, step)]
        return httpx.Response(200, json={
            "status": "success",
            "data": {"resultType": "matrix",
                     "result": [{"metric": {"service": "checkout"}, "values": values}]}})


def backend(fake: FakePrometheus, **kw) -> PrometheusBackend:
    client = httpx.Client(transport=httpx.MockTransport(fake))
    return PrometheusBackend(URL, client, backoff_s=0, **kw)


def test_range_query_fills_the_template_and_links_the_graph():
    fake = FakePrometheus()
    series = backend(fake).range_query("checkout", "error_rate", T0, T0 + 600)
    assert 'service="checkout",code=~"5.."' in series.query
    assert fake.requests[0].url.params["query"] == series.query
    assert len(series.values) == 41 and series.values[0] == 2.0
    assert series.link and series.link.startswith(f"{URL}/graph?g0.expr=")


def test_templates_and_label_are_configurable():
    fake = FakePrometheus()
    b = backend(fake, templates={"request_rate": 'sum(rate(reqs{{{label}="{service}"}}[1m]))'},
                service_label="app")
    assert b.range_query("cart", "request_rate", T0, T0 + 60).query == \
        'sum(rate(reqs{app="cart"}[1m]))'
    assert b.metric_names("cart") == ["request_rate"]
    with pytest.raises(BackendError, match="no PromQL template"):
        b.range_query("cart", "disk", T0, T0 + 60)


def test_services_come_from_label_values():
    assert backend(FakePrometheus()).services() == ["cart", "checkout"]


def test_server_errors_are_retried_then_succeed():
    fake = FakePrometheus(fail_first=2, status=503)
    series = backend(fake).range_query("checkout", "request_rate", T0, T0 + 60)
    assert len(fake.requests) == 3 and len(series.values) == 5


def test_a_backend_that_stays_down_is_one_clear_line():
    fake = FakePrometheus(fail_first=99, status=0)
    with pytest.raises(BackendTimeout, match=r"did not answer within 5 s"):
        backend(fake).range_query("checkout", "request_rate", T0, T0 + 60)
    assert len(fake.requests) == 1  # a timeout has spent the budget: not retried


def test_one_failed_server_costs_one_wait_per_answer_not_one_per_series():
    fake = FakePrometheus(fail_first=99, status=0)
    prom = backend(fake)
    for metric in ("request_rate", "error_rate", "latency_p99", "cpu", "memory"):
        with pytest.raises(BackendTimeout, match=r"did not answer within 5 s"):
            prom.range_query("checkout", metric, T0, T0 + 60)
    assert len(fake.requests) == 1


def test_a_bad_query_is_not_retried():
    fake = FakePrometheus()
    b = backend(fake, templates={"cpu": "rate(("})
    with pytest.raises(BackendError, match="rejected the query: parse error at char 3"):
        b.range_query("checkout", "cpu", T0, T0 + 60)
    assert len(fake.requests) == 1


@pytest.mark.parametrize("body", [
    {"status": "success", "data": {"resultType": "vector", "result": []}},
    {"status": "success", "data": {"resultType": "matrix", "result": [{"metric": {}}]}},
    ["not", "an", "object"],
])
def test_malformed_bodies_are_backend_errors(body):
    with pytest.raises(BackendError, match="malformed"):
        backend(FakePrometheus(body=body)).range_query("checkout", "cpu", T0, T0 + 60)


def test_the_metrics_tool_works_over_prometheus_and_explains_an_outage():
    # 1 % errors for an hour, then 30 %: the tool flags it and cites the PromQL and the graph.
    step_at = T0 + 3600 + 900
    fake = FakePrometheus(value_of=lambda t: 30.0 if t >= step_at else 1.0)
    registry = ToolRegistry()
    registry.register(QueryMetrics(backend(fake)))
    result = registry.run("query_metrics", {"services": ["checkout"], "metrics": ["error_rate"],
                                            "start": T0 + 3600, "end": T0 + 5400})
    assert result.status is ToolStatus.OK
    finding = result.findings[0]
    assert finding.kind == "metric_anomaly" and finding.value == pytest.approx(30.0)
    assert result.evidence[0].source == "prometheus" and result.evidence[0].link
    down = ToolRegistry()
    down.register(QueryMetrics(backend(FakePrometheus(fail_first=99, status=0))))
    result = down.run("query_metrics", {"services": ["checkout"], "start": T0, "end": T0 + 60})
    assert result.status is ToolStatus.ERROR
    assert result.summary == f"Prometheus at {URL} did not answer within 5 s"
