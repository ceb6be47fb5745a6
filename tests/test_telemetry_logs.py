"""Structured logs (infra/logcontext.py): one JSON object a line when asked, and one request id
from the Slack event through the answer, its tool calls and the audit entries, over the real
Bolt app with signed requests."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from infra.logcontext import configure_logging, current_request_id, request_scope
from tests.slack_support import SlackHarness


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    configure_logging("INFO", json_logs=True, stream=stream)
    yield stream
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])


def records(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_a_mention_its_answer_and_its_tool_calls_share_the_events_request_id(harness,
                                                                            json_log):
    harness.mention("what is wrong with checkout?", event_id="EvLOGS0001")
    harness.fake.wait_for(lambda: harness.updates())
    harness.mention("which alerts are firing?", event_id="EvLOGS0002")
    harness.fake.wait_for(lambda: len(harness.updates()) >= 2)
    harness.bot.answers.join(10)
    logged = records(json_log)
    first = [r for r in logged if r.get("request_id") == "EvLOGS0001"]
    loggers = {r["logger"] for r in first}
    assert {"bot.slack.app", "bot.copilot", "infra.telemetry"} <= loggers, loggers
    tools = [r for r in logged if r["logger"] == "bot.copilot" and r["message"].startswith("tool ")]
    assert tools and all(r.get("request_id") in ("EvLOGS0001", "EvLOGS0002") for r in tools)
    answers = {r["request_id"]: r["message"] for r in logged if r["logger"] == "infra.telemetry"}
    assert answers["EvLOGS0001"].startswith("answer investigate:")
    assert answers["EvLOGS0002"].startswith("answer alerts:")
    assert all({"ts", "level", "logger", "message", "thread"} <= set(r) for r in logged)
    assert current_request_id() is None  # nothing leaks into the test's own thread


def test_a_clicks_audit_entry_carries_the_request_id_its_logs_show(harness, json_log):
    import json as js

    harness.click("runbook_approve", js.dumps({"id": "nope", "hash": "sha256:1"}),
                  user="U0BOB", block_id="runbook:nope")
    harness.fake.wait_for(lambda: harness.responses())
    entries = harness.bot.records.audit_log.entries()
    ids = {e.details.get("request_id") for e in entries}
    assert len(ids) == 1 and None not in ids, [e.details for e in entries]
    (request_id,) = ids
    assert any(r["message"] == f"slack request {request_id}: block_actions"
               for r in records(json_log))


def test_json_lines_redact_and_nest(json_log):
    log = logging.getLogger("opscopilot.test")
    with request_scope("outer") as outer, request_scope("inner") as inner:
        log.warning("token xoxb-123456789012-abcdefghijkl leaked?")
    assert outer == inner == "outer"  # work started by one request stays that request
    (line,) = records(json_log)
    assert line["request_id"] == "outer" and "xoxb-123456789012" not in line["message"]
    log.warning("outside")
    assert "request_id" not in records(json_log)[-1]


def test_plain_lines_by_default():
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    try:
        configure_logging("WARNING", stream=stream)
        logging.getLogger("opscopilot.test").warning("plain")
        assert stream.getvalue() == "WARNING opscopilot.test: plain\n"
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])


def test_the_setting_is_off_by_default():
    from infra.settings import load_settings

    assert load_settings().telemetry.json_logs is False
    assert SlackHarness  # the harness fixture comes from tests.slack_support
