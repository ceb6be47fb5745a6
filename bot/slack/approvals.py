"""Buttons: feedback on answers, "Acknowledge" on incident cards, "Plan" on suggested runbooks
and Approve / Deny / Run on runbook requests. Every click is acked at once; a double click is a
no-op, a refused or malformed click is answered privately and audited and never blocks a later
one (bot/slack/clicks.py); the clicking user is checked on the server side. Feedback can be
switched either way as often as one likes.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.incidents import IncidentError
from bot.slack import incident_flow
from bot.slack.blocks import FEEDBACK_HELPFUL, FEEDBACK_UNHELPFUL, RUNBOOK_PLAN, escape, mention
from bot.slack.cards import INCIDENT_ACK
from bot.slack.clicks import BadClick, one_at_a_time, refuse, user_of, value_of
from bot.slack.context import SlackBot
from infra.settings import Settings

log = logging.getLogger(__name__)


def _ack(ack: Ack) -> None:
    ack()


def _ephemeral(respond: Respond, text: str) -> None:
    respond(text=text, response_type="ephemeral", replace_original=False)


def runbook_engine(settings: Settings, scenario: str | None = None) -> Any:
    """The runbook service of tools/runbooks (its sandbox target on `scenario`), or None when
    this deployment does not have the engine."""
    try:
        from bot.slack.runbooks_bridge import engine_from_settings
    except ImportError:
        return None
    return engine_from_settings(settings, scenario)


def register(app: App, bot: SlackBot) -> None:
    def feedback(body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        user, answer_id = user_of(body), str(action.get("value") or "")
        helpful = action["action_id"] == FEEDBACK_HELPFUL
        with one_at_a_time(bot.claims, f"feedback:{answer_id}:{user}") as first:
            if not first:
                return  # a double click: the first one answers
            try:
                changed: bool | None = bot.records.feedback(answer_id, user, helpful)
            except LookupError:
                changed = None
        if changed is None:
            refuse(bot, respond, user, "feedback", f"answer:{answer_id[:100]}",
                   "I no longer have that answer on record, sorry.")
            return
        if not changed:  # the same vote again; the other button switches it
            _ephemeral(respond, "Your feedback on this answer is already recorded.")
            return
        bot.records.audit(user, "slack.feedback", answer_id, {"helpful": helpful})
        _ephemeral(respond, "Thanks, noted: " + ("helpful." if helpful else
                                                 "not helpful. It helps us improve."))

    def acknowledge(body: dict[str, Any], action: dict[str, Any], client: WebClient,
                    respond: Respond) -> None:
        user, incident_id = user_of(body), str(action.get("value") or "")
        try:
            inc, changed = bot.incidents.acknowledge(incident_id, user)
        except IncidentError as exc:
            refuse(bot, respond, user, "incident_ack", f"incident:{incident_id[:100]}", str(exc))
            return
        if not changed:
            _ephemeral(respond, f"{inc.id} is already {inc.status}.")
            return
        bot.records.audit(user, "incident.ack", inc.id, {"via": "button"})
        incident_flow.refresh_card(bot, client, inc, note=f"acknowledged by {mention(user)}")

    def plan(body: dict[str, Any], action: dict[str, Any], client: WebClient,
             respond: Respond) -> None:
        user = user_of(body)
        try:
            data = value_of(action, {"runbook": str})
        except BadClick as exc:
            refuse(bot, respond, user, "runbook_plan", "slack:click", str(exc))
            return
        services = [s for s in data.get("services") or [] if isinstance(s, str)][:3]
        thread = data.get("thread") if isinstance(data.get("thread"), str) else None
        channel = (body.get("channel") or {}).get("id", "")
        message = (body.get("container") or {}).get("message_ts")
        bot.records.audit(user, "runbook.plan", data["runbook"][:100], {"channel": channel})
        if not _known_runbook(bot, data["runbook"]):  # refused at once, holding no claim
            runbook_plan(bot, client, respond, user, channel, data["runbook"], services, None)
            return
        with one_at_a_time(bot.claims, f"plan:{message}:{data['runbook']}:{user}") as first:
            if not first:
                return  # a double click: the first one answers
            runbook_plan(bot, client, respond, user, channel, data["runbook"], services,
                         thread or None, body.get("trigger_id"))

    app.action(FEEDBACK_HELPFUL)(ack=_ack, lazy=[feedback])
    app.action(FEEDBACK_UNHELPFUL)(ack=_ack, lazy=[feedback])
    app.action(INCIDENT_ACK)(ack=_ack, lazy=[acknowledge])
    app.action(RUNBOOK_PLAN)(ack=_ack, lazy=[plan])
    try:
        from bot.slack.runbooks_bridge import register as register_runbooks
    except ImportError:
        return
    register_runbooks(app, bot)


def _known_runbook(bot: SlackBot, name: str) -> bool:
    if bot.runbooks is None:
        return False
    from bot.slack.runbooks_bridge import engine_name

    return engine_name(bot.runbooks, name) in bot.runbooks.library.names()


def runbook_plan(bot: SlackBot, client: WebClient, respond: Respond, user: str, channel: str,
                 name: str, services: list[str], thread: str | None,
                 trigger_id: str | None = None) -> None:
    """An answer's "Plan" button: the dry run, or a form asking for missing parameters."""
    if bot.runbooks is None:
        _ephemeral(respond, f"Runbook `{escape(name)}`: the runbook engine is not set up in this "
                            "deployment, so I cannot plan it here.")
        return
    from bot.slack.runbooks_bridge import plan_from_answer

    plan_from_answer(bot, client, respond, user, channel, name, services, thread, trigger_id)


def runbook_command(bot: SlackBot, client: WebClient, command: dict[str, Any], respond: Respond,
                    verb: str, args: list[str]) -> None:
    if bot.runbooks is None:
        _ephemeral(respond, "The runbook engine is not set up in this deployment.")
        return
    from bot.slack.runbooks_bridge import command as bridge_command

    bridge_command(bot, client, command, respond, verb, args)
