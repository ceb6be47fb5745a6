"""`opscopilot serve` end to end: the real command in HTTP mode, a signed mention over HTTP, the
answer posted to the Web API stand-in; and the one-line errors for missing tokens."""

from __future__ import annotations

import os
import subprocess
import sys
import time
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


@pytest.mark.slow  # a fresh process loads the embedding model and trains the router
def test_serve_http_mode_answers_a_mention():
    port = free_port()
    with FakeSlackAPI() as fake:
        env = os.environ | {"OPSCOPILOT_SLACK__BOT_TOKEN": "xoxb-serve",
                            "OPSCOPILOT_SLACK__SIGNING_SECRET": "serve-secret",
                            "OPSCOPILOT_SLACK__MODE": "http",
                            "OPSCOPILOT_SLACK__API_URL": fake.base_url}
        proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--port", str(port)],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 180
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                        break
                except OSError:
                    assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
                    assert time.monotonic() < deadline, "serve did not start"
                    time.sleep(0.5)
            body = ('{"type":"event_callback","team_id":"T0000001","event_id":"EvSERVE1",'
                    '"event":{"type":"app_mention","user":"U1","channel":"C1","ts":"1.000100",'
                    '"text":"<@UBOT0001> which alerts are firing?"}}')
            req = urllib.request.Request(f"http://127.0.0.1:{port}/slack/events",
                                         data=body.encode(), method="POST",
                                         headers=signed_headers("serve-secret", body))
            with urllib.request.urlopen(req, timeout=10) as resp:
                assert resp.status == 200
            [update] = fake.wait_for(lambda: fake.calls_to("chat.update"), timeout=60)
            assert "HighErrorRate" in str(update.body["blocks"])
            assert update.token == "xoxb-serve"
        finally:
            proc.terminate()
            proc.wait(timeout=10)
