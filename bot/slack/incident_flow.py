"""Incidents in Slack: `/ops incident declare` opens `#inc-<date>-<slug>`, invites the on-call
and the declarer, posts and pins the card; status updates, acknowledgement and resolution keep
the pinned card current; resolving drafts the postmortem into the knowledge base.
The bookkeeping itself is `bot.incidents.IncidentStore` (shared with the CLI).
"""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.incidents import Incident, IncidentError
from bot.oncall import OnCall, OnCallError
from bot.slack.blocks import fallback_text, redact_blocks, sections
from bot.slack.cards import incident_card
from bot.slack.context import SlackBot
from infra.redact import redact
from knowledge.documents import slugify

log = logging.getLogger(__name__)


def channel_name(inc: Incident, attempt: int = 0) -> str:
    """`inc-2026-11-29-checkout-returns-500s` (Slack: lower case, <= 80 characters), from the
    redacted title: a channel name is seen by the whole workspace and kept for good."""
    suffix = f"-{attempt + 1}" if attempt else ""
    return f"inc-{inc.declared_at:%Y-%m-%d}-{slugify(redact(inc.title), 50)}{suffix}"[:80]


def on_call_now(bot: SlackBot) -> tuple[list[OnCall], str]:
    """(who is on call, a note when the schedule could not be read)."""
    try:
        return bot.oncall.on_call(bot.clock() if bot.clock else _utcnow()), ""
    except OnCallError as exc:
        return [], f"on-call unknown: {exc}"


def _utcnow():  # noqa: ANN202 - datetime
    from datetime import UTC, datetime

    return datetime.now(UTC)


def slack_ids(client: WebClient, entries: list[OnCall]) -> list[str]:
    """Slack user ids of the on-call people (their id, else looked up by email)."""
    ids = []
    for entry in entries:
        if entry.person.slack:
            ids.append(entry.person.slack)
        elif entry.person.email:
            try:
                ids.append(client.users_lookupByEmail(email=entry.person.email)["user"]["id"])
            except SlackApiError as exc:
                log.warning("no Slack user for %s: %s", entry.person.email,
                            exc.response.get("error"))
    return list(dict.fromkeys(ids))


def declare(bot: SlackBot, client: WebClient, title: str, severity: str, user: str) -> Incident:
    inc = bot.incidents.declare(title, severity, declared_by=user)
    for attempt in range(5):
        name = channel_name(inc, attempt)
        try:
            created = client.conversations_create(name=name)
            break
        except SlackApiError as exc:
            if exc.response.get("error") != "name_taken":
                raise
    else:
        raise IncidentError(f"could not create a channel for {inc.id}: names are taken")
    channel = created["channel"]["id"]
    inc = bot.incidents.attach_channel(inc.id, channel, name)
    entries, note = on_call_now(bot)
    invitees = [u for u in [*slack_ids(client, entries), user, *bot.settings.slack.incident_admins]
                if u]
    if invitees:
        try:
            client.conversations_invite(channel=channel, users=",".join(dict.fromkeys(invitees)))
        except SlackApiError as exc:  # e.g. already_in_channel for one of them
            log.warning("inviting to %s: %s", name, exc.response.get("error"))
    names = [e.person.name for e in entries]
    card = client.chat_postMessage(channel=channel, text=fallback_text(f"{inc.id}: {inc.title}"),
                                   blocks=redact_blocks(incident_card(inc, names, note)))
    client.pins_add(channel=channel, timestamp=card["ts"])
    bot.incidents.attach_channel(inc.id, channel, name, card_ts=card["ts"])
    bot.records.audit(user, "incident.declare", inc.id,
                      {"channel": channel, "severity": inc.severity, "on_call": names})
    return bot.incidents.get(inc.id)


def refresh_card(bot: SlackBot, client: WebClient, inc: Incident, note: str = "") -> None:
    """Bring the pinned card up to date (status, durations; buttons gone once acknowledged)."""
    if not (inc.channel_id and inc.card_ts):
        return
    entries, problem = on_call_now(bot)
    client.chat_update(channel=inc.channel_id, ts=inc.card_ts,
                       text=fallback_text(f"{inc.id}: {inc.title} ({inc.status})"),
                       blocks=redact_blocks(incident_card(inc, [e.person.name for e in entries],
                                                          note or problem)))


def resolve(bot: SlackBot, client: WebClient, inc: Incident, user: str,
            resolution: str) -> tuple[Incident, str]:
    """Resolve, refresh the card, draft the postmortem into the KB; (incident, what was done)."""
    inc = bot.incidents.resolve(inc.id, user, resolution)
    refresh_card(bot, client, inc)
    doc = bot.incidents.postmortem(inc)
    stored = "the knowledge base is not configured, so the draft is only posted here"
    if bot.kb is not None:
        bot.kb.ingest([doc])
        stored = f"the draft is in the knowledge base as `{doc.id}`"
    if inc.channel_id:
        client.chat_postMessage(channel=inc.channel_id, text=fallback_text(doc.title),
                                blocks=redact_blocks(sections(f"*Postmortem draft*\n```"
                                                              f"{doc.body[:2800]}```")))
    bot.records.audit(user, "incident.resolve", inc.id,
                      {"ttr_s": inc.time_to_resolve, "tta_s": inc.time_to_acknowledge,
                       "postmortem": doc.id if bot.kb is not None else None})
    return inc, stored
