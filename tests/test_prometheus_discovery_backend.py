"""Prometheus beyond range queries: label and series discovery, a team's PromQL templates file,
and `/api/v1/alerts` as an alerts source (alone or beside Alertmanager), against Prometheus'
documented JSON replayed through httpx.MockTransport."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tools.backends.alertmanager import CombinedAlerts, PrometheusAlertsBackend
from tools.backends.prometheus import PrometheusBackend, TemplateFileError, load_templates
from tools.base import BackendError, ToolRegistry, ToolStatus
from tools.catalog import METRICS
from tools.events import FiringAlerts
from tools.metrics import QueryMetrics

URL = "http://prom.test:9090"
T0 = 1_700_000_000
OK = "success"


class FakePrometheus:
    names = {"checkout": ["http_requests_total", "http_request_duration_seconds_bucket", "up"],
             "redis": ["redis_commands_total", "up"]}

    def __init__(self, alerts: list | None = None) -> None:
        self.alerts = alerts or []
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path, q = request.url.path, request.url.params
        if path == "/api/v1/labels":
            return httpx.Response(200, json={"status": OK, "data": ["__name__", "code", "job",
                                                                    "service"]})
        if path in ("/api/v1/label/service/values", "/api/v1/label/app/values"):
            return httpx.Response(200, json={"status": OK, "data": ["redis", "checkout"]})
        if path == "/api/v1/label/__name__/values":
            service = q["match[]"].split('"')[1]
            return httpx.Response(200, json={"status": OK, "data": self.names.get(service, [])})
        if path == "/api/v1/series":
            return httpx.Response(200, json={"status": OK, "data": [
                {"__name__": "up", "job": "shop", "service": "checkout", "instance": "a:80"},
                {"__name__": "up", "job": "shop", "service": "redis", "instance": "b:80"}]})
        if path == "/api/v1/alerts":
            return httpx.Response(200, json={"status": OK, "data": {"alerts": self.alerts}})
        if path == "/api/v1/query_range":
            start, end, step = int(q["start"]), int(q["end"]), int(q["step"])
            late = start + 3600 + 900
            values = [[t, "40" if t >= late else "4"] for t in range(start, end + 1, step)]
            return httpx.Response(200, json={"status": OK, "data": {
                "resultType": "matrix", "result": [{"metric": {}, "values": values}]}})
        return httpx.Response(404, text="404 page not found")


def client(fake) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(fake))


def test_labels_series_and_label_values():
    fake = FakePrometheus()
    b = PrometheusBackend(URL, client(fake))
    assert b.labels() == ["__name__", "code", "job", "service"]
    assert b.services() == ["checkout", "redis"]
    assert [s["instance"] for s in b.series('up{job="shop"}', T0, T0 + 60)] == ["a:80", "b:80"]
    assert fake.requests[-1].url.params["match[]"] == 'up{job="shop"}'
    assert b.raw_metric_names("redis") == ["redis_commands_total", "up"]


def test_metric_names_offered_only_where_their_series_exist():
    b = PrometheusBackend(URL, client(FakePrometheus()), discover_metrics=True)
    assert b.metric_names("checkout") == ["request_rate", "error_rate", "latency_p50",
                                          "latency_p95", "latency_p99"]
    assert b.metric_names("redis") == []


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "promql.yaml"
    path.write_text(text)
    return path


def test_a_team_maps_latency_of_checkout_onto_its_own_metrics(tmp_path):
    team = load_templates(write(tmp_path, """
service_label: app
rate_window: 5m
templates:
  latency_p99: >-
    1000 * histogram_quantile(0.99, sum by (le) (rate(
    http_server_request_duration_seconds_bucket{$label="$service", env="prod"}[$window])))
"""), list(METRICS))
    fake = FakePrometheus()
    b = PrometheusBackend(URL, client(fake), team.templates, team.service_label or "service",
                          team.rate_window or "2m")
    registry = ToolRegistry()
    registry.register(QueryMetrics(b))
    result = registry.run("query_metrics", {"services": ["checkout"], "metrics": ["latency_p99"],
                                            "start": T0 + 3600, "end": T0 + 5400})
    assert result.status is ToolStatus.OK, result.summary
    ev = result.evidence[0]
    expected = ('1000 * histogram_quantile(0.99, sum by (le) (rate( '
                'http_server_request_duration_seconds_bucket{app="checkout", env="prod"}[5m])))')
    assert ev.query == expected
    assert parse_qs(urlsplit(ev.link).query)["g0.expr"] == [expected]
    assert ev.link.startswith(f"{URL}/graph?")
    assert fake.requests[-1].url.params["query"] == expected
    assert result.findings[0].kind == "metric_anomaly"


@pytest.mark.parametrize(("text", "message"), [
    ("templates: {latency_p999: up}", "unknown metric 'latency_p999'"),
    ("templates: {cpu: ''}", "cpu must be a PromQL string"),
    ("cpu: up", "expected a mapping with a 'templates' mapping"),
    ("templates: [", "is not valid YAML"),
])
def test_bad_templates_files_say_what_to_fix(tmp_path, text, message):
    with pytest.raises(TemplateFileError, match=message):
        load_templates(write(tmp_path, text), list(METRICS))
    with pytest.raises(TemplateFileError, match="No such file"):
        load_templates(tmp_path / "missing.yaml", list(METRICS))


PROM_ALERTS = [
    {"labels": {"alertname": "HighErrorRate", "service": "checkout", "severity": "critical"},
     "annotations": {"summary": "checkout errors above 5 %"}, "state": "firing",
     "activeAt": "2023-11-14T22:05:00.60602144Z", "value": "2.3e+01"},
    {"labels": {"alertname": "SlowRedis", "job": "redis"}, "annotations": {},
     "state": "pending", "activeAt": "2023-11-14T22:10:00Z", "value": "1e+00"},
]


def test_prometheus_alerts_are_an_alerts_source():
    b = PrometheusAlertsBackend(URL, client(FakePrometheus(PROM_ALERTS)), backoff_s=0,
                                clock=lambda: T0 + 3600)
    alerts, query = b.firing(T0 + 3600)
    assert [(a.name, a.service, a.severity) for a in alerts] == [
        ("HighErrorRate", "checkout", "critical")]
    assert alerts[0].starts_at == 1_699_999_500 and "/api/v1/alerts" in query
    earlier = PrometheusAlertsBackend(URL, client(FakePrometheus(PROM_ALERTS)), backoff_s=0,
                                      clock=lambda: 1_699_999_100)
    assert earlier.firing(1_699_999_000)[0] == []  # "now" then: not yet active


def test_combined_alerts_dedupe_and_survive_one_source_down():
    prom = PrometheusAlertsBackend(URL, client(FakePrometheus(PROM_ALERTS)), backoff_s=0,
                                   clock=lambda: T0 + 3600)

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    am = PrometheusAlertsBackend("http://am.test:9093", client(down), backoff_s=0,
                                 clock=lambda: T0)
    am.source = "alertmanager"
    registry = ToolRegistry()
    registry.register(FiringAlerts(CombinedAlerts([am, prom])))
    result = registry.run("firing_alerts", {"at": T0 + 3600})
    assert result.status is ToolStatus.OK and len(result.findings) == 1
    assert result.evidence[0].source == "alertmanager+prometheus"
    assert "unavailable: Prometheus at http://am.test:9093 is unreachable" in \
        result.evidence[0].query
    both = CombinedAlerts([prom, prom]).firing(T0 + 3600)[0]
    assert len(both) == 1
    with pytest.raises(BackendError, match="unreachable"):
        CombinedAlerts([am, am]).firing(T0)


def test_a_broken_alerts_body_is_malformed():
    b = PrometheusAlertsBackend(URL, client(lambda r: httpx.Response(
        200, json={"status": OK, "data": {"alerts": [{"labels": {}}]}})), backoff_s=0)
    with pytest.raises(BackendError, match="malformed"):
        b.firing(T0)


def test_a_partial_response_keeps_its_warnings():
    def thanos(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={
            "status": OK, "warnings": ["store 10.0.0.7:10901 timed out: partial response"],
            "data": {"resultType": "matrix", "result": [
                {"metric": {}, "values": [[T0, "1"], [T0 + 15, "2"]]}]}})

    series = PrometheusBackend(URL, client(thanos)).range_query("checkout", "cpu", T0, T0 + 15)
    assert list(series.values) == [1.0, 2.0]
    assert series.warnings == ["store 10.0.0.7:10901 timed out: partial response"]


def test_a_past_moment_is_read_from_the_alerts_series_not_the_current_state():
    asked: list[dict] = []

    def prometheus(request: httpx.Request) -> httpx.Response:
        asked.append(dict(request.url.params))
        assert request.url.path == "/api/v1/query"  # never /api/v1/alerts for the past
        labels = {"alertname": "HighErrorRate", "service": "checkout", "severity": "critical"}
        if request.url.params["query"].startswith("ALERTS_FOR_STATE"):
            result = [{"metric": {"__name__": "ALERTS_FOR_STATE", **labels},
                       "value": [T0, str(T0 - 600)]}]
        else:
            result = [{"metric": {"__name__": "ALERTS", "alertstate": "firing", **labels},
                       "value": [T0, "1"]}]
        return httpx.Response(200, json={"status": OK, "data": {"resultType": "vector",
                                                                  "result": result}})

    b = PrometheusAlertsBackend(URL, client(prometheus), backoff_s=0, clock=lambda: T0 + 86400)
    [alert], query = b.firing(T0)
    assert (alert.name, alert.service, alert.starts_at) == ("HighErrorRate", "checkout", T0 - 600)
    assert "alertstate" not in alert.labels and "ALERTS" in query
    assert {a["time"] for a in asked} == {str(T0)}


def test_alertmanager_says_it_cannot_know_the_past_instead_of_none_firing():
    from tools.backends.alertmanager import AlertmanagerBackend

    am = AlertmanagerBackend("http://am.test:9093", client(lambda r: httpx.Response(200, json=[])),
                             backoff_s=0, clock=lambda: T0 + 86400)
    registry = ToolRegistry()
    registry.register(FiringAlerts(am))
    result = registry.run("firing_alerts", {"at": T0})
    assert result.status is ToolStatus.ERROR
    assert "keeps only the current alerts" in result.summary
    assert "no alerts firing" not in result.summary
    now = registry.run("firing_alerts", {"at": T0 + 86400 - 30})
    assert now.status is ToolStatus.NO_DATA  # the present: an empty list is an answer
