"""Runbook approvals in Slack over the real runbook service: request card with Approve / Deny
behind confirm dialogs, refusals for users policy does not allow (nothing executed), the card
updated as approvals arrive and the plan runs, double clicks handled once, all audited."""

from __future__ import annotations

import json

import pytest

from tests.slack_support import SlackHarness, block_text, fresh_settings

POLICY = """version: 1
groups:
  sre: [U0BOB, U0CAROL]
  oncall: [U0ALICE]
rules:
  - runbooks: ["*"]
    risks: [low, read-only]
    requesters: [group:oncall, group:sre]
    approvers: [group:sre]
    min_approvals: 1
approval_ttl_minutes: 30
"""


@pytest.fixture
def h(fake_slack, tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    harness = SlackHarness(fake_slack, fresh_settings(runbooks={"policy_file": str(policy)}))
    yield harness
    harness.close()


def _card(h: SlackHarness) -> dict:
    return h.fake.wait_for(lambda: h.fake.calls_to("chat.postMessage"))[0].body


def _buttons(blocks: list[dict]) -> dict[str, dict]:
    return {e["action_id"]: e for b in blocks if b["type"] == "actions" for e in b["elements"]}


def test_request_approve_and_run(h):
    assert h.bot.runbooks is not None
    h.command("runbook list")
    listing = h.fake.wait_for(lambda: h.responses())[0]
    assert "`restart-deployment`" in block_text(listing["blocks"])

    h.command("runbook run restart-deployment service=checkout", user="U0ALICE",
              channel="C0INC")
    card = _card(h)
    assert "Restart a deployment" in block_text(card["blocks"]) and "kubectl" in \
        block_text(card["blocks"])
    buttons = _buttons(card["blocks"])
    assert buttons["runbook_approve"]["confirm"]["confirm"]["text"] == "Approve"
    assert "confirm" in buttons["runbook_deny"]
    value = buttons["runbook_approve"]["value"]
    request_id = json.loads(value)["id"]

    # someone policy does not allow: an ephemeral refusal, nothing changes or runs
    h.click("runbook_approve", value, user="U0MALLORY", channel="C0INC")
    refusal = h.fake.wait_for(lambda: h.responses()[1:])[0]
    assert refusal["response_type"] == "ephemeral" and "no_entry" in refusal["text"]
    assert h.bot.runbooks.status(request_id).status == "pending"
    assert h.fake.calls_to("chat.update") == []

    # an allowed approver (double click): approved once, the plan runs once
    h.click("runbook_approve", value, user="U0BOB", channel="C0INC")
    h.click("runbook_approve", value, user="U0BOB", channel="C0INC")
    finished = ("succeeded", "failed")  # a restart does not cure this scenario's bad deploy:
    final = h.fake.wait_for(lambda: [u for u in h.fake.calls_to("chat.update")  # verify fails
                                     if any(f"status *{f}*" in block_text(u.body["blocks"])
                                            for f in finished)])
    text = block_text(final[-1].body["blocks"])
    assert ":white_check_mark: rolling restart: ok" in text
    assert "runbook_approve" not in json.dumps(final[-1].body)  # no buttons once decided
    view = h.bot.runbooks.status(request_id)
    assert f"status *{view.status}*" in text and view.status in finished
    assert [a.approver for a in view.approvals] == ["U0BOB"]
    audit = h.bot.records.audit_log
    actions = [e.action for e in audit.entries()]
    assert "slack.runbook_approve" in actions and "approve_refused" in actions
    assert actions.count("run_started") == 1 and audit.verify().ok


def test_deny(h):
    h.command("runbook run restart-deployment service=cart", user="U0ALICE", channel="C0INC")
    value = _buttons(_card(h)["blocks"])["runbook_deny"]["value"]
    h.click("runbook_deny", value, user="U0CAROL", channel="C0INC")
    update = h.fake.wait_for(lambda: h.fake.calls_to("chat.update"))[0].body
    assert "status *denied*" in block_text(update["blocks"])
    assert h.bot.runbooks.status(json.loads(value)["id"]).steps == []


def test_plan_button_on_an_answer_shows_a_dry_run(h):
    h.click("runbook_plan", json.dumps({"runbook": "runbook-restart-a-service",
                                        "services": ["checkout"], "thread": "1.1"}))
    reply = h.fake.wait_for(lambda: h.responses())[0]
    text = block_text(reply["blocks"])
    assert "Plan: Restart a deployment" in text and "nothing has been executed" in text
    assert "runbook_request" in json.dumps(reply["blocks"])
