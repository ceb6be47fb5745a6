"""The `/ops` slash command. The ack answers at once (usage help for unknown sub-commands, a
"working on it" note otherwise, saying how many questions are ahead when busy); a lazy listener
does the work, `/ops ask` through the answer pool like mentions, and replies through the
command's `response_url` (answers and incident news in the channel, the rest to the caller).
"""

from __future__ import annotations

import hashlib
import logging
import shlex
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from slack_bolt import Ack, App, BoltRequest, Respond
from slack_sdk import WebClient

from bot.answer import Question, QuestionError
from bot.incidents import IncidentError, parse_declare
from bot.oncall import OnCallError, describe
from bot.slack import incident_flow
from bot.slack.blocks import answer_blocks, escape, fallback_text, redact_blocks, sections
from bot.slack.cards import incident_card, summary_blocks, timeline_blocks, usage_blocks
from bot.slack.context import SlackBot
from bot.slack.conversations import upload_charts
from bot.slack.work import FOLLOW_UP
from bot.summary import WeekError, build_summary, chart_png
from infra.redact import redact

log = logging.getLogger(__name__)

SUBCOMMANDS = {"ask", "incident", "runbook", "oncall", "summary", "help"}
INCIDENT_VERBS = {"declare", "status", "timeline", "resolve", "ack", "action", "list"}
RUNBOOK_VERBS = {"list", "plan", "run"}
APOLOGY = "Sorry, that failed on my side; the error is logged. Please try again."
REPLAYED = ":no_entry: This exact request was already received; it is not run again."


def command_text(command: Mapping[str, Any]) -> str:
    """The text as typed: Slack sends `&`, `<` and `>` in slash command text as entities."""
    text = str(command.get("text") or "")
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def replay_key(body: Mapping[str, Any], headers: Mapping[str, Sequence[str]]) -> str | None:
    """The claim key of a signed slash command: team, user, command and text within its signed
    timestamp. A replay of a captured request carries the same timestamp (or its signature
    fails, and after 5 minutes it is stale), so it finds the key taken; the same command typed
    again later has a new timestamp and runs. None without a timestamp (Socket Mode)."""
    stamp = (headers.get("x-slack-request-timestamp") or [""])[0]
    if not stamp:
        return None
    parts = [str(body.get(k) or "") for k in ("team_id", "user_id", "command", "text")]
    digest = hashlib.sha256("\x1f".join([*parts, stamp]).encode()).hexdigest()[:40]
    return f"command:{digest}"


def runbook_args(text: str) -> list[str]:
    """The words after `runbook <verb>`, shell-quoted like the CLI (ValueError: unbalanced)."""
    return shlex.split(text)[2:]


def _runbook_problem(text: str) -> str | None:
    try:
        args = runbook_args(text)
    except ValueError as exc:  # "No closing quotation"
        return f"cannot read the parameters: {str(exc).lower()}; close the quote or escape it"
    names = [arg.partition("=")[0] for arg in args[1:] if "=" in arg]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        return (f"parameter `{twice[0]}` is given more than once; give each parameter once, "
                "e.g. `/ops runbook plan drain-node node=node-1`")
    return None


def usage_problem(text: str) -> str | None:
    """None when the command can be attempted, else what is wrong with it (for usage help)."""
    words = text.split()
    if not words or words[0] == "help":
        return ""
    if words[0] not in SUBCOMMANDS:
        return f"unknown sub-command `{words[0]}`"
    if words[0] == "ask" and len(words) < 2:
        return "`/ops ask` needs a question"
    if words[0] == "incident" and (len(words) < 2 or words[1] not in INCIDENT_VERBS):
        return "`/ops incident` needs one of: " + ", ".join(sorted(INCIDENT_VERBS))
    if words[0] == "incident" and words[1] == "declare" and len(words) < 3:
        return "`/ops incident declare` needs a title, e.g. `checkout returns 500s sev2`"
    if words[0] == "runbook" and (len(words) < 2 or words[1] not in RUNBOOK_VERBS):
        return "`/ops runbook` needs one of: list, plan <name>, run <name>"
    if words[0] == "runbook":
        return _runbook_problem(text)
    return None


def register(app: App, bot: SlackBot) -> None:
    def ack_ops(ack: Ack, command: dict[str, Any]) -> None:
        text = command_text(command)
        problem = usage_problem(text)
        if problem is not None:
            ack(blocks=usage_blocks(redact(problem)), text="/ops usage")
            return
        note = ""
        if text.split()[0] == "ask":
            ahead = bot.answers.ahead(command.get("channel_id", ""))
            note = f" (busy: {ahead} questions ahead)" if bot.answers.is_busy(ahead) else ""
        ack(text=f":hourglass_flowing_sand: `/ops {escape(redact(text)[:200])}` …{note}")

    def run_ops(command: dict[str, Any], client: WebClient, respond: Respond,
                request: BoltRequest) -> None:
        text = command_text(command)
        if usage_problem(text) is not None:
            return  # the ack showed the usage help
        key = replay_key(command, request.headers)  # claimed here: the ack stays quick
        if key is not None and not bot.claims.claim(key):
            log.warning("refused a replayed /ops command from %s", command.get("user_id"))
            bot.records.audit(str(command.get("user_id") or ""), "slack.replay_refused", key,
                              {"channel": command.get("channel_id"),
                               "command": redact(text)[:200]})
            respond(text=REPLAYED, response_type="ephemeral", replace_original=False)
            return
        words = text.split()
        handler = HANDLERS[words[0]]
        reporting_errors(respond, words[0], partial(handler, bot, client, command, respond,
                                                    words[1:]))

    app.command("/ops")(ack=ack_ops, lazy=[run_ops])


def reporting_errors(respond: Respond, name: str, work: Callable[[], None]) -> None:
    """Run `work()`; what the user got wrong comes back as a warning, a bug as an apology."""
    try:
        work()
    except (IncidentError, OnCallError, WeekError, QuestionError) as exc:
        respond(text=f":warning: {escape(str(exc))}", response_type="ephemeral")
    except Exception:
        log.exception("/ops %s failed", name)
        respond(text=APOLOGY, response_type="ephemeral")


def _reply(respond: Respond, blocks: list[dict[str, Any]], text: str,
           public: bool = False) -> None:
    respond(blocks=redact_blocks(blocks[:50]), text=fallback_text(text),
            response_type="in_channel" if public else "ephemeral", replace_original=False)


def ask(bot: SlackBot, client: WebClient, command: dict[str, Any], respond: Respond,
        args: list[str]) -> None:
    """Queue the question in the answer pool, the same lane as mentions."""
    bot.answers.submit(command["channel_id"], partial(
        reporting_errors, respond, "ask",
        partial(_answer_command, bot, client, command, respond, args)))


def _answer_command(bot: SlackBot, client: WebClient, command: dict[str, Any],
                    respond: Respond, args: list[str]) -> None:
    channel = command["channel_id"]
    question = Question(" ".join(args), bot.now(), user=command["user_id"], channel=channel)
    started = time.perf_counter()
    answer = bot.copilot.answer(question)
    answer_id = bot.records.answer(question, answer, (time.perf_counter() - started) * 1000)
    _reply(respond, answer_blocks(answer, answer_id), answer.summary, public=True)
    bot.records.audit(command["user_id"], "slack.ask", answer_id,
                      {"channel": channel, "intent": answer.intent})
    if answer.charts and bot.metrics is not None:  # as a mention's: the charts follow it
        bot.answers.submit(channel, partial(upload_charts, bot, client, channel, None, answer),
                           priority=FOLLOW_UP)


def incident(bot: SlackBot, client: WebClient, command: dict[str, Any], respond: Respond,
             args: list[str]) -> None:
    verb, rest = args[0], args[1:]
    user, channel = command["user_id"], command["channel_id"]
    if verb == "declare":
        title, sev = parse_declare(rest)
        inc = incident_flow.declare(bot, client, title, sev, user)
        _reply(respond, sections(f":rotating_light: *{inc.id}* ({inc.severity}) declared: "
                                 f"{escape(inc.title)} → <#{inc.channel_id}>"), inc.title, True)
        return
    if verb == "list":
        open_ = [i for i in bot.incidents.list() if i.status != "resolved"]
        lines = [f"• *{i.id}* {i.severity} {i.status}: {escape(i.title)}"
                 + (f" <#{i.channel_id}>" if i.channel_id else "") for i in open_]
        _reply(respond, sections("*Open incidents*\n" + ("\n".join(lines) or "none")), "incidents")
        return
    if rest and rest[0].upper().startswith("INC-"):
        inc, rest = bot.incidents.get(rest[0]), rest[1:]
    else:
        found = bot.incidents.by_channel(channel)
        if found is None:
            raise IncidentError("this channel has no incident: run it in the incident's channel "
                                "or name it, e.g. `/ops incident status INC-20261129-01`")
        inc = found
    note = " ".join(rest)
    if verb == "status" and note:
        bot.incidents.add_update(inc.id, user, note)
        bot.records.audit(user, "incident.status", inc.id, {"update": note})
        incident_flow.refresh_card(bot, client, inc)
        _reply(respond, sections(f"*{inc.id}* update by <@{user}>: {escape(note)}"), note, True)
    elif verb == "status":
        entries, problem = incident_flow.on_call_now(bot)
        _reply(respond, incident_card(inc, [e.person.name for e in entries], problem), inc.title)
    elif verb == "ack":
        inc, changed = bot.incidents.acknowledge(inc.id, user)
        if changed:
            bot.records.audit(user, "incident.ack", inc.id)
            incident_flow.refresh_card(bot, client, inc)
        _reply(respond, sections(f"*{inc.id}* acknowledged" + ("" if changed else " already")),
               "ack", changed)
    elif verb == "action":
        item = bot.incidents.add_action_item(inc.id, note, owner=user)
        bot.records.audit(user, "incident.action", inc.id, {"text": item.text})
        _reply(respond, sections(f"*{inc.id}* action item #{item.id}: {escape(item.text)}"),
               item.text, True)
    elif verb == "timeline":
        _reply(respond, timeline_blocks(inc, bot.incidents.timeline(inc.id)), "timeline")
    elif verb == "resolve":
        inc, stored = incident_flow.resolve(bot, client, inc, user, note)
        from tools.formatting import fmt_duration

        tta = fmt_duration(inc.time_to_acknowledge or 0)
        ttr = fmt_duration(inc.time_to_resolve or 0)
        _reply(respond, sections(f":white_check_mark: *{inc.id}* resolved by <@{user}> after "
                                 f"{ttr} (acknowledged after {tta}); {stored}."), inc.title, True)


def oncall(bot: SlackBot, client: WebClient, command: dict[str, Any], respond: Respond,
           args: list[str]) -> None:
    entries = bot.oncall.on_call(bot.clock() if bot.clock else incident_flow._utcnow())
    lines = [f"• {escape(line)}" for line in describe(entries)] or ["• nobody is on call"]
    _reply(respond, sections(f"*On call now* ({bot.oncall.name})\n" + "\n".join(lines)),
           "on call")


def summary(bot: SlackBot, client: WebClient, command: dict[str, Any], respond: Respond,
            args: list[str]) -> None:
    today = (bot.clock() if bot.clock else incident_flow._utcnow()).date()
    s = build_summary(bot.incidents, args[0] if args else None, today)
    _reply(respond, summary_blocks(s), f"Incident summary {s.week}", public=True)
    post_chart(client, command["channel_id"], f"incidents-{s.week}.png", chart_png(s),
               f"Incidents per day, {s.week}")


def post_chart(client: WebClient, channel: str, filename: str, png: bytes, title: str) -> bool:
    from slack_sdk.errors import SlackApiError

    try:
        client.files_upload_v2(channel=channel, content=png, filename=filename, title=title)
        return True
    except SlackApiError as exc:  # the bot is not in that channel
        log.warning("chart upload to %s failed: %s", channel, exc.response.get("error"))
        return False


def runbook(bot: SlackBot, client: WebClient, command: dict[str, Any], respond: Respond,
            args: list[str]) -> None:
    from bot.slack.approvals import runbook_command

    runbook_command(bot, client, command, respond, args[0],
                    runbook_args(command_text(command)))  # the ack refused bad quoting


Handler = Callable[[SlackBot, WebClient, dict[str, Any], Respond, list[str]], None]
HANDLERS: dict[str, Handler] = {"ask": ask, "incident": incident, "oncall": oncall,
                                "summary": summary, "runbook": runbook}
