"""Robustness of the Slack app: signature and timestamp checks (through a real HTTP server in
HTTP mode), rate limits honoured, double clicks handled once."""

from __future__ import annotations

import time
import urllib.error
import urllib.request

from bot.slack.server import SlackHTTPServer
from bot.slack.testing import signed_headers
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
    replies = harness.fake.wait_for(lambda: len(harness.responses()) >= 2 and harness.responses())
    texts = sorted(r["text"] for r in replies)
    assert texts[0].startswith("Thanks") and "already recorded" in texts[1]
    assert all(r["response_type"] == "ephemeral" for r in replies)
    log = harness.bot.records.answer_log
    if log is not None:  # bot/answer_log.py: the vote reaches the drift monitor's log
        [logged] = [e for e in log.entries(0) if e.id == answer_id]
        assert logged.votes == [True] and logged.source == "slack"


def test_feedback_on_an_unknown_answer_is_refused_politely(harness):
    harness.click("feedback_unhelpful", "no-such-answer")
    reply = harness.fake.wait_for(lambda: harness.responses())[0]
    assert reply["response_type"] == "ephemeral"
