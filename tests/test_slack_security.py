"""Robustness of the Slack app: signature and timestamp checks (through a real HTTP server in
HTTP mode), rate limits honoured, double clicks handled once; malformed, oversized, short and
slow requests over raw sockets (clean 4xx or a closed connection, no traceback, nothing held);
replayed, escaped, badly quoted and secret-bearing slash commands; Socket Mode's start checks."""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.slack.server import SlackHTTPServer
from bot.slack.testing import FakeSlackAPI, signed_headers
from tests.servers import free_port
from tests.slack_support import SECRET, SlackHarness


def _post(url: str, body: str, headers: dict[str, str]) -> int:
    req = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _api_calls(h: SlackHarness) -> list[str]:
    """Web API calls after start-up (the app checks its token with auth.test when built)."""
    return [c.method for c in h.fake.calls if c.method != "auth.test"]


def _mention_body(h: SlackHarness) -> str:
    return h.event_body({"type": "app_mention", "user": "U0ASK", "ts": h.new_ts(),
                         "text": "<@UBOT0001> what is wrong with checkout?", "channel": "C0INC"})


def test_http_mode_verifies_signature_and_timestamp(harness):
    server = SlackHTTPServer(harness.app, "127.0.0.1", 0)
    server.start_background()
    try:
        body = _mention_body(harness)
        forged = signed_headers("not-the-secret", body)
        assert _post(server.url, body, forged) == 401
        stale = signed_headers(SECRET, body, timestamp=int(time.time()) - 600)
        assert _post(server.url, body, stale) == 401
        tampered = signed_headers(SECRET, body)
        assert _post(server.url, body.replace("checkout", "payment"), tampered) == 401
        assert _post(server.url, body, {"content-type": "application/json"}) == 401
        time.sleep(0.3)
        assert _api_calls(harness) == []  # nothing was executed
        assert _post(server.url, body, signed_headers(SECRET, body)) == 200
        harness.fake.wait_for(lambda: harness.updates())
    finally:
        server.shutdown()
        server.server_close()


def test_forged_command_is_rejected_before_any_listener(harness):
    resp = harness.dispatch("command=%2Fops&text=incident+declare+x", secret="wrong",
                            content_type="application/x-www-form-urlencoded")
    assert resp.status == 401
    time.sleep(0.2)
    assert _api_calls(harness) == [] and harness.bot.incidents.list() == []


def test_rate_limited_calls_are_retried_after_retry_after(harness):
    harness.fake.rate_limit("chat.postMessage", times=1)
    started = time.monotonic()
    harness.mention("which alerts are firing?")
    harness.fake.wait_for(lambda: harness.updates())
    methods = [c.method for c in harness.fake.calls if c.method != "auth.test"]
    assert methods[:2] == ["chat.postMessage:429", "chat.postMessage"]
    assert time.monotonic() - started >= 1.0  # waited as Retry-After asked


def _feedback_id(h: SlackHarness) -> str:
    update = h.fake.wait_for(lambda: h.updates())[0]
    row = next(b for b in update["blocks"] if b.get("block_id") == "feedback")
    return row["elements"][0]["value"]


def test_feedback_double_click_is_recorded_once(harness):
    harness.mention("which alerts are firing?")
    answer_id = _feedback_id(harness)
    for _ in range(2):
        assert harness.click("feedback_helpful", answer_id).status == 200
    harness.fake.wait_for(lambda: harness.responses())
    time.sleep(0.5)  # a second reply, if the clicks were handled one after the other
    replies = harness.responses()
    texts = sorted(r["text"] for r in replies)
    # Handled at once, the second click is a no-op; one after the other, it is told the vote
    # is already recorded. Either way the vote counts once and only one says thanks.
    assert texts[0].startswith("Thanks") and len(texts) <= 2
    assert all("already recorded" in t for t in texts[1:])
    assert all(r["response_type"] == "ephemeral" for r in replies)
    log = harness.bot.records.answer_log
    if log is not None:  # bot/answer_log.py: the vote reaches the drift monitor's log
        [logged] = [e for e in log.entries(0) if e.id == answer_id]
        assert logged.votes == [True] and logged.source == "slack"


def test_feedback_on_an_unknown_answer_is_refused_politely(harness):
    harness.click("feedback_unhelpful", "no-such-answer")
    reply = harness.fake.wait_for(lambda: harness.responses())[0]
    assert reply["response_type"] == "ephemeral"


# -- probes over sockets: the real server (uvicorn + Bolt's ASGI adapter) and the real app ----
# Each probe is sent as raw bytes, so the test sees exactly what a client would: the status
# line, and whether the server closed the connection.

READ_TIMEOUT = 1.0  # the server's read timeout in these tests (10 s by default)
SLACK_TOKEN = "xoxb-123456789012-abcdefghijklmnop"


@pytest.fixture
def served(harness, caplog):
    """The harness app behind SlackHTTPServer with the signing secret and short timeouts."""
    caplog.set_level(logging.INFO)
    server = SlackHTTPServer(harness.app, "127.0.0.1", 0, signing_secret=SECRET,
                             read_timeout=READ_TIMEOUT, idle_timeout=1)
    server.start_background()
    _wait_listening(server)
    yield server
    server.shutdown()
    server.server_close()
    tracebacks = [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
    assert tracebacks == []


def _wait_listening(server: SlackHTTPServer) -> None:
    deadline = time.monotonic() + 10
    while not server.server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)


@dataclass
class Exchange:
    """What a raw client saw: the response bytes, whether the server closed, how long it took."""

    data: bytes
    closed: bool
    seconds: float

    @property
    def status(self) -> int | None:
        line = self.data.split(b"\r\n", 1)[0].split()
        return int(line[1]) if len(line) > 1 and line[1].isdigit() else None


def _raw(server: SlackHTTPServer, chunks: list[bytes], gap: float = 0.0,
         wait: float = 5.0) -> Exchange:
    """Send `chunks` (`gap` seconds apart), then read until the server closes or `wait` ends."""
    host, port = server.server_address[:2]
    started = time.monotonic()
    with socket.create_connection((host, port), timeout=wait) as sock:
        for chunk in chunks:
            try:
                sock.sendall(chunk)
            except OSError:  # closed on us mid-send: what follows tells
                break
            time.sleep(gap)
        data, closed = b"", False
        sock.settimeout(0.2)
        while time.monotonic() - started < wait:
            try:
                part = sock.recv(65536)
            except TimeoutError:
                continue
            except ConnectionResetError:
                closed = True
                break
            if not part:
                closed = True
                break
            data += part
    return Exchange(data, closed, time.monotonic() - started)


def _request(body: bytes, headers: dict[str, str], length: str | None = None) -> bytes:
    head = [b"POST /slack/events HTTP/1.1", b"Host: 127.0.0.1"]
    head += [f"{k}: {v}".encode() for k, v in headers.items()]
    head.append(f"Content-Length: {len(body) if length is None else length}".encode())
    return b"\r\n".join(head) + b"\r\n\r\n" + body


def _signed(body: str, content_type: str = "application/json") -> dict[str, str]:
    return signed_headers(SECRET, body, content_type=content_type)


def _no_forgery_ran(h: SlackHarness) -> None:
    time.sleep(0.3)
    assert _api_calls(h) == [] and h.bot.incidents.list() == []


def test_unsigned_malformed_json_is_refused_before_parsing(served, harness):
    x = _raw(served, [_request(b'{"type": "event_callback", "event": {', {
        "Content-Type": "application/json"})])
    assert (x.status, x.closed) == (401, True)
    forged = _signed('{"type": "event_callback"}')  # signed, but for another body
    x = _raw(served, [_request(b'{"type": "event_callback", "event": {', forged)])
    assert (x.status, x.closed) == (401, True)
    _no_forgery_ran(harness)


def test_signed_malformed_json_is_a_clean_400(served):
    body = '{"type": "event_callback", "event": {'
    x = _raw(served, [_request(body.encode(), _signed(body))])
    assert (x.status, x.closed) == (400, True)


def test_bad_timestamps_and_signature_headers_are_401(served, harness):
    body = _mention_body(harness)
    good = _signed(body)
    for change in ({"x-slack-request-timestamp": "abc"},
                   {"x-slack-request-timestamp": "1e9"},
                   {"x-slack-request-timestamp": str(int(time.time()) + 3600)},
                   {"x-slack-signature": "sha1=deadbeef"}):
        x = _raw(served, [_request(body.encode(), good | change)])
        assert (x.status, x.closed) == (401, True), change
    _no_forgery_ran(harness)


def test_bad_lengths_are_refused_without_waiting(served, harness):
    body = _mention_body(harness).encode()
    for length in ("-1", "abc", "1, 2"):
        x = _raw(served, [_request(body, _signed(body.decode()), length)])
        assert (x.status, x.closed) == (400, True), length
    x = _raw(served, [_request(b"", _signed(""), "2000000")])  # none of it sent: not a 408
    assert (x.status, x.closed) == (413, True)
    chunked = (b"POST /slack/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5\r\nhello\r\n0\r\n\r\n")
    assert _raw(served, [chunked]).status == 411
    body = b"\xff\xfe not utf-8"
    x = _raw(served, [_request(body, signed_headers(SECRET, "x"))])
    assert (x.status, x.closed) == (400, True)
    _no_forgery_ran(harness)


def test_short_and_trickled_bodies_time_out(served, harness):
    body = _mention_body(harness)
    request = _request(body.encode(), _signed(body))
    x = _raw(served, [request[:-20]])  # 20 bytes short, then silence
    assert (x.status, x.closed) == (408, True)
    assert READ_TIMEOUT <= x.seconds < READ_TIMEOUT + 2
    head, rest = request.split(b"\r\n\r\n", 1)
    x = _raw(served, [head + b"\r\n\r\n"] + [bytes([b]) for b in rest[:30]], gap=0.1)
    assert (x.status, x.closed) == (408, True)  # one byte every 0.1 s: not a request
    _no_forgery_ran(harness)


def test_slow_and_silent_clients_are_disconnected(served):
    x = _raw(served, [])  # connects, sends nothing
    assert x.closed and x.data == b"" and x.seconds < READ_TIMEOUT + 2
    x = _raw(served, [b"POST /slack/events HTTP/1.1\r\n", b"Host: x\r\n", b"X-A: 1\r\n"],
             gap=0.4)  # headers that never end (slowloris)
    assert x.closed and x.seconds < READ_TIMEOUT + 2
    flood = b"POST /slack/events HTTP/1.1\r\n" + b"X-Pad: " + b"a" * 200_000 + b"\r\n"
    x = _raw(served, [flood[i:i + 16384] for i in range(0, len(flood), 16384)])
    assert (x.status, x.closed) == (431, True)  # headers without end (memory)
    x = _raw(served, [b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"])  # kept alive, then idle
    assert x.status == 200 and x.closed and x.seconds < 3


def test_no_connection_is_held_after_the_timeout(served, harness):
    host, port = served.server_address[:2]
    socks = [socket.create_connection((host, port)) for _ in range(5)]
    body = _mention_body(harness).encode()
    socks[1].sendall(_request(body, _signed(body.decode()))[:-5])
    socks[2].sendall(b"POST /slack/events HTTP/1.1\r\n")
    time.sleep(0.3)
    assert len(served.server.server_state.connections) == 5
    started = time.monotonic()
    while served.server.server_state.connections:
        assert time.monotonic() - started < READ_TIMEOUT + 3, "connections still held"
        time.sleep(0.05)
    for sock in socks:
        sock.close()


def test_a_stuck_client_does_not_block_the_others(harness):
    server = SlackHTTPServer(harness.app, "127.0.0.1", 0, signing_secret=SECRET,
                             read_timeout=30)
    server.start_background()
    _wait_listening(server)
    try:
        with socket.create_connection(server.server_address[:2]) as stuck:
            body = _mention_body(harness)
            stuck.sendall(_request(body.encode(), _signed(body))[:-50])  # and then nothing
            started = time.monotonic()
            body = _mention_body(harness)
            assert _post(server.url, body, _signed(body)) == 200
            assert time.monotonic() - started < 10  # answered long before the stuck one ends
            stuck.setblocking(False)
            with pytest.raises(BlockingIOError):  # the stuck one is still waiting
                stuck.recv(1)
        harness.fake.wait_for(lambda: harness.updates())
    finally:
        server.shutdown()
        server.server_close()


def test_beyond_the_connection_limit_it_answers_503(harness):
    server = SlackHTTPServer(harness.app, "127.0.0.1", 0, signing_secret=SECRET,
                             max_connections=3)
    server.start_background()
    _wait_listening(server)
    try:
        host, port = server.server_address[:2]
        idle = [socket.create_connection((host, port)) for _ in range(3)]
        time.sleep(0.2)
        x = _raw(server, [b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"], wait=2)
        assert x.status == 503
        for sock in idle:
            sock.close()
    finally:
        server.shutdown()
        server.server_close()


def test_shutdown_lets_the_request_in_flight_finish(harness):
    server = SlackHTTPServer(harness.app, "127.0.0.1", 0, signing_secret=SECRET)
    server.start_background()
    _wait_listening(server)
    body = _mention_body(harness)
    request = _request(body.encode(), _signed(body))
    with socket.create_connection(server.server_address[:2], timeout=10) as sock:
        sock.sendall(request[:-10])  # in flight when the stop comes
        time.sleep(0.2)
        stopping = threading.Thread(target=server.shutdown)
        started = time.monotonic()
        stopping.start()
        time.sleep(0.3)
        with pytest.raises(OSError):  # no new connections meanwhile
            socket.create_connection(server.server_address[:2], timeout=1)
        sock.sendall(request[-10:])
        answer = sock.recv(65536)
        stopping.join(10)
    assert answer.startswith(b"HTTP/1.1 200") and b"connection: close" in answer.lower()
    assert not stopping.is_alive() and time.monotonic() - started < 8
    server.server_close()
    harness.fake.wait_for(lambda: harness.updates())  # and it was answered


def test_the_starting_up_ack_does_not_echo_secrets(harness):
    server = SlackHTTPServer(None, "127.0.0.1", 0, signing_secret=SECRET)
    server.start_background()
    try:
        reply = _command(server, _command_body(harness, f"incident declare {SLACK_TOKEN}"))
        assert "Starting up" in reply["text"] and SLACK_TOKEN not in reply["text"]
    finally:
        server.shutdown()
        server.server_close()


# -- slash commands through the server: replays, escaping, quoting, secrets ---------------------

def _command_body(h: SlackHarness, text: str, user: str = "U0ASK") -> str:
    return urlencode({"token": "legacy", "team_id": "T0000001", "channel_id": "C0GEN",
                      "channel_name": "general", "user_id": user, "user_name": "someone",
                      "command": "/ops", "text": text, "api_app_id": "A1",
                      "response_url": h.fake.response_url(uuid.uuid4().hex[:8]),
                      "trigger_id": "1.2.3"})


def _command(server: SlackHTTPServer, body: str,
             headers: dict[str, str] | None = None) -> dict[str, Any]:
    headers = headers or _signed(body, "application/x-www-form-urlencoded")
    req = urllib.request.Request(server.url, data=body.encode(), headers=headers,
                                 method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200
        data = resp.read().decode()
    return json.loads(data) if data.startswith("{") else {"text": data}  # ack(text=) is plain


def test_a_replayed_slash_command_runs_once(served, harness):
    body = _command_body(harness, "incident declare checkout down sev2")
    headers = _signed(body, "application/x-www-form-urlencoded")
    _command(served, body, headers)
    harness.fake.wait_for(lambda: harness.bot.incidents.list())
    for _ in range(3):  # the captured request, sent again within its 5 minutes
        _command(served, body, headers)
    refusals = harness.fake.wait_for(lambda: len(harness.responses()) >= 4 and [
        r for r in harness.responses() if "already received" in r.get("text", "")])
    assert len(refusals) == 3 and all(r["response_type"] == "ephemeral" for r in refusals)
    time.sleep(0.5)
    assert len(harness.bot.incidents.list()) == 1
    assert len(harness.fake.calls_to("conversations.create")) == 1
    audited = [e for e in harness.bot.records.audit_log.entries()
               if e.action == "slack.replay_refused"]
    assert len(audited) == 3 and audited[0].actor == "U0ASK"
    again = _command_body(harness, "incident declare checkout down sev2")
    time.sleep(1.0)  # typed again a second later: a new timestamp, a new incident
    _command(served, again)
    harness.fake.wait_for(lambda: len(harness.bot.incidents.list()) == 2)


def test_slash_text_is_unescaped(served, harness):
    _command(served, _command_body(harness, "incident declare checkout &amp; payments down"))
    [inc] = harness.fake.wait_for(lambda: harness.bot.incidents.list())
    assert inc.title == "checkout & payments down"
    [created] = harness.fake.wait_for(lambda: harness.fake.calls_to("conversations.create"))
    assert created.body["name"].endswith("-checkout-payments-down")  # no "amp" in it


def test_bad_quoting_and_twice_given_parameters_are_one_line_usage(served, harness):
    for text, says in (('runbook plan drain-node node="node-1', "close the quote"),
                       ("runbook run drain-node node=a node=b", "`node` is given more than once")):
        reply = _command(served, _command_body(harness, text))
        problem = reply["blocks"][0]["text"]["text"]
        assert says in problem and "\n" not in problem, problem
    time.sleep(0.5)
    assert harness.responses() == []  # no apology, nothing ran
    assert "runbook.request" not in str(harness.bot.records)


def test_secrets_in_a_command_never_leave_the_process(served, harness):
    reply = _command(served, _command_body(harness, f"incident declare leak {SLACK_TOKEN}"))
    assert SLACK_TOKEN not in json.dumps(reply) and "REDACTED" in reply["text"]
    reply = _command(served, _command_body(harness, f"{SLACK_TOKEN} what now"))
    assert SLACK_TOKEN not in json.dumps(reply)  # the unknown sub-command, quoted back
    [created] = harness.fake.wait_for(lambda: harness.fake.calls_to("conversations.create"))
    assert "xoxb" not in created.body["name"] and "123456789012" not in created.body["name"]
    harness.fake.wait_for(lambda: harness.responses())
    time.sleep(0.3)
    sent = json.dumps([c.body for c in harness.fake.calls])
    assert "123456789012" not in sent


# -- Socket Mode start: tokens checked before anything loads ------------------------------------

def _serve_socket(monkeypatch, fake: FakeSlackAPI, app_token: str,
                  api_url: str | None = None) -> tuple[int, str]:
    from typer.testing import CliRunner

    from bot.cli import app

    for name in [k for k in os.environ if k.startswith("OPSCOPILOT_SLACK")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("OPSCOPILOT_SLACK__BOT_TOKEN", "xoxb-socket")
    monkeypatch.setenv("OPSCOPILOT_SLACK__APP_TOKEN", app_token)
    monkeypatch.setenv("OPSCOPILOT_SLACK__API_URL", api_url or fake.base_url)
    result = CliRunner().invoke(app, ["serve", "--mode", "socket"])
    return result.exit_code, result.output


def test_socket_mode_refuses_a_wrong_kind_or_revoked_app_token_in_one_line(monkeypatch,
                                                                           fake_slack):
    code, output = _serve_socket(monkeypatch, fake_slack, "xoxb-not-an-app-token")
    assert code == 2 and "OPSCOPILOT_SLACK__APP_TOKEN should start with xapp-" in output
    assert len(output.strip().splitlines()) == 1 and "xoxb-not" not in output
    assert fake_slack.calls == []  # refused before asking Slack
    fake_slack.revoked_tokens.add("xapp-revoked")
    started = time.monotonic()
    code, output = _serve_socket(monkeypatch, fake_slack, "xapp-revoked")
    assert code == 2, output
    assert "did not accept OPSCOPILOT_SLACK__APP_TOKEN for Socket Mode: invalid_auth" in output
    assert len(output.strip().splitlines()) == 1 and "Traceback" not in output
    assert [c.method for c in fake_slack.calls] == ["auth.test", "apps.connections.open"]
    assert time.monotonic() - started < 10  # no models were loaded first


def test_an_unreachable_api_url_names_the_url_and_the_setting(monkeypatch, fake_slack):
    url = f"http://127.0.0.1:{free_port()}/api/"
    code, output = _serve_socket(monkeypatch, fake_slack, "xapp-1", api_url=url)
    assert code == 2, output
    assert url in output and "OPSCOPILOT_SLACK__API_URL" in output
    assert len(output.strip().splitlines()) == 1 and "Traceback" not in output


def test_a_taken_port_is_one_line_naming_the_setting():
    from infra.settings import SettingsError

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(SettingsError, match=f"cannot listen on 127.0.0.1:{port}.*--port"):
            SlackHTTPServer(None, "127.0.0.1", port)
