"""Runbook approvals in Slack over the real runbook service, through the real Bolt app with
signed requests: the request card with Approve / Deny behind confirm dialogs, refusals for users
policy does not allow (nothing executed), the card updated as approvals arrive and the plan runs,
double clicks handled once, refused or malformed clicks that never block a later genuine one,
clicks without a plan hash, expiry, renewal, read-only runs, Plan buttons that always lead
somewhere (a form for missing parameters), feedback and acknowledgement; all audited."""

from __future__ import annotations

import dataclasses
import json
from urllib.parse import urlencode

import pytest

from tests.runbook_support import FakeClock
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
    min_approvals: {n}
approval_ttl_minutes: 30
read_only_without_approval: {ro}
"""


def _harness(fake_slack, tmp_path, n: int = 1, ro: str = "false") -> SlackHarness:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY.format(n=n, ro=ro))
    return SlackHarness(fake_slack, fresh_settings(runbooks={"policy_file": str(policy)}))


@pytest.fixture
def h(fake_slack, tmp_path):
    harness = _harness(fake_slack, tmp_path)
    yield harness
    harness.close()


def _cards(h: SlackHarness, n: int = 1) -> list[dict]:
    return [c.body for c in h.fake.wait_for(
        lambda: len(h.fake.calls_to("chat.postMessage")) >= n and h.fake.calls_to(
            "chat.postMessage"))]


def _card(h: SlackHarness) -> dict:
    return _cards(h)[0]


def _buttons(blocks: list[dict]) -> dict[str, dict]:
    return {e["action_id"]: {**e, "block_id": b.get("block_id", "")} for b in blocks
            if b["type"] == "actions" for e in b["elements"]}


def _press(h: SlackHarness, card: dict, action: str, user: str, value: str | None = None,
           block_id: str | None = None) -> None:
    """Click a button of a posted card the way Slack sends it (its value and block id)."""
    button = _buttons(card["blocks"])[action]
    h.click(action, button["value"] if value is None else value, user=user, channel="C0INC",
            message_ts=card.get("ts", "1795198000.000100"),
            block_id=button["block_id"] if block_id is None else block_id)


def _request(h: SlackHarness, runbook: str = "restart-deployment", service: str = "checkout"
             ) -> tuple[dict, str]:
    before = len(h.fake.calls_to("chat.postMessage"))
    h.command(f"runbook run {runbook} service={service}", user="U0ALICE", channel="C0INC")
    card = _cards(h, before + 1)[before]
    return card, json.loads(_buttons(card["blocks"])["runbook_deny"]["value"])["id"]


def _responses_after(h: SlackHarness, n: int) -> list[dict]:
    return h.fake.wait_for(lambda: h.responses()[n:])


def _actions(h: SlackHarness) -> list[str]:
    return [e.action for e in h.bot.records.audit_log.entries()]


def _refusals(h: SlackHarness) -> list[dict]:
    return [e.details for e in h.bot.records.audit_log.entries()
            if e.action == "slack.click_refused"]


def _final(h: SlackHarness) -> str:
    finished = ("succeeded", "failed")
    updates = h.fake.wait_for(lambda: [u for u in h.fake.calls_to("chat.update")
                                       if any(f"status *{f}*" in block_text(u.body["blocks"])
                                              for f in finished)])
    return block_text(updates[-1].body["blocks"])


def test_request_approve_and_run(h):
    assert h.bot.runbooks is not None
    h.command("runbook list")
    listing = h.fake.wait_for(lambda: h.responses())[0]
    assert "`restart-deployment`" in block_text(listing["blocks"])

    card, request_id = _request(h)
    assert "Restart a deployment" in block_text(card["blocks"]) and "kubectl" in \
        block_text(card["blocks"])
    buttons = _buttons(card["blocks"])
    assert buttons["runbook_approve"]["confirm"]["confirm"]["text"] == "Approve"
    assert "once 1 approval is in" in json.dumps(card)
    assert "confirm" in buttons["runbook_deny"]
    assert "approvals: 0 valid, 1 needed: none yet" in block_text(card["blocks"])
    assert "<@U0ALICE>" in block_text(card["blocks"])

    # someone policy does not allow: an ephemeral refusal, nothing changes or runs
    _press(h, card, "runbook_approve", "U0MALLORY")
    refusal = _responses_after(h, 1)[0]
    assert refusal["response_type"] == "ephemeral" and "no_entry" in refusal["text"]
    assert h.bot.runbooks.status(request_id).status == "pending"
    assert h.fake.calls_to("chat.update") == []

    # an allowed approver (double click): approved once, the plan runs once
    _press(h, card, "runbook_approve", "U0BOB")
    _press(h, card, "runbook_approve", "U0BOB")
    text = _final(h)  # a restart does not cure this scenario's bad deploy: verify fails
    assert ":white_check_mark: rolling restart: ok" in text
    assert "<@U0BOB> approved" in text and "2/1" not in text
    final = h.fake.calls_to("chat.update")[-1].body
    assert "runbook_approve" not in json.dumps(final)  # no buttons once decided
    view = h.bot.runbooks.status(request_id)
    assert f"status *{view.status}*" in text
    assert [a.approver for a in view.approvals] == ["U0BOB"]
    actions = _actions(h)
    assert "slack.runbook_approve" in actions and "approve_refused" in actions
    assert actions.count("run_started") == 1 and h.bot.records.audit_log.verify().ok


def test_deny(h):
    card, request_id = _request(h, service="cart")
    _press(h, card, "runbook_deny", "U0CAROL")
    update = h.fake.wait_for(lambda: h.fake.calls_to("chat.update"))[0].body
    text = block_text(update["blocks"])
    assert "status *denied*" in text and "<@U0CAROL> denied" in text and "denyd" not in text
    assert h.bot.runbooks.status(request_id).steps == []


def test_refused_clicks_never_block_the_same_users_genuine_click(h):
    card, request_id = _request(h, service="cart")
    plan_hash = h.bot.runbooks.status(request_id).plan_hash
    bad_values = [
        "not json",  # a tampered value
        json.dumps({"hash": plan_hash}),  # a missing key
        json.dumps({"id": request_id}),  # no hash at all
        json.dumps({"id": request_id, "hash": None}),  # hash: null
        json.dumps({"id": request_id, "hash": "sha256:" + "0" * 64}),  # another plan
    ]
    for i, value in enumerate(bad_values):
        _press(h, card, "runbook_approve", "U0BOB", value=value)
        reply = _responses_after(h, i)[0]
        assert reply["response_type"] == "ephemeral" and ":no_entry:" in reply["text"]
    assert h.bot.runbooks.status(request_id).approvals == []
    assert h.fake.calls_to("chat.update") == []  # the card is untouched
    assert len(_refusals(h)) == len(bad_values)  # every refusal audited
    assert "approve_refused" in _actions(h)  # the wrong hash, by the service too

    _press(h, card, "runbook_approve", "U0BOB")  # the genuine click still works
    _final(h)
    assert [a.approver for a in h.bot.runbooks.status(request_id).approvals] == ["U0BOB"]


def test_a_policy_refusal_does_not_block_the_click_after_the_policy_changes(h, tmp_path):
    from tools.runbooks.policy import Policy

    card, request_id = _request(h, service="cart")
    _press(h, card, "runbook_approve", "U0DAN")
    assert "not an approver" in _responses_after(h, 0)[0]["text"]
    widened = tmp_path / "wider.yaml"
    widened.write_text(POLICY.format(n=1, ro="false").replace("U0CAROL]", "U0CAROL, U0DAN]"))
    h.bot.runbooks.policy = Policy.load(widened)  # an admin adds U0DAN to the sre group
    _press(h, card, "runbook_approve", "U0DAN")
    _final(h)
    assert [a.approver for a in h.bot.runbooks.status(request_id).approvals] == ["U0DAN"]


def test_a_click_naming_another_request_never_runs_it_or_touches_the_card(h):
    card_a, _ = _request(h, service="cart")
    card_b, b = _request(h, service="checkout")
    b_hash = h.bot.runbooks.status(b).plan_hash
    for value in (json.dumps({"id": b, "hash": None}), json.dumps({"id": b, "hash": b_hash})):
        _press(h, card_a, "runbook_approve", "U0BOB", value=value)  # on A's card
    h.fake.wait_for(lambda: len(h.responses()) >= 2)
    assert h.bot.runbooks.status(b).approvals == [] and h.bot.runbooks.status(b).steps == []
    assert h.fake.calls_to("chat.update") == []
    assert all(r["action"] == "runbook_approve" for r in _refusals(h))
    assert any("does not belong" in r["why"] for r in _refusals(h))


def test_unknown_request_click_is_refused_and_audited(h):
    value = json.dumps({"id": "nope", "hash": "sha256:1"})
    h.click("runbook_approve", value, user="U0BOB", block_id="runbook:nope")
    reply = _responses_after(h, 0)[0]
    assert "no runbook request 'nope'" in reply["text"]
    assert _refusals(h)[0]["action"] == "runbook_approve" and "approve_refused" in _actions(h)


def _clocked(h: SlackHarness) -> FakeClock:
    from tools.runbooks.build import build_service

    clock = FakeClock()
    h.bot.runbooks = build_service(h.settings, clock=clock)  # the service's clock seam
    return clock


def test_a_pending_request_expires_and_its_card_says_so(h):
    clock = _clocked(h)
    card, request_id = _request(h, service="cart")
    clock.t += h.settings.runbooks.request_ttl_minutes * 60 + 1
    assert h.bot.runbooks.status(request_id).status == "expired"
    _press(h, card, "runbook_approve", "U0BOB")
    assert "expired" in _responses_after(h, 0)[0]["text"]
    update = h.fake.wait_for(lambda: h.fake.calls_to("chat.update"))[-1].body
    assert "status *expired*" in block_text(update["blocks"])
    assert "runbook_approve" not in json.dumps(update)  # nothing left to click
    assert "request_expired" in _actions(h) and h.bot.runbooks.status(request_id).steps == []


def test_an_expired_approval_is_renewed_by_the_same_approver(fake_slack, tmp_path):
    h = _harness(fake_slack, tmp_path, n=2)
    try:
        clock = _clocked(h)
        card, request_id = _request(h, service="cart")
        _press(h, card, "runbook_approve", "U0BOB")
        h.fake.wait_for(lambda: h.fake.calls_to("chat.update"))
        clock.t += 31 * 60  # Bob's approval is older than approval_ttl_minutes
        _press(h, card, "runbook_approve", "U0CAROL")
        h.fake.wait_for(lambda: len(h.fake.calls_to("chat.update")) >= 2)
        view = h.bot.runbooks.status(request_id)
        assert view.status == "pending" and view.approvals_valid == 1
        _press(h, card, "runbook_approve", "U0BOB")  # renew
        text = _final(h)
        assert "approval_renewed" in _actions(h) and "<@U0BOB> approved" in text
        assert h.bot.runbooks.status(request_id).approvals_valid == 2
    finally:
        h.close()


def test_a_read_only_runbook_gets_a_run_button_and_runs(fake_slack, tmp_path):
    h = _harness(fake_slack, tmp_path, ro="true")
    try:
        card, request_id = _request(h, runbook="check-service-health", service="cart")
        text = block_text(card["blocks"])
        assert "0/0" not in text and "no approval needed" in text
        buttons = _buttons(card["blocks"])
        assert "runbook_run" in buttons and "runbook_approve" not in buttons
        _press(h, card, "runbook_run", "U0MALLORY")  # not in the policy: refused
        assert "may not run" in _responses_after(h, 0)[0]["text"]
        _press(h, card, "runbook_run", "U0ALICE")
        assert "status *succeeded*" in _final(h)
        assert _actions(h).count("run_started") == 1
    finally:
        h.close()


def test_plan_button_on_an_answer_shows_a_dry_run(h):
    h.click("runbook_plan", json.dumps({"runbook": "runbook-restart-a-service",
                                        "services": ["checkout"], "thread": "1.1"}))
    reply = h.fake.wait_for(lambda: h.responses())[0]
    text = block_text(reply["blocks"])
    assert "Plan: Restart a deployment" in text and "nothing has been executed" in text
    assert "runbook_request" in json.dumps(reply["blocks"])


def test_the_first_plan_button_of_a_typical_answer_leads_to_a_plan(h):
    from bot.answer import Question
    from bot.slack.blocks import answer_blocks

    answer = h.bot.copilot.answer(Question("what is wrong with checkout?", h.bot.now()))
    plans = [b["accessory"] for b in answer_blocks(answer, "a1", "1.1")
             if b.get("accessory", {}).get("action_id") == "runbook_plan"]
    assert plans, "the answer suggests runbooks"
    first = json.loads(plans[0]["value"])
    assert first["runbook"] == "roll-back-deploy"  # the engine's name, not the KB document id
    h.click("runbook_plan", plans[0]["value"])
    text = block_text(h.fake.wait_for(lambda: h.responses())[0]["blocks"])
    assert "no runbook named" not in text and "Plan: Roll back a deploy" in text
    assert "helm rollback checkout 0 -n shop" in text  # release filled from what is known


def test_an_old_card_with_a_kb_document_id_still_plans(h):
    h.click("runbook_plan", json.dumps({"runbook": "runbook-exec-roll-back-deploy",
                                        "services": ["checkout"], "thread": "1.1"}))
    assert "Plan: Roll back a deploy" in block_text(
        h.fake.wait_for(lambda: h.responses())[0]["blocks"])


def _submit(h: SlackHarness, view: dict, values: dict[str, str], user: str = "U0ASK"):
    state = {"values": {f"param:{k}": {"value": {"type": "plain_text_input", "value": v}}
                        for k, v in values.items()}}
    payload = {"type": "view_submission", "team": {"id": "T0000001", "domain": "example"},
               "user": {"id": user, "username": "someone", "team_id": "T0000001"},
               "api_app_id": "A1", "token": "legacy", "trigger_id": "1.2.4",
               "view": {**view, "id": "V1", "team_id": "T0000001", "state": state,
                        "hash": "1.a", "app_id": "A1", "bot_id": "B0000001"}}
    return h.dispatch(urlencode({"payload": json.dumps(payload)}),
                      "application/x-www-form-urlencoded")


def test_a_missing_parameter_is_asked_for_in_a_form_checked_like_the_cli(h):
    from tools.runbooks.build import build_service
    from tools.runbooks.errors import ParameterError

    production_like = dataclasses.replace(h.bot.runbooks.target, facts=None)  # knows no node
    h.bot.runbooks = build_service(h.settings, target=production_like)
    h.click("runbook_plan", json.dumps({"runbook": "runbook-high-latency",
                                        "services": ["checkout"], "thread": "1.1"}))
    opened = h.fake.wait_for(lambda: h.fake.calls_to("views.open"))[0].body
    view = opened["view"] if isinstance(opened["view"], dict) else json.loads(opened["view"])
    fields = [b["block_id"] for b in view["blocks"] if b["type"] == "input"]
    assert opened["trigger_id"] == "1.2.3" and fields == ["param:node"]

    bad = "node-1;rm"
    with pytest.raises(ParameterError) as cli_error:  # what `opscopilot runbook plan` says
        h.bot.runbooks.plan("drain-node", {"node": bad, "service": "checkout"})
    refused = _submit(h, view, {"node": bad})
    assert refused.status == 200
    assert json.loads(refused.body) == {"response_action": "errors",
                                        "errors": {"param:node": str(cli_error.value)}}
    assert any(r["action"] == "runbook_form" for r in _refusals(h))

    accepted = _submit(h, view, {"node": "node-2"})
    assert accepted.status == 200 and not accepted.body
    posted = h.fake.wait_for(lambda: h.fake.calls_to("chat.postEphemeral"))[0].body
    text = block_text(json.loads(posted["blocks"]) if isinstance(posted["blocks"], str)
                      else posted["blocks"])
    assert "kubectl cordon node-2" in text and "nothing has been executed" in text
    assert posted["user"] == "U0ASK" and posted["channel"] == "C0INC"


def test_a_form_with_tampered_state_is_refused(h):
    view = {"type": "modal", "callback_id": "runbook_params", "private_metadata": "{}",
            "blocks": [{"type": "input", "block_id": "param:node"}]}
    refused = _submit(h, view, {"node": "node-2"})
    assert json.loads(refused.body)["response_action"] == "errors"
    assert h.fake.calls_to("chat.postEphemeral") == []


def test_a_malformed_plan_click_is_refused_and_audited(h):
    h.click("runbook_plan", "{not json")
    assert ":no_entry:" in _responses_after(h, 0)[0]["text"]
    h.click("runbook_plan", json.dumps({"runbook": "no-such-runbook", "services": []}))
    assert "no runbook named 'no-such-runbook'" in _responses_after(h, 1)[0]["text"]
    h.click("runbook_plan", json.dumps({"runbook": "runbook-restart-a-service",
                                        "services": ["checkout"]}))  # not blocked
    assert "Plan: Restart a deployment" in block_text(_responses_after(h, 2)[0]["blocks"])
    assert [r["action"] for r in _refusals(h)] == ["runbook_plan", "runbook_plan"]


def test_feedback_can_be_switched_back_and_forth(h):
    from bot.answer import Answer, Question

    answer_id = h.bot.records.answer(Question("why?", h.bot.now()),
                                     Answer("why?", "investigate", "because"), 5.0)
    for i, action in enumerate(["feedback_helpful", "feedback_unhelpful", "feedback_helpful"]):
        h.click(action, answer_id, user="U0BOB")
        assert "Thanks, noted" in _responses_after(h, i)[0]["text"]
    h.click("feedback_helpful", answer_id, user="U0BOB")  # the same vote again
    assert "already recorded" in _responses_after(h, 3)[0]["text"]
    votes = [e.details["helpful"] for e in h.bot.records.audit_log.entries()
             if e.action == "slack.feedback"]
    assert votes == [True, False, True]
    h.click("feedback_helpful", "no-such-answer", user="U0BOB")
    assert "no longer have that answer" in _responses_after(h, 4)[0]["text"]
    assert _refusals(h)[-1]["action"] == "feedback"


def test_acknowledging_shows_a_mention_and_unknown_incidents_are_refused(h):
    inc = h.bot.incidents.declare("checkout returns 500s", "sev2", "U0ALICE")
    h.bot.incidents.attach_channel(inc.id, "C0INC", "inc-checkout", "1795198000.000500")
    h.click("incident_ack", inc.id, user="U0BOB")
    update = h.fake.wait_for(lambda: h.fake.calls_to("chat.update"))[0].body
    text = block_text(update["blocks"])
    assert "acknowledged by <@U0BOB>" in text and "&lt;@" not in text
    h.click("incident_ack", "INC-NOPE", user="U0BOB")
    assert "no incident" in _responses_after(h, 0)[0]["text"]
    assert _refusals(h)[-1]["action"] == "incident_ack"


def test_ops_runbook_plan_without_a_required_parameter_opens_the_form(h):
    h.command("runbook plan drain-node", user="U0ALICE")
    opened = h.fake.wait_for(lambda: h.fake.calls_to("views.open"))[0].body
    view = opened["view"] if isinstance(opened["view"], dict) else json.loads(opened["view"])
    assert [b["block_id"] for b in view["blocks"] if b["type"] == "input"] == [
        "param:node", "param:service"]
    h.command("runbook plan drain-node node=node-1 service=checkout", user="U0ALICE")
    text = block_text(h.fake.wait_for(lambda: [r for r in h.responses() if r.get("blocks")])[0]
                      ["blocks"])
    assert "kubectl cordon node-1" in text
