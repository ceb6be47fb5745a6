"""Runbooks in Slack over `tools.runbooks.service.RunbookService` (docs/runbooks.md): list, plan
(also from an answer's "Plan" button, asking for missing parameters in a form), request a run,
and the approval card with Approve / Deny buttons (each behind a confirm dialog), or a Run
button once the request is approved (at once for read-only runbooks the policy lets run
without approval). Policy is the service's: a click from someone it does not allow gets a
private refusal, is audited and changes nothing. A card's buttons carry the request id and the
plan hash; a click without a hash, or one whose value names another request than its card, is
refused. The card is updated as approvals arrive; once enough are in, the plan runs (once: the
request id is the idempotency key) and the card shows each step's outcome.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.slack import runbook_form
from bot.slack.blocks import (
    Block,
    button,
    context,
    escape,
    escape_keeping_mentions,
    fallback_text,
    mention,
    redact_blocks,
    section,
)
from bot.slack.clicks import BadClick, one_at_a_time, refuse, user_of, value_of, where_of
from bot.slack.context import SlackBot
from infra.settings import Settings

log = logging.getLogger(__name__)

REQUEST = "runbook_request"
APPROVE = "runbook_approve"
DENY = "runbook_deny"
RUN = "runbook_run"
ICONS = {"ok": ":white_check_mark:", "failed": ":x:", "timed_out": ":hourglass:",
         "cancelled": ":no_entry_sign:", "paused": ":double_vertical_bar:", "dry_run": ":memo:"}
PAST = {"approve": "approved", "deny": "denied"}
Reply = Callable[[list[Block], str], None]  # a private answer: blocks, fallback text


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


def approvals_line(view: Any) -> str:
    """Who decided, and how many approvals count of how many are needed."""
    if view.approvals_needed == 0:
        return "no approval needed (read-only, allowed by policy)"
    who = ", ".join(f"{mention(a.approver)} {PAST.get(a.decision, a.decision)}"
                    + ("" if a.valid or a.decision != "approve" else " (expired or not valid)")
                    for a in view.approvals) or "none yet"
    return (f"approvals: {view.approvals_valid} valid, {view.approvals_needed} needed: {who}")


def request_card(view: Any) -> list[Block]:
    """The approval card: the plan, who decided, status, and buttons while there is a choice:
    Approve / Deny while pending, Run (and Deny) once approved."""
    blocks = plan_blocks(view.plan)
    blocks.append(section(f"*Request `{view.id}`* by {mention(view.requester)} · status "
                          f"*{view.status}* · {approvals_line(view)}"))
    if view.steps:
        lines = [f"{ICONS.get(o.status, ':grey_question:')} {escape(o.name)}: {o.status}"
                 + (f" — {escape(o.output[:150])}" if o.output else "") for o in view.steps]
        blocks.append(section("*Steps*\n" + "\n".join(lines)[:2900]))
    value = json.dumps({"id": view.id, "hash": view.plan_hash})
    deny = button("Deny", DENY, value, style="danger", confirm=_confirm(
        "Deny this run?", f"`{view.runbook}` will not run.", "Deny"))
    if view.status == "pending":
        needed = view.approvals_needed
        blocks.append({"type": "actions", "block_id": f"runbook:{view.id}", "elements": [
            button("Approve", APPROVE, value, style="primary", confirm=_confirm(
                "Approve this run?", f"`{view.runbook}` will run on {view.plan.target} once "
                f"{needed} approval{' is' if needed == 1 else 's are'} in.", "Approve")), deny]})
    elif view.status == "approved":
        blocks.append({"type": "actions", "block_id": f"runbook:{view.id}", "elements": [
            button("Run", RUN, value, style="primary", confirm=_confirm(
                "Run this plan now?", f"`{view.runbook}` will run on {view.plan.target}.",
                "Run")), deny]})
    return blocks


def _ephemeral(respond: Respond, text: str) -> None:
    respond(text=text, response_type="ephemeral", replace_original=False)


def _private(respond: Respond) -> Reply:
    def reply(blocks: list[Block], text: str) -> None:
        respond(blocks=redact_blocks(blocks), text=fallback_text(text),
                response_type="ephemeral", replace_original=False)
    return reply


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
            params = _params(args[1:])
            if not _ask_missing(bot, client, cmd["user_id"], args[0], params, cmd["channel_id"],
                                None, cmd.get("trigger_id")):
                post_plan(bot, _private(respond), cmd["user_id"], cmd["channel_id"], args[0],
                          params, None)
        else:  # run: a request, decided on its card
            request_run(bot, client, cmd["user_id"], cmd["channel_id"], args[0],
                        _params(args[1:]), None)
    except RunbookError as exc:
        _ephemeral(respond, f":no_entry: {escape(str(exc))}")


def engine_name(svc: Any, name: str) -> str:
    """An engine runbook name from a name or a knowledge-base runbook id: a prose runbook's id
    (its `kb_ids`) or an executable runbook's document id (`runbook-exec-<name>`, which cards
    posted before answers carried the engine name still hold)."""
    names = svc.library.names()
    if name in names:
        return name
    for candidate in names:
        if name in svc.library.get(candidate).when.kb_ids or \
                name == f"runbook-exec-{candidate}":
            return candidate
    return name  # the service raises UnknownRunbook with the list


def _ask_missing(bot: SlackBot, client: WebClient, user: str, name: str, params: dict[str, Any],
                 channel: str, thread: str | None, trigger_id: str | None) -> bool:
    """Open the parameter form when required parameters are missing (and Slack gave a
    trigger to open it with); False when nothing is missing or no form can open."""
    from tools.runbooks.errors import RunbookError

    try:
        rb = bot.runbooks.library.get(engine_name(bot.runbooks, name))
    except RunbookError:
        return False  # post_plan says what is wrong
    missing = [n for n, spec in rb.parameters.items()
               if spec.default is None and params.get(n) in (None, "")]
    if not missing or not trigger_id:
        return False
    state = runbook_form.FormState(rb.name, dict(params), missing, channel, thread)
    client.views_open(trigger_id=trigger_id, view=runbook_form.form_view(rb, state))
    bot.records.audit(user, "slack.runbook_form", rb.name, {"missing": missing})
    return True


def plan_from_answer(bot: SlackBot, client: WebClient, respond: Respond, user: str,
                     channel: str, name: str, services: list[str], thread: str | None,
                     trigger_id: str | None) -> None:
    """An answer's "Plan": parameters filled from what the answer knows (its services, and
    the target's facts about the first), a form for the ones still missing, then the plan."""
    from tools.runbooks.errors import RunbookError
    from tools.runbooks.propose import IncidentContext, fill_params

    svc = bot.runbooks
    name = engine_name(svc, name)
    try:
        rb = svc.library.get(name)
    except RunbookError as exc:
        refuse(bot, respond, user, "runbook_plan", name[:100], f"Runbook `{name}`: {exc}")
        return
    facts_for = getattr(svc.target, "facts", None)
    facts = facts_for(services[0]) if facts_for is not None and services else {}
    params, _ = fill_params(rb, IncidentContext(services=services, facts=facts))
    if _ask_missing(bot, client, user, name, params, channel, thread, trigger_id):
        return
    post_plan(bot, _private(respond), user, channel, name, params, thread)


def post_plan(bot: SlackBot, reply: Reply, user: str, channel: str, name: str,
              params: dict[str, Any], thread: str | None) -> None:
    """The plan (dry run, nothing executed) with a "Request run" button."""
    from tools.runbooks.errors import RunbookError

    svc = bot.runbooks
    name = engine_name(svc, name)
    try:
        plan = svc.plan(name, params)
    except RunbookError as exc:
        bot.records.audit(user, "slack.plan_refused", name[:100], {"why": str(exc)})
        reply([section(f":no_entry: Runbook `{escape(name)}`: {escape(str(exc))}")],
              f"Runbook {name}: {exc}")
        return
    blocks = plan_blocks(plan, "A dry run: nothing has been executed.")
    blocks.append({"type": "actions", "elements": [button(
        "Request run", REQUEST, json.dumps({"runbook": name, "params": plan.params,
                                            "thread": thread}))]})
    reply(blocks, plan.title)


def request_run(bot: SlackBot, client: WebClient, user: str, channel: str, name: str,
                params: dict[str, Any], thread: str | None) -> None:
    view = bot.runbooks.request(user, engine_name(bot.runbooks, name), params)
    bot.records.audit(user, "slack.runbook_request", view.id, {"channel": channel})
    client.chat_postMessage(channel=channel, thread_ts=thread,
                            text=fallback_text(f"Run {view.runbook}? ({view.status})"),
                            blocks=redact_blocks(request_card(view)))


def _card_click(bot: SlackBot, respond: Respond, body: dict[str, Any], action: dict[str, Any],
                verb: str) -> tuple[str, str, str, str] | None:
    """(request id, plan hash, channel, message ts) of a click on a request card, or None
    after refusing it: a malformed value, no plan hash, or a value naming another request
    than the card it sits on."""
    user = user_of(body)
    try:
        data = value_of(action, {"id": str, "hash": str})
        channel, ts = where_of(body)
        if action.get("block_id") != f"runbook:{data['id']}":
            raise BadClick("the button does not belong to this request's card")
    except BadClick as exc:
        refuse(bot, respond, user, f"runbook_{verb}", "slack:click", str(exc))
        return None
    return data["id"], data["hash"], channel, ts


def _run(bot: SlackBot, client: WebClient, respond: Respond, user: str, request_id: str,
         channel: str, ts: str) -> None:
    from tools.runbooks.errors import RunbookError

    svc = bot.runbooks
    try:
        result = svc.run(user, request_id, idempotency_key=f"slack:{request_id}")
    except RunbookError as exc:
        refuse(bot, respond, user, "runbook_run", f"request:{request_id}", str(exc))
        return
    if result.ran:
        _update(client, channel, ts, svc.status(request_id), result.message)
    else:
        _ephemeral(respond, f"Nothing ran: {escape(result.message)}")


def register(app: App, bot: SlackBot) -> None:
    def _ack(ack: Ack) -> None:
        ack()

    def on_request(body: dict[str, Any], action: dict[str, Any], client: WebClient,
                   respond: Respond) -> None:
        from tools.runbooks.errors import RunbookError

        user = user_of(body)
        try:
            data = value_of(action, {"runbook": str})
            channel, _ = where_of(body)
            params, thread = data.get("params") or {}, data.get("thread")
            if not isinstance(params, dict) or not isinstance(thread, str | None):
                raise BadClick("the button's value is not what I posted")
        except BadClick as exc:
            refuse(bot, respond, user, "runbook_request", "slack:click", str(exc))
            return
        refused = None
        with one_at_a_time(bot.claims, f"request:{action.get('action_ts')}:{user}") as first:
            if not first:
                return
            try:
                request_run(bot, client, user, channel, data["runbook"], params, thread)
            except RunbookError as exc:
                refused = str(exc)
        if refused is not None:
            refuse(bot, respond, user, "runbook_request", data["runbook"][:100], refused)

    def on_decision(body: dict[str, Any], action: dict[str, Any], client: WebClient,
                    respond: Respond) -> None:
        from tools.runbooks.errors import RunbookError

        approve = action["action_id"] == APPROVE
        verb = "approve" if approve else "deny"
        user, click = user_of(body), _card_click(bot, respond, body, action, verb)
        if click is None:
            return
        request_id, plan_hash, channel, ts = click
        svc = bot.runbooks
        refused = None
        with one_at_a_time(bot.claims, f"decision:{request_id}:{user}") as first:
            if not first:
                return  # a double click: the first one answers
            try:
                view = (svc.approve(user, request_id, plan_hash=plan_hash) if approve
                        else svc.deny(user, request_id, reason="denied in Slack",
                                      plan_hash=plan_hash))
            except RunbookError as exc:  # policy, state (decided, expired), plan changed
                refused = str(exc)
            else:
                bot.records.audit(user, f"slack.runbook_{verb}", request_id)
                _update(client, channel, ts, view)
                if approve and view.status == "approved" and view.approvals_needed > 0:
                    _update(client, channel, ts, view,
                            f"approved by {mention(user)}: running the plan…")
                    _run(bot, client, respond, user, request_id, channel, ts)
        if refused is not None:  # answered once the claim is given back: a retry may follow
            refuse(bot, respond, user, f"runbook_{verb}", f"request:{request_id}", refused)
            _refresh_if_stale(bot, client, channel, ts, request_id)

    def on_run(body: dict[str, Any], action: dict[str, Any], client: WebClient,
               respond: Respond) -> None:
        user, click = user_of(body), _card_click(bot, respond, body, action, "run")
        if click is None:
            return
        request_id, plan_hash, channel, ts = click
        view = _view(bot, request_id)
        if view is None or view.plan_hash != plan_hash:
            refuse(bot, respond, user, "runbook_run", f"request:{request_id}",
                   f"no runbook request {request_id!r}" if view is None else
                   "the plan changed since it was shown (its hash differs); review it again")
            return
        with one_at_a_time(bot.claims, f"run:{request_id}") as first:
            if not first:
                return
            _update(client, channel, ts, view, f"started by {mention(user)}: running the plan…")
            _run(bot, client, respond, user, request_id, channel, ts)

    def on_form(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        """Check the typed values before the form closes (Slack shows errors under fields)."""
        errors = _form_errors(bot, user_of(body), view)
        if errors:
            ack(response_action="errors", errors=errors)
        else:
            ack()

    def on_form_done(body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        user = user_of(body)
        if _form_errors(bot, user, view, audit=False):
            return  # refused in the ack, shown under the fields
        state = runbook_form.FormState.load(view.get("private_metadata") or "")
        params = state.params | runbook_form.submitted(view, state.missing)

        def reply(blocks: list[Block], text: str) -> None:
            client.chat_postEphemeral(channel=state.channel, user=user,
                                      blocks=redact_blocks(blocks), text=fallback_text(text))

        post_plan(bot, reply, user, state.channel, state.runbook, params, state.thread)

    app.action(REQUEST)(ack=_ack, lazy=[on_request])
    app.action(APPROVE)(ack=_ack, lazy=[on_decision])
    app.action(DENY)(ack=_ack, lazy=[on_decision])
    app.action(RUN)(ack=_ack, lazy=[on_run])
    app.view(runbook_form.FORM)(ack=on_form, lazy=[on_form_done])


def _form_errors(bot: SlackBot, user: str, view: dict[str, Any],
                 audit: bool = True) -> dict[str, str]:
    """Errors by block id of a submitted parameter form (empty: good to plan)."""
    from tools.runbooks.errors import RunbookError

    try:
        state = runbook_form.FormState.load(view.get("private_metadata") or "")
        rb = bot.runbooks.library.get(state.runbook)
        if not state.missing or not set(state.missing) <= set(rb.parameters):
            raise ValueError("the form's fields are not this runbook's parameters")
    except (ValueError, RunbookError) as exc:
        blocks = [b.get("block_id") for b in view.get("blocks") or []
                  if isinstance(b, dict) and b.get("type") == "input"]
        errors = {str(blocks[0]): str(exc)[:150]} if blocks else {}
        if audit:
            bot.records.audit(user, "slack.click_refused", "slack:form",
                              {"action": "runbook_form", "why": str(exc)})
        return errors or {"_": str(exc)[:150]}
    typed = runbook_form.submitted(view, state.missing)
    errors = runbook_form.field_errors(rb, typed)
    if not errors:
        try:
            bot.runbooks.plan(rb.name, state.params | typed)
        except RunbookError as exc:
            name = next((m for m in state.missing if f"parameter {m}" in str(exc)),
                        state.missing[0])
            errors = {runbook_form.block_of(name): str(exc)[:150]}
    if errors and audit:
        bot.records.audit(user, "slack.click_refused", f"runbook:{rb.name}",
                          {"action": "runbook_form", "why": "; ".join(errors.values())})
    return errors


def _view(bot: SlackBot, request_id: str) -> Any:
    from tools.runbooks.errors import RunbookError

    try:
        return bot.runbooks.status(request_id)
    except RunbookError:
        return None


def _refresh_if_stale(bot: SlackBot, client: WebClient, channel: str, ts: str,
                      request_id: str) -> None:
    """After a refused click on a card whose request has moved on (expired, denied, run),
    show the card as the request is now, so nobody clicks it again."""
    view = _view(bot, request_id)
    if view is not None and view.status not in ("pending", "approved"):
        _update(client, channel, ts, view)


def _update(client: WebClient, channel: str, ts: str, view: Any, note: str = "") -> None:
    blocks = request_card(view)
    if note:
        blocks.append(context(escape_keeping_mentions(note)))
    client.chat_update(channel=channel, ts=ts, blocks=redact_blocks(blocks),
                       text=fallback_text(f"Run {view.runbook}: {view.status}"))
