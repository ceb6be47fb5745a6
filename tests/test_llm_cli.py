"""`opscopilot ask --mode llm` as a real process against a real HTTP server on loopback that speaks
the OpenAI Chat Completions API (a scripted model), as vLLM or llama.cpp server would."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from bot.llm.replay import Call, Reply, ScriptedProvider
from tools.sandbox.simulator import load_sandbox

pytestmark = pytest.mark.slow


def serve(provider: ScriptedProvider) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            reply = provider(httpx.Request("POST", f"http://test{self.path}", content=body))
            self.send_response(reply.status_code)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(reply.content)))
            self.end_headers()
            self.wfile.write(reply.content)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_ask_mode_llm_against_a_local_openai_compatible_server(tmp_path):
    now = load_sandbox("bad-deploy-checkout").now
    window = {"start": now - 1800, "end": now}
    provider = ScriptedProvider("openai", [
        Reply.tools(Call("detect_metric_anomalies", {"services": [], **window}),
                    Call("recent_changes", {"services": ["checkout"], **window})),
        Reply.say("Checkout is not healthy; see the findings."),
    ])
    server = serve(provider)
    try:
        env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
               "OPSCOPILOT_CACHE_DIR": str(tmp_path / "cache"),
               "OPSCOPILOT_DATA_DIR": str(tmp_path / "data"),
               "OPSCOPILOT_LLM__PROVIDER": "openai", "OPSCOPILOT_LLM__MODEL": "local-model",
               "OPSCOPILOT_LLM__BASE_URL": f"http://127.0.0.1:{server.server_port}/v1"}
        proc = subprocess.run(
            [sys.executable, "-m", "bot.cli", "ask", "what is wrong with checkout?",
             "--mode", "llm", "--json"], capture_output=True, text=True, timeout=300, env=env,
            cwd=tmp_path)
    finally:
        server.shutdown()
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    assert answer["mode"] == "llm", answer["llm"]
    assert answer["tools"] == ["detect_metric_anomalies", "recent_changes"]
    assert answer["answer"].startswith("Checkout is not healthy")
    assert answer["findings"] and answer["llm"]["model_calls"] == 2
    assert "step 1: asking the model" in proc.stderr
    assert len(provider.bodies) == 2
