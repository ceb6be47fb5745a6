"""Discovery and alerts against a real Prometheus (Debian's package) on loopback: it scrapes
itself and evaluates one alerting rule, so label values, series, per-service metric names, a
team's templates file and `/api/v1/alerts` are read from the real API, not replayed shapes."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.servers import free_port, needs, wait_until_ready
from tools.backends.alertmanager import PrometheusAlertsBackend
from tools.backends.prometheus import PrometheusBackend, load_templates
from tools.base import ToolRegistry, ToolStatus
from tools.catalog import METRICS
from tools.metrics import QueryMetrics

pytestmark = needs("prometheus", package="prometheus")

RULES = """groups:
  - name: shop
    interval: 1s
    rules:
      - alert: CheckoutErrors
        expr: vector(1)
        labels: {service: checkout, severity: critical}
        annotations: {summary: "checkout 5xx above 5 %"}
      - alert: NotYet
        expr: vector(1)
        for: 1h
        labels: {service: cart}
"""


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("prom-discovery")
    port = free_port()
    (root / "rules.yml").write_text(RULES)
    (root / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"rule_files: [{root / 'rules.yml'}]\n"
        "scrape_configs:\n  - job_name: self\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{port}'],\n"
        "                       labels: {service: opscopilot-prom}}]\n")
    proc = subprocess.Popen(
        ["prometheus", f"--config.file={root / 'prometheus.yml'}",
         f"--storage.tsdb.path={root / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        if not wait_until_ready(f"{url}/-/ready", proc):
            pytest.fail("prometheus did not become ready within 60 s")
        deadline = time.monotonic() + 30  # until the first scrape and rule evaluation landed
        backend = PrometheusBackend(url, httpx.Client())
        while time.monotonic() < deadline:
            try:
                if "opscopilot-prom" in backend.services() and \
                        PrometheusAlertsBackend(url, httpx.Client()).firing(2**40)[0]:
                    break
            except Exception:  # noqa: BLE001 (still starting)
                pass
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_label_and_series_discovery(prometheus):
    b = PrometheusBackend(prometheus, httpx.Client())
    assert {"__name__", "job", "service", "instance"} <= set(b.labels())
    assert "opscopilot-prom" in b.services()
    series = b.series('up{service="opscopilot-prom"}')
    assert series and series[0]["job"] == "self"
    assert "prometheus_http_requests_total" in b.raw_metric_names("opscopilot-prom")


def test_a_team_template_is_discovered_and_queried(prometheus, tmp_path):
    path = tmp_path / "promql.yaml"
    # A counter's plain sum (a rate would need more scrapes than this young server has).
    path.write_text("templates:\n"
                    "  request_rate: sum(prometheus_http_requests_total"
                    "{$label=\"$service\"})\n")
    team = load_templates(path, list(METRICS))
    b = PrometheusBackend(prometheus, httpx.Client(), team.templates,
                          step_s=1, discover_metrics=True)
    assert b.metric_names("opscopilot-prom") == ["request_rate"]
    now = int(time.time())
    registry = ToolRegistry()
    registry.register(QueryMetrics(b))
    result = registry.run("query_metrics", {"services": ["opscopilot-prom"],
                                            "start": now - 20, "end": now})
    # A few seconds of data: the tool answers (no baseline yet) or says there is too little.
    assert result.status in (ToolStatus.OK, ToolStatus.NO_DATA), result.summary
    # The counter's first sample may be younger than a second: wait for it (bounded).
    deadline = time.monotonic() + 10
    series = b.range_query("opscopilot-prom", "request_rate", now - 20, now + 2)
    while not len(series.values) and time.monotonic() < deadline:
        time.sleep(0.5)
        series = b.range_query("opscopilot-prom", "request_rate", now - 20, int(time.time()))
    assert series.query == ('sum(prometheus_http_requests_total'
                            '{service="opscopilot-prom"})')
    assert len(series.values) > 0 and series.link.startswith(f"{prometheus}/graph?")


def test_firing_alerts_from_the_rules(prometheus):
    alerts, query = PrometheusAlertsBackend(prometheus, httpx.Client()).firing(int(time.time()))
    assert [(a.name, a.service, a.severity, a.summary) for a in alerts] == [
        ("CheckoutErrors", "checkout", "critical", "checkout 5xx above 5 %")]
    assert query.endswith("/api/v1/alerts (state firing)")


def test_alerts_of_a_past_moment_come_from_the_alerts_series(prometheus):
    """The history path against the real server: ALERTS and ALERTS_FOR_STATE as it writes them."""
    at = int(time.time()) - 1  # the fixture waited for the first evaluation that fired
    b = PrometheusAlertsBackend(prometheus, httpx.Client(), clock=lambda: at + 3600)
    alerts, query = b.firing(at)
    assert [(a.name, a.service, a.severity) for a in alerts] == [
        ("CheckoutErrors", "checkout", "critical")]  # NotYet is pending, not firing
    assert alerts[0].starts_at < at and "ALERTS" in query
