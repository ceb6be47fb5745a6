"""Answers never hold up what must be quick: the answer pool's order (fair per channel, answers
before charts, one at a time per thread, nothing dropped), and through the real Bolt app, with
every answer worker busy, commands and clicks still acked and replied and new mentions told how
many questions are ahead; and requests that reach a loading server are held and answered."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.slack.conversations import PLACEHOLDER
from bot.slack.server import SlackHTTPServer
from bot.slack.testing import signed_headers
from bot.slack.work import FOLLOW_UP, AnswerPool
from tests.slack_support import SECRET, SlackHarness, block_text, fast_runtime


class Recorder:
    """Jobs that append their name when they run; the first one can be held at a gate."""

    def __init__(self) -> None:
        self.ran: list[str] = []
        self.gate = threading.Event()
        self.lock = threading.Lock()

    def job(self, name: str, wait: bool = False, seconds: float = 0.0):  # noqa: ANN201
        def run() -> None:
            if wait:
                assert self.gate.wait(10)
            time.sleep(seconds)
            with self.lock:
                self.ran.append(name)
        return run


def _started(pool: AnswerPool, running: int) -> None:
    deadline = time.monotonic() + 5
    while pool.waiting() or pool.ahead("nobody") < running:  # taken by the workers
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_a_busy_channel_does_not_hold_up_another_channel():
    pool, rec = AnswerPool(1), Recorder()
    pool.submit("A", rec.job("a0", wait=True))
    _started(pool, 1)
    for i in range(1, 6):
        pool.submit("A", rec.job(f"a{i}"))
    assert pool.ahead("B") == 2  # the one running, and A's next turn
    assert pool.ahead("A") == 6
    pool.submit("B", rec.job("b1"))
    rec.gate.set()
    pool.close()
    assert rec.ran == ["a0", "a1", "b1", "a2", "a3", "a4", "a5"]


def test_charts_wait_while_any_answer_waits_and_nothing_is_dropped():
    pool, rec = AnswerPool(1), Recorder()
    pool.submit("A", rec.job("answer0", wait=True))
    _started(pool, 1)
    pool.submit("A", rec.job("chart0"), priority=FOLLOW_UP)
    pool.submit("B", rec.job("answer1"))
    pool.submit("A", rec.job("answer2"))
    rec.gate.set()
    pool.close()  # runs what is queued before the workers stop
    assert rec.ran == ["answer0", "answer1", "answer2", "chart0"]
    with pytest.raises(RuntimeError):
        pool.submit("A", rec.job("late"))


def test_one_thread_is_answered_one_question_at_a_time():
    pool, rec = AnswerPool(2), Recorder()
    overlap: list[bool] = []
    running = threading.Semaphore(1)

    def turn(name: str):  # noqa: ANN202
        def run() -> None:
            overlap.append(not running.acquire(blocking=False))
            time.sleep(0.05)
            running.release()
            rec.ran.append(name)
        return run

    for i in range(4):
        pool.submit("C", turn(f"t{i}"), serial="C:1.0")
    pool.close()
    assert rec.ran == ["t0", "t1", "t2", "t3"] and not any(overlap)


class Gated:
    """The real copilot behind a gate: answers wait until the test opens it."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.entered = threading.Semaphore(0)
        self.inner = fast_runtime().copilot

    def answer(self, question: Any, conversation: Any = None) -> Any:
        self.entered.release()
        assert self.gate.wait(30)
        return self.inner.answer(question, conversation)


def _timed(call) -> float:  # noqa: ANN001
    started = time.monotonic()
    assert call().status == 200
    return time.monotonic() - started


def test_with_every_answer_worker_busy_commands_and_clicks_are_still_served(make_harness):
    copilot = Gated()
    h: SlackHarness = make_harness(copilot=copilot)
    workers = h.bot.answers.workers
    threads = [h.mention("what is wrong with checkout?", channel=f"C{i}") for i in range(workers)]
    for _ in range(workers):  # every worker is inside an answer now
        assert copilot.entered.acquire(timeout=10)
    waiting = h.mention("which alerts are firing?", channel="C0")
    ack = _timed(lambda: h.command("oncall"))
    click_ack = _timed(lambda: h.click("feedback_helpful", "no-such-answer"))
    replies = h.fake.wait_for(lambda: len(h.responses()) >= 2 and h.responses())
    assert ack < 1.0 and click_ack < 1.0
    assert "Ana Diaz" in json.dumps(replies) and "no longer have that answer" in json.dumps(replies)
    posts = {c.body["thread_ts"]: c.body["text"] for c in h.fake.calls_to("chat.postMessage")}
    assert all(posts[ts] == PLACEHOLDER for ts in threads)
    assert posts[waiting].startswith(":hourglass_flowing_sand: Busy:")
    assert f"{workers} questions ahead" in posts[waiting]
    assert h.updates() == []  # no answer yet: all of them wait for the gate
    copilot.gate.set()
    h.fake.wait_for(lambda: len(h.updates()) >= workers + 1)
    h.close()
    answered = [u["ts"] for u in h.updates() if u.get("blocks")]
    assert len(answered) == len(set(answered)) == workers + 1


def _post(url: str, body: str, content_type: str = "application/json",
          secret: str = SECRET) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body.encode(), method="POST",
                                 headers=signed_headers(secret, body, content_type=content_type))
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _health(server: SlackHTTPServer) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(server.url.replace("/slack/events", "/healthz")) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_requests_that_arrive_while_loading_are_held_then_answered(harness):
    h = harness
    server = SlackHTTPServer(None, "127.0.0.1", 0, signing_secret=SECRET)
    server.start_background()
    try:
        ts = h.new_ts()
        mention = h.event_body({"type": "app_mention", "user": "U0ASK", "channel": "C0INC",
                                "ts": ts, "event_ts": ts,
                                "text": "<@UBOT0001> which alerts are firing?"})
        assert _post(server.url, mention) == (200, b"")
        command = urlencode({"team_id": "T0000001", "channel_id": "C0GEN", "user_id": "U0ASK",
                             "command": "/ops", "text": "oncall", "api_app_id": "A1",
                             "response_url": h.fake.response_url("loading"),
                             "trigger_id": "1.2.3"})
        status, body = _post(server.url, command, "application/x-www-form-urlencoded")
        assert status == 200 and "Starting up" in json.loads(body)["text"]
        challenge = json.dumps({"type": "url_verification", "challenge": "c-123"})
        assert json.loads(_post(server.url, challenge)[1]) == {"challenge": "c-123"}
        assert _post(server.url, mention, secret="forged")[0] == 401
        assert _health(server) == (503, {"status": "loading", "held": 2})
        assert [c.method for c in h.fake.calls] == ["auth.test"]  # the harness app, no answer
        server.attach(h.app).join(10)
        [update] = h.fake.wait_for(lambda: h.updates())
        assert "HighErrorRate" in block_text(update["blocks"])
        [reply] = h.fake.wait_for(lambda: h.responses())
        assert "Ana Diaz" in json.dumps(reply)
        assert _post(server.url, mention)[0] == 200  # a redelivery now: acked, not re-answered
        time.sleep(0.3)
        assert len(h.updates()) == 1
        assert _health(server) == (200, {"status": "ready"})
    finally:
        server.shutdown()
        server.server_close()
