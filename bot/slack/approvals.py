"""Buttons: feedback on answers, "Acknowledge" on incident cards, "Plan" on suggested runbooks
and Approve / Deny on runbook requests. Every click is acked at once and handled once per user
and button (a double click is a no-op); the clicking user is checked on the server side.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.slack import incident_flow
from bot.slack.blocks import FEEDBACK_HELPFUL, FEEDBACK_UNHELPFUL, RUNBOOK_PLAN, escape
from bot.slack.cards import INCIDENT_ACK
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
        user = body["user"]["id"]
        answer_id = action["value"]
        helpful = action["action_id"] == FEEDBACK_HELPFUL
        # a double click is dropped; changing one's vote (the other button) is allowed
        if not bot.claims.claim(f"feedback:{answer_id}:{user}:{helpful}"):
            _ephemeral(respond, "Your feedback on this answer is already recorded.")
            return
        try:
            bot.records.feedback(answer_id, user, helpful)
        except LookupError:
            _ephemeral(respond, "I no longer have that answer on record, sorry.")
            return
        bot.records.audit(user, "slack.feedback", answer_id, {"helpful": helpful})
        _ephemeral(respond, "Thanks, noted: " + ("helpful." if helpful else
                                                 "not helpful. It helps us improve."))

    def acknowledge(body: dict[str, Any], action: dict[str, Any], client: WebClient,
                    respond: Respond) -> None:
        user = body["user"]["id"]
        inc, changed = bot.incidents.acknowledge(action["value"], user)
        if not changed:
            _ephemeral(respond, f"{inc.id} is already {inc.status}.")
            return
        bot.records.audit(user, "incident.ack", inc.id, {"via": "button"})
        incident_flow.refresh_card(bot, client, inc, note=f"acknowledged by {user}")

    def plan(body: dict[str, Any], action: dict[str, Any], client: WebClient,
             respond: Respond) -> None:
        user = body["user"]["id"]
        data = json.loads(action["value"])
        if not bot.claims.claim(f"plan:{body.get('container', {}).get('message_ts')}:"
                                f"{data['runbook']}:{user}"):
            return  # a double click: the first one answers
        channel = body.get("channel", {}).get("id", "")
        bot.records.audit(user, "runbook.plan", data["runbook"], {"channel": channel})
        runbook_plan(bot, client, respond, user, channel, data["runbook"],
                     {"service": data["services"][0]} if data.get("services") else {},
                     data.get("thread") or None)

    app.action(FEEDBACK_HELPFUL)(ack=_ack, lazy=[feedback])
    app.action(FEEDBACK_UNHELPFUL)(ack=_ack, lazy=[feedback])
    app.action(INCIDENT_ACK)(ack=_ack, lazy=[acknowledge])
    app.action(RUNBOOK_PLAN)(ack=_ack, lazy=[plan])
    try:
        from bot.slack.runbooks_bridge import register as register_runbooks
    except ImportError:
        return
    register_runbooks(app, bot)


def runbook_plan(bot: SlackBot, client: WebClient, respond: Respond, user: str, channel: str,
                 name: str, params: dict[str, Any], thread: str | None) -> None:
    if bot.runbooks is None:
        _ephemeral(respond, f"Runbook `{escape(name)}`: the runbook engine is not set up in this "
                            "deployment, so I cannot plan it here.")
        return
    from bot.slack.runbooks_bridge import post_plan

    post_plan(bot, client, respond, user, channel, name, params, thread)


def runbook_command(bot: SlackBot, client: WebClient, command: dict[str, Any], respond: Respond,
                    verb: str, args: list[str]) -> None:
    if bot.runbooks is None:
        _ephemeral(respond, "The runbook engine is not set up in this deployment.")
        return
    from bot.slack.runbooks_bridge import command as bridge_command

    bridge_command(bot, client, command, respond, verb, args)
