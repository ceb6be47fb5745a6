"""`opscopilot serve` end to end: the real command in HTTP mode, a signed mention over HTTP, the
answer posted to the Web API stand-in; and the one-line errors for missing tokens."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from bot.slack.testing import FakeSlackAPI, signed_headers
from tests.servers import free_port


def test_missing_tokens_name_the_variables(monkeypatch):
    from typer.testing import CliRunner

    from bot.cli import app

    for name in [k for k in os.environ if k.startswith("OPSCOPILOT_SLACK")]:
        monkeypatch.delenv(name)
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 2
    assert "OPSCOPILOT_SLACK__BOT_TOKEN" in result.output and "APP_TOKEN" in result.output
    assert "Traceback" not in result.output
    monkeypatch.setenv("OPSCOPILOT_SLACK__BOT_TOKEN", "xoxb-1")
    result = CliRunner().invoke(app, ["serve", "--mode", "http"])
    assert result.exit_code == 2 and "OPSCOPILOT_SLACK__SIGNING_SECRET" in result.output
    result = CliRunner().invoke(app, ["serve", "--mode", "carrier-pigeon"])
    assert result.exit_code == 2 and "choose socket or http" in result.output


def _serve_env(fake: FakeSlackAPI, token: str = "xoxb-serve") -> dict[str, str]:
    return os.environ | {"OPSCOPILOT_SLACK__BOT_TOKEN": token,
                         "OPSCOPILOT_SLACK__SIGNING_SECRET": "serve-secret",
                         "OPSCOPILOT_SLACK__MODE": "http",
                         "OPSCOPILOT_SLACK__API_URL": fake.base_url}


def _health(port: int) -> tuple[int, str] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
            return resp.status, json.loads(resp.read())["status"]
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())["status"]
    except OSError:
        return None


def test_a_revoked_bot_token_is_one_line_before_anything_loads():
    with FakeSlackAPI() as fake:
        fake.revoked_tokens.add("xoxb-revoked")
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "bot.cli", "serve", "--port",
                               str(free_port())], env=_serve_env(fake, "xoxb-revoked"),
                              capture_output=True, text=True, timeout=120)
        elapsed = time.monotonic() - started
    assert done.returncode == 2
    assert "Slack did not accept OPSCOPILOT_SLACK__BOT_TOKEN: invalid_auth" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert [c.method for c in fake.calls] == ["auth.test"]  # nothing else was attempted
    assert elapsed < 60  # a guard against loading the models first, not a benchmark


@pytest.mark.slow  # a fresh process loads the embedding model and the router
def test_serve_http_mode_says_loading_then_ready_and_answers_a_mention():
    port = free_port()
    with FakeSlackAPI() as fake:
        proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--port", str(port)],
                                env=_serve_env(fake), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 180
            seen = []
            while (state := _health(port)) != (200, "ready"):
                if state is not None and state not in seen:
                    seen.append(state)
                    _mention(port, "EvSERVE0", "1.000100")  # while loading: held, not lost
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
                assert time.monotonic() < deadline, "serve did not start"
                time.sleep(0.1)
            assert set(seen) <= {(503, "loading")}
            _mention(port, "EvSERVE1", "2.000100")
            updates = fake.wait_for(lambda: len(fake.calls_to("chat.update")) >= 1 + bool(seen)
                                    and fake.calls_to("chat.update"), timeout=60)
            assert len(updates) == 1 + bool(seen)
            assert all("HighErrorRate" in str(u.body["blocks"]) for u in updates)
            assert all(u.token == "xoxb-serve" for u in updates)
            proc.terminate()  # SIGTERM: a graceful stop, not a traceback
            assert proc.wait(timeout=20) == 0
            assert proc.stderr is not None and b"Traceback" not in proc.stderr.read()
            assert _health(port) is None  # no longer listening
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)


def _mention(port: int, event_id: str, ts: str) -> None:
    body = json.dumps({"type": "event_callback", "team_id": "T0000001", "event_id": event_id,
                       "event": {"type": "app_mention", "user": "U1", "channel": "C1", "ts": ts,
                                 "text": "<@UBOT0001> which alerts are firing?"}})
    req = urllib.request.Request(f"http://127.0.0.1:{port}/slack/events", data=body.encode(),
                                 method="POST", headers=signed_headers("serve-secret", body))
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200


def test_while_loading_without_the_secret_events_are_asked_again():
    from bot.slack.server import SlackHTTPServer

    server = SlackHTTPServer(None, "127.0.0.1", 0)
    server.start_background()
    try:
        port = server.server_address[1]
        assert _health(port) == (503, "loading")
        req = urllib.request.Request(f"http://127.0.0.1:{port}/slack/events", data=b"{}",
                                     method="POST")
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(req, timeout=5)
        assert caught.value.code == 503 and caught.value.headers["Retry-After"] == "5"
    finally:
        server.shutdown()
        server.server_close()
