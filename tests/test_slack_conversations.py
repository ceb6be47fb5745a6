"""Questions in Slack through the real Bolt app: mentions, thread follow-ups, DMs, charts,
long answers, redaction and the apology on errors. A Web API stand-in records what users see."""

from __future__ import annotations

import json

from bot.answer import Answer
from bot.slack.blocks import MAX_BLOCKS, MAX_SECTION, answer_blocks, split_blocks
from bot.slack.conversations import APOLOGY, PLACEHOLDER
from tests.slack_support import SlackHarness, block_text
from tools.base import Evidence, Finding


def _answered(h: SlackHarness, n: int = 1) -> list[dict]:
    return h.fake.wait_for(lambda: len(h.updates()) >= n and h.updates())


def test_mention_gets_placeholder_then_full_answer_in_thread(harness):
    ts = harness.mention("what is wrong with checkout?")
    update = _answered(harness)[0]
    placeholder = harness.fake.calls_to("chat.postMessage")[0].body
    assert placeholder["thread_ts"] == ts and placeholder["text"] == PLACEHOLDER
    assert update["channel"] == "C0INC" and update["ts"]
    text = block_text(update["blocks"])
    assert "checkout" in text and "25.5 %" in text  # a finding with its number
    assert "*Suspected root causes*" in text and "1. *checkout*" in text
    assert "*Similar past incidents*" in text and "INC-" in text
    assert "Data: " in text and "sandbox" in text and "window 2026-11-20" in text, text
    buttons = [e for b in update["blocks"] for e in b.get("elements", []) + [b.get("accessory")]
               if e and e.get("type") == "button"]
    ids = {b["action_id"] for b in buttons}
    assert {"feedback_helpful", "feedback_unhelpful", "runbook_plan"} <= ids
    assert all(c.token == "xoxb-test-token" for c in harness.fake.calls_to("chat.update"))


def test_chart_of_the_anomalous_series_is_uploaded_as_png(harness):
    ts = harness.mention("what is wrong with checkout?")
    done = harness.fake.wait_for(lambda: harness.fake.calls_to("files.completeUploadExternal"))
    upload = harness.fake.calls_to("upload")[0].body
    assert upload["png"] and upload["bytes"] > 1000
    complete = done[0].body
    assert complete["channel_id"] == "C0INC" and complete["thread_ts"] == ts
    assert "checkout error_rate" in complete["files"]


def test_thread_follow_up_keeps_the_service(harness):
    ts = harness.mention("what is wrong with checkout?")
    _answered(harness)
    # a plain reply in the thread (no mention) is a question to the bot
    harness.message("show me its error logs", thread_ts=ts)
    second = _answered(harness, 2)[1]
    text = block_text(second["blocks"])
    assert "from earlier in this thread" in text and "checkout" in text
    assert harness.bot.threads.get("C0INC", ts).turns == 2


def test_replies_in_threads_the_bot_is_not_in_are_ignored(harness):
    harness.message("what is wrong with checkout?", thread_ts="1795100000.000100")
    harness.message("what is wrong with checkout?")  # top level in a channel, no mention
    harness.fake.wait_for(lambda: True)
    import time

    time.sleep(0.5)
    assert harness.fake.calls_to("chat.postMessage") == []


def test_direct_message_is_answered_in_its_thread(harness):
    harness.message("which alerts are firing?", channel="D0DM", channel_type="im")
    update = _answered(harness)[0]
    assert update["channel"] == "D0DM"
    assert "HighErrorRate" in block_text(update["blocks"])


def test_redelivered_event_is_answered_once(harness):
    harness.mention("what is wrong with checkout?", event_id="EvSAME")
    for retry in (1, 2):  # Slack's retries of a late ack carry the same event_id
        ts = harness.new_ts()
        resp = harness.event({"type": "app_mention", "user": "U0ASK", "ts": ts,
                              "text": "<@UBOT0001> what is wrong with checkout?",
                              "channel": "C0INC"}, "EvSAME", retry_num=retry)
        assert resp.status == 200
    _answered(harness)
    import time

    time.sleep(0.5)
    assert len(harness.fake.calls_to("chat.postMessage")) == 1
    assert len(harness.updates()) == 1


class Failing:
    def answer(self, question, conversation=None):
        raise RuntimeError("backend exploded with password=hunter2")


def test_listener_error_posts_a_short_apology(make_harness):
    h = make_harness(copilot=Failing())
    h.mention("what is wrong with checkout?")
    update = _answered(h)[0]
    assert update["text"] == APOLOGY and "hunter2" not in json.dumps(update)


class Leaky:
    """Returns an answer whose evidence quotes a log line with a credential in it."""

    def answer(self, question, conversation=None):
        ev = Evidence("logs:x", "search_logs", "sandbox", "logs{service=checkout}",
                      "token=xoxb-123456789012-abcdefabcdef found")
        finding = Finding("log_errors", "checkout",
                          'checkout logged "db login password=s3cr3t failed" 5 times', 1.0,
                          evidence=["logs:x"])
        return Answer(question=question.text, intent="logs",
                      summary="Bearer abcdefghijklmnop was used; see logs",
                      findings=[finding], evidence=[ev], confidence=0.9)


def test_secrets_are_redacted_from_everything_posted(make_harness):
    h = make_harness(copilot=Leaky())
    h.mention("show checkout logs")
    posted = json.dumps(_answered(h)[0])
    assert "s3cr3t" not in posted and "abcdefghijklmnop" not in posted
    assert "[REDACTED]" in posted


def test_long_answers_are_split_within_slack_limits():
    findings = [Finding("metric_anomaly", f"svc{i}", "x" * 900 + f" value {i}", 0.5)
                for i in range(200)]
    answer = Answer(question="q", intent="investigate", summary="s" * 5000, findings=findings)
    messages = split_blocks(answer_blocks(answer, "a1"))
    assert len(messages) > 1
    for blocks in messages:
        assert len(blocks) <= MAX_BLOCKS
        for b in blocks:
            if b["type"] == "section":
                assert len(b["text"]["text"]) <= MAX_SECTION
    assert messages[-1][-1]["block_id"] == "feedback"


def test_long_answer_goes_out_as_several_messages(make_harness):
    class Long:
        def answer(self, question, conversation=None):
            return Answer(question="q", intent="investigate", summary="many things",
                          findings=[Finding("metric_anomaly", f"s{i}", "y" * 2900, 0.5)
                                    for i in range(60)])

    h = make_harness(copilot=Long())
    ts = h.mention("everything")
    h.fake.wait_for(lambda: len(h.fake.calls_to("chat.postMessage")) >= 2)
    update = _answered(h)[0]
    assert len(update["blocks"]) == MAX_BLOCKS
    more = h.fake.calls_to("chat.postMessage")[1].body
    assert more["thread_ts"] == ts and more["blocks"][-1]["block_id"] == "feedback"


def test_llm_mode_shows_its_steps_in_the_placeholder(make_harness):
    from bot.llm.replay import Call, Reply
    from tests.llm_support import fast_runtime, scripted_copilot, window

    w = window(fast_runtime())
    copilot, _, _ = scripted_copilot([
        Reply.tools(Call("search_logs", {"services": ["checkout"], "level": "ERROR", **w})),
        Reply.say("Checkout is logging errors."),
    ])
    h = make_harness(copilot=copilot)
    h.mention("error logs of checkout")
    final = h.fake.wait_for(lambda: [u for u in h.updates() if u.get("blocks")])[0]
    progress = [u["text"] for u in h.updates() if not u.get("blocks")]
    assert progress and all(t.startswith("Investigating") for t in progress), progress
    assert any("search_logs" in t for t in progress), progress
    assert "Checkout is logging errors." in block_text(final["blocks"])


def test_in_an_incident_channel_context_questions_mean_its_incident(harness):
    inc = harness.bot.incidents.declare("redis primary lost, cart failing", "sev2", "U0ASK",
                                        services=["redis", "cart"])
    harness.bot.incidents.attach_channel(inc.id, "C0REDIS", "inc-redis")
    harness.mention("have we seen this before?", channel="C0REDIS")
    text = block_text(_answered(harness)[0]["blocks"])
    assert f"(about redis, cart, incident {inc.id})" in text, text
    assert "Redis" in text  # past incidents about redis, not whatever the sandbox shows


def test_the_threads_incident_survives_between_turns(harness):
    ts = harness.mention("what is wrong with checkout?")
    _answered(harness)
    saved = harness.bot.threads.get("C0INC", ts)
    assert saved.incident_services, "the investigation names its suspects"
    harness.message("have we seen this before?", thread_ts=ts)
    text = block_text(_answered(harness, 2)[1]["blocks"])
    assert f"(about {', '.join(saved.incident_services)}, from earlier in this thread)" in text
