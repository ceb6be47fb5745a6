"""Helpers for the Slack tests: the real Bolt app wired to a Web API stand-in on loopback
(bot.slack.testing.FakeSlackAPI), requests signed the way Slack signs them, a fixed clock, and a
fast real copilot (the sandbox, a router on the model-free hashing embedder, a seeded KB).
"""

from __future__ import annotations

import itertools
import json
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_bolt import BoltResponse
from slack_bolt.request import BoltRequest

from bot.slack.testing import FakeSlackAPI, signed_headers

SECRET = "test-signing-secret"
_ts = itertools.count(1)


class Clock:
    """A wall clock tests move by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def fresh_settings(**overrides: Any):  # noqa: ANN201 - Settings
    """Settings with their own data folder (state DB, KB) and the model-free KB embedder."""
    from infra.settings import load_settings

    data = Path(tempfile.mkdtemp(prefix="opscopilot-slack-"))
    return load_settings(data_dir=data, kb={"model": "hashing-384"}, **overrides)


_RUNTIME: dict[str, Any] = {}


def fast_runtime():  # noqa: ANN201 - Runtime
    """A real copilot over the bad-deploy-checkout sandbox, built once per session (~10 s)."""
    if "runtime" not in _RUNTIME:
        from bot.app import build_runtime
        from bot.router import Router
        from knowledge.corpus import demo_documents
        from knowledge.hashing import HashingEmbedder
        from knowledge.ingest import ingest_documents

        settings = fresh_settings()
        runtime = build_runtime(settings, "bad-deploy-checkout",
                                router=Router(HashingEmbedder(), [], cache_dir=None))
        assert runtime.kb is not None
        ingest_documents(runtime.kb.store, demo_documents())
        runtime.warm()
        _RUNTIME["runtime"] = runtime
    return _RUNTIME["runtime"]


def write_schedule(path: Path) -> Path:
    path.write_text(
        "rotations:\n"
        "  - name: primary\n"
        "    start: 2026-11-02T09:00:00Z\n"
        "    every_days: 7\n"
        "    people:\n"
        "      - {name: Ana Diaz, slack: U0ANA}\n"
        "      - {name: Bo Chen, email: bo@example.com}\n", encoding="utf-8")
    return path


class SlackHarness:
    """The real Bolt app (HTTP-mode verification on) against `FakeSlackAPI`."""

    def __init__(self, fake: FakeSlackAPI, settings: Any = None, copilot: Any = None,
                 clock: Clock | None = None, oncall: Any = None) -> None:
        from bot.oncall import ScheduleFile
        from bot.slack.app import build_app, build_bot, make_client

        self.fake = fake
        self.settings = settings or fresh_settings()
        self.clock = clock or Clock(datetime(2026, 11, 20, 18, 20, tzinfo=UTC))
        schedule = write_schedule(self.settings.resolved_data_dir() / "oncall.yaml")
        self.bot = build_bot(self.settings, fast_runtime(), copilot=copilot, clock=self.clock,
                             oncall=oncall or ScheduleFile(schedule))
        self.client = make_client("xoxb-test-token", fake.base_url)
        self.executor = ThreadPoolExecutor(32, thread_name_prefix="test-listener")
        self.app = build_app(self.bot, self.client, signing_secret=SECRET,
                             executor=self.executor)

    def close(self) -> None:
        """Let lazy listeners and queued answers finish (before the Web API stand-in goes)."""
        self.executor.shutdown(wait=True)
        self.bot.answers.close()

    # -- raw -------------------------------------------------------------------------------
    def dispatch(self, body: str, content_type: str = "application/json",
                 timestamp: int | None = None, secret: str = SECRET,
                 extra: dict[str, str] | None = None) -> BoltResponse:
        headers = signed_headers(secret, body, timestamp, content_type) | (extra or {})
        return self.app.dispatch(BoltRequest(body=body, headers={k: [v] for k, v in
                                                                 headers.items()}))

    # -- what Slack sends ------------------------------------------------------------------
    @staticmethod
    def event_body(event: dict[str, Any], event_id: str | None = None) -> str:
        return json.dumps({"token": "legacy", "team_id": "T0000001", "api_app_id": "A1",
                           "type": "event_callback", "event": event,
                           "event_id": event_id or f"Ev{uuid.uuid4().hex[:10]}",
                           "event_time": 1800000000,
                           "authorizations": [{"team_id": "T0000001", "user_id": "UBOT0001",
                                               "is_bot": True}]})

    def event(self, event: dict[str, Any], event_id: str | None = None,
              retry_num: int | None = None) -> BoltResponse:
        extra = {"x-slack-retry-num": str(retry_num),
                 "x-slack-retry-reason": "http_timeout"} if retry_num else None
        return self.dispatch(self.event_body(event, event_id), extra=extra)

    @staticmethod
    def new_ts() -> str:
        return f"1795198{next(_ts):03d}.000200"

    def mention(self, text: str, channel: str = "C0INC", user: str = "U0ASK",
                thread_ts: str | None = None, event_id: str | None = None) -> str:
        ts = self.new_ts()
        event = {"type": "app_mention", "user": user, "text": f"<@UBOT0001> {text}", "ts": ts,
                 "channel": channel, "event_ts": ts}
        if thread_ts:
            event["thread_ts"] = thread_ts
        assert self.event(event, event_id).status == 200
        return ts

    def message(self, text: str, channel: str = "C0INC", user: str = "U0ASK",
                thread_ts: str | None = None, channel_type: str = "channel") -> BoltResponse:
        ts = self.new_ts()
        event = {"type": "message", "user": user, "text": text, "ts": ts, "channel": channel,
                 "event_ts": ts, "channel_type": channel_type}
        if thread_ts:
            event["thread_ts"] = thread_ts
        return self.event(event)

    def command(self, text: str, user: str = "U0ASK", channel: str = "C0GEN") -> BoltResponse:
        body = urlencode({"token": "legacy", "team_id": "T0000001", "channel_id": channel,
                          "channel_name": "general", "user_id": user, "user_name": "someone",
                          "command": "/ops", "text": text, "api_app_id": "A1",
                          "response_url": self.fake.response_url(uuid.uuid4().hex[:8]),
                          "trigger_id": "1.2.3"})
        return self.dispatch(body, "application/x-www-form-urlencoded")

    def click(self, action_id: str, value: str, user: str = "U0ASK", channel: str = "C0INC",
              message_ts: str = "1795198000.000100", block_id: str = "b") -> BoltResponse:
        payload = {"type": "block_actions", "team": {"id": "T0000001"},
                   "user": {"id": user, "username": "someone", "team_id": "T0000001"},
                   "api_app_id": "A1", "token": "legacy", "trigger_id": "1.2.3",
                   "container": {"type": "message", "message_ts": message_ts,
                                 "channel_id": channel},
                   "channel": {"id": channel, "name": "inc"},
                   "message": {"ts": message_ts, "text": ""},
                   "response_url": self.fake.response_url(uuid.uuid4().hex[:8]),
                   "actions": [{"type": "button", "action_id": action_id, "block_id": block_id,
                                "value": value, "action_ts": "1795198001.0"}]}
        return self.dispatch(urlencode({"payload": json.dumps(payload)}),
                             "application/x-www-form-urlencoded")

    # -- what users see --------------------------------------------------------------------
    def updates(self) -> list[dict[str, Any]]:
        return [c.body for c in self.fake.calls_to("chat.update")]

    def responses(self) -> list[dict[str, Any]]:
        return [c.body for c in self.fake.calls_to("response")]


def block_text(blocks: list[dict[str, Any]]) -> str:
    """All text inside blocks, for asserting on what a user reads."""
    out: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "text" and isinstance(item, str):
                    out.append(item)
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(blocks)
    return "\n".join(out)


@pytest.fixture
def fake_slack():
    with FakeSlackAPI() as fake:
        yield fake


@pytest.fixture
def harness(fake_slack):
    h = SlackHarness(fake_slack)
    yield h
    h.close()


@pytest.fixture
def make_harness(fake_slack):
    """make_harness(copilot=..., clock=..., oncall=...) -> SlackHarness, closed after the test."""
    made: list[SlackHarness] = []

    def make(**kwargs: Any) -> SlackHarness:
        made.append(SlackHarness(fake_slack, **kwargs))
        return made[-1]

    yield make
    for h in made:
        h.close()
