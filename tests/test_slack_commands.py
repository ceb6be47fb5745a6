"""`/ops` through the real Bolt app: usage help, ask, the incident life cycle in its own channel,
on-call, the weekly summary, and the Acknowledge button."""

from __future__ import annotations

from tests.slack_support import SlackHarness, block_text


def _ack_text(resp) -> str:
    import json

    return json.dumps(resp.body) if not isinstance(resp.body, str) else resp.body


def _last_response(h: SlackHarness, n: int = 1) -> dict:
    return h.fake.wait_for(lambda: len(h.responses()) >= n and h.responses())[n - 1]


def test_help_and_unknown_subcommands_get_usage_in_the_ack(harness):
    for text in ("", "help", "frobnicate now", "incident", "runbook dance"):
        resp = harness.command(text)
        assert resp.status == 200
        assert "/ops ask" in _ack_text(resp), text
    assert "unknown sub-command `frobnicate`" in _ack_text(harness.command("frobnicate"))
    assert harness.responses() == []  # nothing else happened


def test_ask_answers_in_the_channel(harness):
    resp = harness.command("ask what is wrong with checkout?")
    assert resp.status == 200 and "hourglass" in _ack_text(resp)
    reply = _last_response(harness)
    assert reply["response_type"] == "in_channel"
    assert "25.5 %" in block_text(reply["blocks"])
    # As after a mention, the anomalous series follow as charts, in the command's channel.
    done = harness.fake.wait_for(lambda: harness.fake.calls_to("files.completeUploadExternal"))
    assert done[0].body["channel_id"] == "C0GEN" and not done[0].body.get("thread_ts")
    assert "checkout error_rate" in done[0].body["files"]


def test_incident_life_cycle(harness):
    h = harness
    h.command("incident declare Checkout returns 500s sev2", user="U0LEAD")
    reply = _last_response(h)
    inc = h.bot.incidents.list()[0]
    assert inc.severity == "sev2" and inc.title == "Checkout returns 500s"
    assert f"<#{inc.channel_id}>" in block_text(reply["blocks"])
    created = h.fake.calls_to("conversations.create")[0].body
    assert created["name"] == "inc-2026-11-20-checkout-returns-500s"
    invited = h.fake.calls_to("conversations.invite")[0].body
    assert set(invited["users"].split(",")) == {"U0ANA", "U0LEAD"}  # on call + declarer
    card = h.fake.calls_to("chat.postMessage")[0].body
    assert card["channel"] == inc.channel_id and "Ana Diaz" in block_text(card["blocks"])
    pin = h.fake.calls_to("pins.add")[0].body
    assert (pin["channel"], pin["timestamp"]) == (inc.channel_id, inc.card_ts)

    h.clock.advance(minutes=4)
    h.click("incident_ack", inc.id, user="U0ANA", channel=inc.channel_id)
    h.fake.wait_for(lambda: h.fake.calls_to("chat.update"))
    h.clock.advance(minutes=10)
    h.command("incident status rolled back to v3.11.9", user="U0ANA", channel=inc.channel_id)
    _last_response(h, 2)
    h.command("incident action add a canary for checkout deploys", user="U0LEAD",
              channel=inc.channel_id)
    _last_response(h, 3)
    h.clock.advance(minutes=16)
    h.command("incident resolve rollback fixed it", user="U0LEAD", channel=inc.channel_id)
    resolved = block_text(_last_response(h, 4)["blocks"])
    assert "resolved" in resolved and "30 min" in resolved and "4 min" in resolved
    assert "knowledge base" in resolved

    inc = h.bot.incidents.get(inc.id)
    assert inc.status == "resolved" and inc.time_to_resolve == 30 * 60
    assert inc.time_to_acknowledge == 4 * 60
    kinds = [e.kind for e in h.bot.incidents.timeline(inc.id)]
    assert kinds == ["declared", "acknowledged", "status", "action", "resolved"]
    hits = h.bot.kb.search("checkout returns 500s rollback canary", 5)
    assert any(hit.id == f"postmortem-{inc.id.lower()}" for hit in hits)
    final_card = h.fake.calls_to("chat.update")[-1].body
    assert final_card["ts"] == inc.card_ts and "resolved" in block_text(final_card["blocks"])
    h.command("incident timeline", channel=inc.channel_id)
    assert "rolled back" in block_text(_last_response(h, 5)["blocks"])


def test_incident_commands_outside_an_incident_channel_explain(harness):
    harness.command("incident status")
    reply = _last_response(harness)
    assert reply["response_type"] == "ephemeral" and "no incident" in reply["text"]


def test_channel_name_taken_gets_a_suffix(harness):
    harness.fake.channels["inc-2026-11-20-db-down"] = "C0TAKEN"
    harness.command("incident declare DB down")
    _last_response(harness)
    names = [c.body["name"] for c in harness.fake.calls_to("conversations.create")]
    assert names == ["inc-2026-11-20-db-down", "inc-2026-11-20-db-down-2"]


def test_oncall_reads_the_schedule_file(harness):
    harness.command("oncall")
    text = block_text(_last_response(harness)["blocks"])
    assert "primary: Ana Diaz until Mon 2026-11-23 09:00 UTC" in text


def test_summary_posts_blocks_and_a_chart(harness):
    h = harness
    h.command("incident declare Payment latency sev3")
    _last_response(h)
    h.clock.advance(days=7)
    h.command("summary 2026-W47")
    text = block_text(_last_response(h, 2)["blocks"])
    assert "Incident summary 2026-W47" in text and "sev3: 1" in text
    upload = h.fake.wait_for(lambda: h.fake.calls_to("files.completeUploadExternal"))
    assert h.fake.calls_to("upload")[0].body["png"] and upload


def test_ack_button_twice_acknowledges_once(harness):
    h = harness
    h.command("incident declare Cart errors")
    _last_response(h)
    inc = h.bot.incidents.list()[0]
    h.click("incident_ack", inc.id, user="U0ANA")
    h.click("incident_ack", inc.id, user="U0BO")
    reply = _last_response(h, 2)
    assert "already acknowledged" in reply["text"]
    assert [e.actor for e in h.bot.incidents.timeline(inc.id) if e.kind == "acknowledged"] \
        in (["U0ANA"], ["U0BO"])
