"""Runbooks in Slack over `tools.runbooks.service.RunbookService` (docs/runbooks.md): list, plan
(also from an answer's "Plan" button), request a run, and the approval card with Approve / Deny
buttons (each behind a confirm dialog). Policy is the service's: a click from someone it does not
allow gets an ephemeral refusal and changes nothing. The card is updated as approvals arrive; once
enough are in, the plan runs (once: the request id is the idempotency key) and the card shows
each step's outcome.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.slack.blocks import Block, button, context, escape, fallback_text, redact_blocks, section
from bot.slack.context import SlackBot
from infra.settings import Settings

log = logging.getLogger(__name__)

REQUEST = "runbook_request"
APPROVE = "runbook_approve"
DENY = "runbook_deny"
ICONS = {"ok": ":white_check_mark:", "failed": ":x:", "timed_out": ":hourglass:",
         "cancelled": ":no_entry_sign:", "paused": ":double_vertical_bar:", "dry_run": ":memo:"}


def engine_from_settings(settings: Settings, scenario: str | None = None) -> Any:
    from tools.runbooks.service import RunbookService

    return RunbookService.from_settings(settings, scenario=scenario)


def _confirm(title: str, text: str, yes: str) -> dict[str, Any]:
    return {"title": {"type": "plain_text", "text": title[:100]},
            "text": {"type": "mrkdwn", "text": text[:300]},
            "confirm": {"type": "plain_text", "text": yes},
            "deny": {"type": "plain_text", "text": "Cancel"}}


def plan_blocks(plan: Any, note: str = "") -> list[Block]:
    lines = [f"{i}. `{escape(s.display())}`" for i, s in enumerate(plan.steps, 1)]
    checks = [f"• `{escape(s.display())}`" for s in plan.verification]
    text = (f"*Plan: {escape(plan.title)}* (`{plan.runbook}`, risk *{plan.risk}*, target "
            f"{plan.target})\n" + "\n".join(lines))
    if checks:
        text += "\n*Then verify*\n" + "\n".join(checks)
    blocks = [section(text[:2900])]
    if note:
        blocks.append(context(escape(note)))
    return blocks


def request_card(view: Any) -> list[Block]:
    """The approval card: the plan, who approved, status, and buttons while it can be decided."""
    blocks = plan_blocks(view.plan)
    approvals = ", ".join(f"<@{a.approver}> {a.decision}d" + ("" if a.valid else " (not valid)")
                          for a in view.approvals) or "none yet"
    blocks.append(section(
        f"*Request `{view.id}`* by <@{view.requester}> · status *{view.status}* · approvals "
        f"{view.approvals_valid}/{view.approvals_needed}: {approvals}"))
    if view.steps:
        lines = [f"{ICONS.get(o.status, ':grey_question:')} {escape(o.name)}: {o.status}"
                 + (f" — {escape(o.output[:150])}" if o.output else "") for o in view.steps]
        blocks.append(section("*Steps*\n" + "\n".join(lines)[:2900]))
    if view.status == "pending":
        value = json.dumps({"id": view.id, "hash": view.plan_hash})
        blocks.append({"type": "actions", "block_id": f"runbook:{view.id}", "elements": [
            button("Approve", APPROVE, value, style="primary", confirm=_confirm(
                "Approve this run?", f"`{view.runbook}` will run on {view.plan.target} once "
                f"{view.approvals_needed} approval(s) are in.", "Approve")),
            button("Deny", DENY, value, style="danger", confirm=_confirm(
                "Deny this run?", f"`{view.runbook}` will not run.", "Deny")),
        ]})
    return blocks


def _ephemeral(respond: Respond, text: str) -> None:
    respond(text=text, response_type="ephemeral", replace_original=False)


def _params(args: list[str]) -> dict[str, str]:
    out = {}
    for arg in args:
        key, sep, value = arg.partition("=")
        if not sep:
            from tools.runbooks.errors import ParameterError

            raise ParameterError(f"parameter {arg!r}: write name=value")
        out[key] = value
    return out


def command(bot: SlackBot, client: WebClient, cmd: dict[str, Any], respond: Respond, verb: str,
            args: list[str]) -> None:
    from tools.runbooks.errors import RunbookError

    svc = bot.runbooks
    try:
        if verb == "list":
            lines = [f"• `{n}` ({svc.library.get(n).risk}): {escape(svc.library.get(n).title)}"
                     for n in svc.library.names()]
            respond(blocks=[section("*Runbooks*\n" + "\n".join(lines))], text="runbooks",
                    response_type="ephemeral", replace_original=False)
        elif not args:
            _ephemeral(respond, f"`/ops runbook {verb}` needs a runbook name; "
                                "`/ops runbook list` shows them")
        elif verb == "plan":
            post_plan(bot, client, respond, cmd["user_id"], cmd["channel_id"], args[0],
                      _params(args[1:]), None)
        else:  # run: a request, decided on its card
            request_run(bot, client, cmd["user_id"], cmd["channel_id"], args[0],
                        _params(args[1:]), None)
    except RunbookError as exc:
        _ephemeral(respond, f":no_entry: {escape(str(exc))}")


def _engine_name(svc: Any, name: str) -> str:
    """An engine runbook name from a name or a knowledge-base runbook id (answers' "Plan")."""
    names = svc.library.names()
    if name in names:
        return name
    for candidate in names:
        if name in svc.library.get(candidate).when.kb_ids:
            return candidate
    return name  # the service raises UnknownRunbook with the list


def post_plan(bot: SlackBot, client: WebClient, respond: Respond, user: str, channel: str,
              name: str, params: dict[str, Any], thread: str | None) -> None:
    """The plan (dry run, nothing executed) with a "Request run" button."""
    from tools.runbooks.errors import RunbookError

    svc = bot.runbooks
    name = _engine_name(svc, name)
    try:
        plan = svc.plan(name, params)
    except RunbookError as exc:
        _ephemeral(respond, f"Runbook `{escape(name)}`: {escape(str(exc))}")
        return
    blocks = plan_blocks(plan, "A dry run: nothing has been executed.")
    blocks.append({"type": "actions", "elements": [button(
        "Request run", REQUEST, json.dumps({"runbook": name, "params": params,
                                            "thread": thread}))]})
    respond(blocks=redact_blocks(blocks), text=fallback_text(plan.title),
            response_type="ephemeral", replace_original=False)


def request_run(bot: SlackBot, client: WebClient, user: str, channel: str, name: str,
                params: dict[str, Any], thread: str | None) -> None:
    view = bot.runbooks.request(user, _engine_name(bot.runbooks, name), params)
    bot.records.audit(user, "slack.runbook_request", view.id, {"channel": channel})
    client.chat_postMessage(channel=channel, thread_ts=thread,
                            text=fallback_text(f"Run {view.runbook}? ({view.status})"),
                            blocks=redact_blocks(request_card(view)))


def register(app: App, bot: SlackBot) -> None:
    def _ack(ack: Ack) -> None:
        ack()

    def on_request(body: dict[str, Any], action: dict[str, Any], client: WebClient,
                   respond: Respond) -> None:
        from tools.runbooks.errors import RunbookError

        user, data = body["user"]["id"], json.loads(action["value"])
        if not bot.claims.claim(f"request:{action.get('action_ts')}:{user}:{data['runbook']}"):
            return
        try:
            request_run(bot, client, user, body["channel"]["id"], data["runbook"],
                        data.get("params") or {}, data.get("thread"))
        except RunbookError as exc:
            _ephemeral(respond, f":no_entry: {escape(str(exc))}")

    def on_decision(body: dict[str, Any], action: dict[str, Any], client: WebClient,
                    respond: Respond) -> None:
        from tools.runbooks.errors import RunbookError

        user, data = body["user"]["id"], json.loads(action["value"])
        approve = action["action_id"] == APPROVE
        if not bot.claims.claim(f"decision:{data['id']}:{user}:{approve}"):
            return  # a double click
        svc = bot.runbooks
        try:
            view = (svc.approve(user, data["id"], plan_hash=data["hash"]) if approve
                    else svc.deny(user, data["id"], reason="denied in Slack"))
        except RunbookError as exc:  # not allowed by policy, already decided, plan changed
            _ephemeral(respond, f":no_entry: {escape(str(exc))}")
            return
        bot.records.audit(user, "slack.runbook_" + ("approve" if approve else "deny"), data["id"])
        channel, ts = body["channel"]["id"], body["container"]["message_ts"]
        _update(client, channel, ts, view)
        if approve and view.approvals_valid >= view.approvals_needed:
            _update(client, channel, ts, view, f"approved by {user}: running the plan…")
            result = svc.run(user, data["id"], idempotency_key=f"slack:{data['id']}")
            if result.ran:
                _update(client, channel, ts, svc.status(data["id"]), result.message)

    app.action(REQUEST)(ack=_ack, lazy=[on_request])
    app.action(APPROVE)(ack=_ack, lazy=[on_decision])
    app.action(DENY)(ack=_ack, lazy=[on_decision])


def _update(client: WebClient, channel: str, ts: str, view: Any, note: str = "") -> None:
    blocks = request_card(view)
    if note:
        blocks.append(context(escape(note)))
    client.chat_update(channel=channel, ts=ts, blocks=redact_blocks(blocks),
                       text=fallback_text(f"Run {view.runbook}: {view.status}"))
