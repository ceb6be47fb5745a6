"""AlertmanagerBackend: the API v2 shape replayed through MockTransport, and a real Alertmanager
(Debian's prometheus-alertmanager) when it is installed."""

from __future__ import annotations

import subprocess
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.servers import free_port, needs, wait_until_ready
from tools.backends.alertmanager import AlertmanagerBackend
from tools.base import BackendError, ToolRegistry, ToolStatus
from tools.events import FiringAlerts

URL = "http://am.test:9093"
NOW = int(datetime(2026, 11, 20, 18, 15, tzinfo=UTC).timestamp())


def alert(name, service, severity="critical", minutes_ago=8, state="active", label="service"):
    started = datetime.fromtimestamp(NOW - 60 * minutes_ago, UTC)
    return {"labels": {"alertname": name, label: service, "severity": severity},
            "annotations": {"summary": f"{service}: {name}"},
            "startsAt": started.isoformat().replace("+00:00", "Z"),
            "endsAt": (started + timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
            "fingerprint": "abc", "status": {"state": state, "silencedBy": [],
                                             "inhibitedBy": []}}


def backend(body, status=200) -> tuple[AlertmanagerBackend, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json=body)

    return AlertmanagerBackend(URL, httpx.Client(transport=httpx.MockTransport(handler)),
                               backoff_s=0, clock=lambda: NOW + 60), seen


def test_active_alerts_become_firing_alerts():
    b, seen = backend([alert("HighErrorRate", "checkout"),
                       alert("DiskAlmostFull", "postgres", "warning", state="suppressed"),
                       alert("Later", "cart", minutes_ago=-5),
                       alert("TargetDown", "payment", label="job")])
    alerts, query = b.firing(NOW)
    assert [(a.name, a.service, a.severity) for a in alerts] == [
        ("HighErrorRate", "checkout", "critical"), ("TargetDown", "payment", "critical")]
    assert alerts[0].starts_at == NOW - 480 and alerts[0].summary == "checkout: HighErrorRate"
    assert seen[0].url.params["active"] == "true" and "/api/v2/alerts" in query


def test_the_tool_reports_them_and_a_broken_body_is_one_line():
    b, _ = backend([alert("HighErrorRate", "checkout")])
    registry = ToolRegistry()
    registry.register(FiringAlerts(b))
    result = registry.run("firing_alerts", {"at": NOW})
    assert result.status is ToolStatus.OK and result.evidence[0].source == "alertmanager"
    bad, _ = backend({"oops": 1})
    with pytest.raises(BackendError, match="Alertmanager at .* malformed"):
        bad.firing(NOW)


@needs("prometheus-alertmanager", package="prometheus-alertmanager")
def test_a_real_alertmanager(tmp_path):
    config = tmp_path / "am.yml"
    config.write_text("route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n")
    port, cluster = free_port(), free_port()
    proc = subprocess.Popen(
        ["prometheus-alertmanager", f"--config.file={config}",
         f"--storage.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
         f"--cluster.listen-address=127.0.0.1:{cluster}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        assert wait_until_ready(f"{url}/-/ready", proc), "alertmanager did not become ready"
        now = datetime.now(UTC)
        posted = [{"labels": {"alertname": "HighErrorRate", "service": "checkout",
                              "severity": "critical"},
                   "annotations": {"summary": "checkout: error rate above 5 %"},
                   "startsAt": (now - timedelta(minutes=3)).isoformat()}]
        httpx.post(f"{url}/api/v2/alerts", json=posted, timeout=5).raise_for_status()
        b = AlertmanagerBackend(url, httpx.Client())
        deadline = time.monotonic() + 30
        alerts: list = []
        while not alerts and time.monotonic() < deadline:
            alerts, _ = b.firing(int(now.timestamp()))
            time.sleep(0.2)
        assert [(a.name, a.service, a.severity) for a in alerts] == [
            ("HighErrorRate", "checkout", "critical")]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
