"""The change-event receiver over real HTTP on loopback: CI/CD posts deploys, bad bodies get a
400 that says what to fix, a shared secret is checked, events survive a restart (state DB), and
the changes tool reads them. One test runs the real `opscopilot events serve` process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine

from tests.servers import free_port, wait_until_ready
from tools.backends.change_store import ChangeStore
from tools.backends.webhook import SIGNATURE_HEADER, EventServer, sign
from tools.base import ToolRegistry, ToolStatus
from tools.events import RecentChanges

NOW = 1_790_000_000
DEPLOY = {"service": "checkout", "kind": "deploy", "description": "deploy checkout v2.14.0",
          "version": "v2.14.0", "author": "ci-bot", "ts": NOW - 600, "id": "run-881"}


def store_at(path: Path) -> ChangeStore:
    return ChangeStore(create_engine(f"sqlite:///{path}"))


@pytest.fixture
def receiver(tmp_path) -> Iterator[tuple[str, Path]]:
    db = tmp_path / "state.db"
    server = EventServer(store_at(db), "127.0.0.1", 0, secret="s3cret")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield server.url, db
    finally:
        server.shutdown()
        server.server_close()


def post(url: str, payload: object, secret: str | None = "s3cret", **headers: str):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    if secret:
        headers[SIGNATURE_HEADER] = sign(secret, body)
    return httpx.post(f"{url}/events", content=body, timeout=5,
                      headers={"Content-Type": "application/json", **headers})


def test_a_signed_deploy_is_stored_once_and_read_by_the_changes_tool(receiver):
    url, db = receiver
    first = post(url, DEPLOY)
    assert first.status_code == 201 and first.json() == {"stored": 1, "duplicates": 0}
    again = post(url, [DEPLOY, {"service": "payment", "kind": "config_change",
                                "description": "pool size 20 -> 10",
                                "ts": "2026-09-21T12:00:00Z"}])
    assert again.json() == {"stored": 1, "duplicates": 1}
    registry = ToolRegistry()
    registry.register(RecentChanges(store_at(db)))  # a new connection: it is on disk
    result = registry.run("recent_changes", {"services": ["checkout"], "start": NOW - 3600,
                                             "end": NOW})
    assert result.status is ToolStatus.OK and len(result.findings) == 1
    ev = result.evidence[0]
    assert ev.source == "webhook" and ev.values["version"] == "v2.14.0"
    assert result.findings[0].since == NOW - 600
    other, _ = store_at(db).changes([], 1_789_000_000 - 100_000, NOW)
    assert [(c.service, c.kind) for c in other] == [("payment", "config_change"),
                                                    ("checkout", "deploy")]


@pytest.mark.parametrize(("payload", "message"), [
    (b"{not json", "body is not valid JSON"),
    ({"kind": "deploy", "description": "x"}, "service: Field required"),
    ({"service": "checkout", "kind": "reboot", "description": "x"}, "kind: Input should be"),
    ({"service": "check out!", "description": "x"}, "service: Value error, must be"),
    ({"service": "checkout", "description": "x", "colour": "red"}, "colour: Extra inputs"),
    ({"service": "checkout", "description": "x", "ts": 1_790_000_000_000},
     "more than 300 s in the future"),
    ([], "empty list"),
    ([DEPLOY, 3], "event 1: expected a JSON object"),
])
def test_bad_bodies_get_400_with_what_to_fix_and_store_nothing(receiver, payload, message):
    url, db = receiver
    response = post(url, payload)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert store_at(db).changes([], 0, 2**40)[0] == []


def test_the_shared_secret_is_checked(receiver):
    url, db = receiver
    assert post(url, DEPLOY, secret=None).status_code == 401
    assert post(url, DEPLOY, secret="wrong").status_code == 401
    assert post(url, DEPLOY, secret=None, Authorization="Bearer s3cret").status_code == 201
    assert httpx.get(f"{url}/healthz", timeout=5).json() == {"ok": True}
    assert httpx.get(f"{url}/nope", timeout=5).status_code == 404


def test_oversized_bodies_are_refused(receiver):
    url, _ = receiver
    response = post(url, {"service": "checkout", "description": "x" * 300_000})
    assert response.status_code == 413


def test_the_cli_receiver_process(tmp_path):
    port = free_port()
    env = {**os.environ, "OPSCOPILOT_DATA_DIR": str(tmp_path / "data"),
           "OPSCOPILOT_EVENTS__SECRET": "s3cret"}
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "events", "serve",
                             "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert wait_until_ready(f"http://127.0.0.1:{port}/healthz", proc, 30), \
            proc.stderr.read() if proc.poll() is not None else "not ready"
        deploy = {**DEPLOY, "ts": None}
        del deploy["ts"]
        assert post(f"http://127.0.0.1:{port}", deploy).status_code == 201
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    listed = subprocess.run([sys.executable, "-m", "bot.cli", "events", "list", "--json"],
                            env=env, capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert [e["version"] for e in json.loads(listed.stdout)] == ["v2.14.0"]
    busy = subprocess.run([sys.executable, "-m", "bot.cli", "events", "list", "--hours", "0"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert busy.returncode == 2 and "--hours 0: must be more than 0" in busy.stderr
