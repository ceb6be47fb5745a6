"""opscopilot's own metrics (infra/telemetry.py): recorded at the seams, served on `/metrics`,
and, end to end, `serve` in HTTP mode scraped by a real Prometheus and read back through PromQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from typing import Any, ClassVar

import httpx
import pytest
from pydantic import BaseModel

from bot.slack.testing import FakeSlackAPI, signed_headers
from infra import telemetry
from tests.servers import free_port, needs, wait_until_ready
from tools.base import BackendError, ToolRegistry, ToolResult, ToolStatus


def sample(name: str, **labels: str) -> float:
    return telemetry.REGISTRY.get_sample_value(name, labels) or 0.0


class _Down:
    source = "loki"


class _FailingTool:
    name: ClassVar[str] = "telemetry_failing"
    description: ClassVar[str] = "always fails"
    side_effects: ClassVar[bool] = False

    class Params(BaseModel):
        pass

    backend = _Down()

    def run(self, params: Any) -> ToolResult:
        raise BackendError("Loki at http://127.0.0.1:9: connection refused")


def test_a_failing_tool_counts_as_an_error_of_its_backend():
    registry = ToolRegistry()
    registry.register(_FailingTool())
    before = sample("opscopilot_tool_errors_total", tool="telemetry_failing", backend="loki")
    count = sample("opscopilot_tool_duration_seconds_count", tool="telemetry_failing",
                   status="error")
    assert registry.run("telemetry_failing", {}).status is ToolStatus.ERROR
    assert sample("opscopilot_tool_errors_total", tool="telemetry_failing",
                  backend="loki") == before + 1
    assert sample("opscopilot_tool_duration_seconds_count", tool="telemetry_failing",
                  status="error") == count + 1


def test_outcomes_of_an_answer():
    assert telemetry.answer_outcome(["ok", "no_data"]) == "ok"
    assert telemetry.answer_outcome(["ok", "error"]) == "partial"
    assert telemetry.answer_outcome(["error", "error"]) == "failed"
    assert telemetry.answer_outcome(["no_data"]) == "no_data"
    assert telemetry.answer_outcome(["ok"], unsure=True) == "unsure"
    assert telemetry.answer_outcome([]) == "ok"  # help, out of scope: nothing to call


def test_breakers_queue_and_models_are_read_when_scraped():
    from tools.backends.health import BackendHealth

    now = [100.0]
    health = BackendHealth(cooldown_s=10, clock=lambda: now[0])
    breaker = health.breaker("Loki", "http://loki:3100")
    breaker.failed(BackendError("Loki: timed out"))
    telemetry.watch_breakers(health.states)
    telemetry.set_model_versions("metric-detector", {"current": "v3", "shadow": "v4",
                                                     "history": ["v1"]})
    labels = {"system": "Loki", "url": "http://loki:3100"}
    assert sample("opscopilot_backend_breaker_state", **labels, state="open") == 1
    assert sample("opscopilot_backend_breaker_state", **labels, state="closed") == 0
    now[0] += 11
    assert sample("opscopilot_backend_breaker_state", **labels, state="half_open") == 1
    assert sample("opscopilot_model_version", model="metric-detector", alias="shadow",
                  version="v4") == 1
    text, _ = telemetry.exposition()
    assert b"history" not in text


def test_metrics_are_served_while_loading_and_acks_are_timed():
    from bot.slack.server import SlackHTTPServer

    server = SlackHTTPServer(None, "127.0.0.1", 0, "secret")
    server.start_background()
    try:
        port = server.server_address[1]
        acks = sample("opscopilot_slack_ack_duration_seconds_count")
        body = json.dumps({"type": "event_callback", "event_id": "Ev1", "event": {}})
        reply = httpx.post(f"http://127.0.0.1:{port}/slack/events", content=body,
                           headers=signed_headers("secret", body))
        assert reply.status_code == 200  # held while loading
        scraped = httpx.get(f"http://127.0.0.1:{port}/metrics")
        assert scraped.status_code == 200
        assert scraped.headers["content-type"].startswith("text/plain; version=")
        assert "opscopilot_slack_ack_duration_seconds_count" in scraped.text
        assert sample("opscopilot_slack_ack_duration_seconds_count") == acks + 1
    finally:
        server.shutdown()
        server.server_close()


def test_socket_mode_metrics_port_is_one_line_when_taken():
    from infra.settings import SettingsError

    port = free_port()
    stop = telemetry.serve_metrics(port)
    try:
        assert "opscopilot_answers" in httpx.get(f"http://127.0.0.1:{port}/metrics").text
        with pytest.raises(SettingsError, match="OPSCOPILOT_TELEMETRY__METRICS_PORT"):
            telemetry.serve_metrics(port)
    finally:
        stop()


# -- end to end: serve, signed questions, a real Prometheus ------------------------------------

QUESTIONS = ["what is wrong with checkout?", "which alerts are firing?",
             "error logs of payment in the last hour"]


def _mention(port: int, n: int, text: str) -> None:
    body = json.dumps({"type": "event_callback", "team_id": "T0000001", "event_id": f"EvTel{n}",
                       "event": {"type": "app_mention", "user": "U1", "channel": "C1",
                                 "ts": f"{n + 1}.000100", "text": f"<@UBOT0001> {text}"}})
    req = urllib.request.Request(f"http://127.0.0.1:{port}/slack/events", data=body.encode(),
                                 method="POST", headers=signed_headers("serve-secret", body))
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200


def _promql(url: str, query: str) -> list[dict[str, Any]]:
    reply = httpx.get(f"{url}/api/v1/query", params={"query": query}, timeout=5).json()
    assert reply["status"] == "success", reply
    return list(reply["data"]["result"])


def _scalar(url: str, query: str) -> float | None:
    result = _promql(url, query)
    return float(result[0]["value"][1]) if result else None


@pytest.mark.slow  # a fresh `serve` loads the embedding model and the router
@needs("prometheus", package="prometheus")
def test_prometheus_scrapes_serve_and_reads_latency_and_tool_errors(tmp_path):
    port, prom_port = free_port(), free_port()
    dead_loki = f"http://127.0.0.1:{free_port()}"  # nothing listens: search_logs fails
    (tmp_path / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: opscopilot\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{port}']\n")
    prom = subprocess.Popen(
        ["prometheus", f"--config.file={tmp_path / 'prometheus.yml'}",
         f"--storage.tsdb.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{prom_port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    prom_url = f"http://127.0.0.1:{prom_port}"
    with FakeSlackAPI() as fake:
        env = os.environ | {"OPSCOPILOT_SLACK__BOT_TOKEN": "xoxb-tel",
                            "OPSCOPILOT_SLACK__SIGNING_SECRET": "serve-secret",
                            "OPSCOPILOT_SLACK__MODE": "http",
                            "OPSCOPILOT_SLACK__API_URL": fake.base_url,
                            "OPSCOPILOT_SANDBOX__FALLBACK": "always",
                            "OPSCOPILOT_LOKI__URL": dead_loki,
                            "OPSCOPILOT_LOKI__RETRIES": "0",
                            "OPSCOPILOT_DATA_DIR": str(tmp_path / "state")}
        proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--port", str(port)],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            assert wait_until_ready(f"{prom_url}/-/ready", prom), "prometheus did not start"
            assert wait_until_ready(f"http://127.0.0.1:{port}/healthz", proc, 180), \
                proc.stderr.read().decode() if proc.poll() is not None and proc.stderr else ""
            for n, text in enumerate(QUESTIONS):
                _mention(port, n, text)
            fake.wait_for(lambda: len(fake.calls_to("chat.update")) >= len(QUESTIONS),
                          timeout=120)
            own = httpx.get(f"http://127.0.0.1:{port}/metrics").text
            deadline = time.monotonic() + 30
            count = None
            while time.monotonic() < deadline:
                count = _scalar(prom_url, "sum(opscopilot_answer_duration_seconds_count)")
                if count == len(QUESTIONS):
                    break
                time.sleep(0.5)
            assert count == len(QUESTIONS)
            # the histogram read back: the same sum as /metrics says, a finite p90 within it
            summed = _scalar(prom_url, "sum(opscopilot_answer_duration_seconds_sum)")
            served = sum(float(line.rsplit(" ", 1)[1]) for line in own.splitlines()
                         if line.startswith("opscopilot_answer_duration_seconds_sum"))
            assert summed == pytest.approx(served)
            p90 = _scalar(prom_url, "histogram_quantile(0.9, sum by (le) "
                                    "(opscopilot_answer_duration_seconds_bucket))")
            assert p90 is not None and 0 < p90 <= 60
            by_intent = {r["metric"]["intent"] for r in _promql(
                prom_url, "sum by (intent) (opscopilot_answers_total)")}
            assert "investigate" in by_intent
            errors = _promql(prom_url, "sum by (tool, backend) (opscopilot_tool_errors_total)")
            assert any(r["metric"] == {"tool": "search_logs", "backend": "loki"}
                       and float(r["value"][1]) >= 1 for r in errors), errors
            assert _scalar(prom_url, 'opscopilot_backend_breaker_state{system="Loki",'
                                     'state="closed"}') == 0
            assert (_scalar(prom_url, "sum(opscopilot_slack_ack_duration_seconds_count)")
                    or 0) >= len(QUESTIONS)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            prom.terminate()
            prom.wait(timeout=30)


def _answers() -> float:
    return sum(s.value for m in telemetry.REGISTRY.collect() if m.name == "opscopilot_answers"
               for s in m.samples if s.name == "opscopilot_answers_total")


def test_llm_answers_and_their_fallbacks_count_once():
    from bot.llm.replay import Call, Reply
    from tests.llm_support import ask, fast_runtime, scripted_copilot, window

    runtime = fast_runtime()
    w = window(runtime)
    copilot, _, _ = scripted_copilot([
        Reply.tools(Call("search_logs", {"services": ["checkout"], "level": "ERROR", **w})),
        Reply.say("Checkout logs errors.")])
    before = _answers()
    assert ask(copilot, runtime, "error logs of checkout").mode == "llm"
    assert _answers() == before + 1
    broken, _, _ = scripted_copilot([Reply.tools(Call("search_logs", {"services": ["x"]}))],
                                    repeat_last=True)
    assert ask(broken, runtime, "what is wrong with checkout?").mode == "llm-fallback"
    assert _answers() == before + 2
