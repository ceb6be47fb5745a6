"""What every button handler shares: reading a click's value without trusting it, refusing
with a private answer that is also audited, and once-at-a-time handling of a person's click.

A refused or failed click never blocks a later one: the dedupe claim is held only while a click
is handled (`one_at_a_time`), so a double click is a no-op and a refusal leaves nothing behind.
What must happen only once (a decision, a run) is held by the runbook service itself (one
approval per approver, idempotency keys, atomic state moves).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from slack_bolt import Respond

from bot.slack.blocks import escape
from bot.slack.context import SlackBot
from infra.claims import Claims

REFUSED = "slack.click_refused"


class BadClick(ValueError):
    """A click whose value or payload is not one the bot could have posted."""


def user_of(body: dict[str, Any]) -> str:
    user = (body.get("user") or {}).get("id")
    return user if isinstance(user, str) and user else "unknown"


def value_of(action: dict[str, Any], required: dict[str, type | tuple[type, ...]]
             ) -> dict[str, Any]:
    """The button's JSON value with each required key of the given type, else BadClick."""
    try:
        data = json.loads(action.get("value") or "")
    except ValueError:
        raise BadClick("the button's value is not what I posted (not JSON)") from None
    if not isinstance(data, dict):
        raise BadClick("the button's value is not what I posted")
    for key, kind in required.items():
        if not isinstance(data.get(key), kind) or data.get(key) in ("", None):
            raise BadClick(f"the button's value has no valid `{key}`")
    return data


def where_of(body: dict[str, Any]) -> tuple[str, str]:
    """(channel, message ts) of the message the button sits on, else BadClick."""
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id")
    ts = (body.get("container") or {}).get("message_ts")
    if not isinstance(channel, str) or not isinstance(ts, str) or not channel or not ts:
        raise BadClick("the click does not say which message it came from")
    return channel, ts


def refuse(bot: SlackBot, respond: Respond | None, user: str, action: str, subject: str,
           why: str) -> None:
    """Audit the refusal, then tell the clicking person (privately) why nothing happened."""
    bot.records.audit(user, REFUSED, subject, {"action": action, "why": why})
    if respond is not None:
        respond(text=f":no_entry: {escape(why)}", response_type="ephemeral",
                replace_original=False)


@contextmanager
def one_at_a_time(claims: Claims, key: str) -> Iterator[bool]:
    """True for the first handler of `key` while no other holds it; the key is given back when
    the handler ends, whatever happened."""
    first = claims.claim(key)
    try:
        yield first
    finally:
        if first:
            claims.release(key)
