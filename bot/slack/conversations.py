"""Questions asked in Slack: `@opscopilot ...` mentions, replies in threads the bot answers in,
and direct messages. Each is acked at once; a lazy listener posts a placeholder in the thread
(saying how many questions are ahead when the bot is busy) and queues the answer in the answer
pool (bot/slack/work.py); the answer replaces the placeholder with the Block Kit answer, and the
charts of the anomalous series follow once no other answer is waiting.
"""

from __future__ import annotations

import logging
import time
from functools import partial
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.answer import Answer, Question, QuestionError
from bot.copilot import Conversation
from bot.slack.blocks import (
    answer_blocks,
    fallback_text,
    redact_blocks,
    split_blocks,
    strip_mentions,
)
from bot.slack.context import SlackBot
from bot.slack.work import FOLLOW_UP
from infra.charts import series_png
from infra.redact import redact

log = logging.getLogger(__name__)

PLACEHOLDER = ":mag: Looking into it…"
BUSY = (":hourglass_flowing_sand: Busy: {ahead} questions ahead of yours. Yours is queued and "
        "the answer will replace this message.")
APOLOGY = ("Sorry, something went wrong while I was answering this. The error is logged; "
           "please try again, or ask in a different way.")
MAX_CHARTS = 2


def _ack(ack: Ack) -> None:
    ack()


def register(app: App, bot: SlackBot) -> None:
    def on_mention(event: dict[str, Any], client: WebClient, context: dict[str, Any]) -> None:
        thread_ts = event.get("thread_ts") or event["ts"]
        ask_in_thread(bot, client, event["channel"], event.get("user", ""),
                      strip_mentions(event.get("text", "")), thread_ts)

    def on_message(event: dict[str, Any], client: WebClient, context: dict[str, Any]) -> None:
        if event.get("subtype") or event.get("bot_id"):
            return  # edits, joins, other bots (and our own posts)
        text = event.get("text", "")
        bot_user = context.get("bot_user_id") or ""
        channel = event["channel"]
        if event.get("channel_type") == "im":
            thread_ts = event.get("thread_ts") or event["ts"]
        else:
            thread_ts = event.get("thread_ts", "")
            if not thread_ts or (bot_user and f"<@{bot_user}>" in text):
                return  # not in a thread, or a mention (answered by on_mention)
            if bot.threads.get(channel, thread_ts) is None:
                return  # a thread the bot is not part of
        ask_in_thread(bot, client, channel, event.get("user", ""), strip_mentions(text),
                      thread_ts)

    app.event("app_mention")(ack=_ack, lazy=[on_mention])
    app.event("message")(ack=_ack, lazy=[on_message])


def placeholder_text(bot: SlackBot, channel: str) -> str:
    ahead = bot.answers.ahead(channel)
    return BUSY.format(ahead=ahead) if bot.answers.is_busy(ahead) else PLACEHOLDER


def ask_in_thread(bot: SlackBot, client: WebClient, channel: str, user: str, text: str,
                  thread_ts: str) -> None:
    """The placeholder now (a listener thread, never behind answers), the answer queued."""
    placeholder = client.chat_postMessage(channel=channel, thread_ts=thread_ts,
                                          text=placeholder_text(bot, channel))
    bot.answers.submit(channel, partial(answer_in_thread, bot, client, channel, user, text,
                                        thread_ts, placeholder["ts"]),
                       serial=f"{channel}:{thread_ts}")


def answer_in_thread(bot: SlackBot, client: WebClient, channel: str, user: str, text: str,
                     thread_ts: str, ts: str) -> None:
    """The answer in place of the placeholder `ts`, its charts queued; an apology on error."""
    try:
        if not text:
            text = "help"
        incident = bot.incidents.by_channel(channel)
        question = Question(text, bot.now(), user=user, channel=channel, thread=thread_ts,
                            incident=incident.id if incident else None)
        conversation = bot.threads.get(channel, thread_ts) or Conversation()
        if incident is not None and incident.status != "resolved" and incident.services \
                and not conversation.incident_services:
            # The incident this channel was declared for is the one "have we seen this
            # before?" and "what should we do?" are about.
            conversation.incident_services = list(incident.services)
            conversation.incident_query = incident.title
            conversation.incident_label = f"incident {incident.id}"
        started = time.perf_counter()
        answer = _answer(bot, client, channel, ts, question, conversation)
        latency_ms = (time.perf_counter() - started) * 1000
        bot.threads.save(channel, thread_ts, conversation)
        answer_id = bot.records.answer(question, answer, latency_ms)
        post_answer(client, channel, thread_ts, ts, answer, answer_id)
        bot.records.audit(user, "slack.answer", answer_id,
                          {"channel": channel, "thread": thread_ts, "intent": answer.intent})
        if answer.charts and bot.metrics is not None:
            bot.answers.submit(channel, partial(upload_charts, bot, client, channel, thread_ts,
                                                answer), priority=FOLLOW_UP)
    except QuestionError as exc:
        bot.threads.save(channel, thread_ts, bot.threads.get(channel, thread_ts) or Conversation())
        client.chat_update(channel=channel, ts=ts, text=redact(str(exc)))
    except Exception:
        log.exception("answering in %s/%s failed", channel, thread_ts)
        client.chat_update(channel=channel, ts=ts, text=APOLOGY)


def _answer(bot: SlackBot, client: WebClient, channel: str, placeholder_ts: str,
            question: Question, conversation: Conversation) -> Answer:
    """LLM mode takes several model calls: its steps edit the placeholder as they happen."""
    if getattr(bot.copilot, "model", None) is None:  # the deterministic copilot answers fast
        return bot.copilot.answer(question, conversation)
    from bot.llm.copilot import LLMCopilot
    from bot.llm.progress import SlackThreadProgress

    assert isinstance(bot.copilot, LLMCopilot)
    return bot.copilot.answer(question, conversation,
                              progress=SlackThreadProgress(client, channel, placeholder_ts))


def post_answer(client: WebClient, channel: str, thread_ts: str, placeholder_ts: str,
                answer: Answer, answer_id: str) -> None:
    """The answer in place of the placeholder; what does not fit follows in the thread."""
    messages = split_blocks(redact_blocks(answer_blocks(answer, answer_id, thread_ts)))
    text = fallback_text(answer.summary)
    client.chat_update(channel=channel, ts=placeholder_ts, text=text, blocks=messages[0])
    for more in messages[1:]:
        client.chat_postMessage(channel=channel, thread_ts=thread_ts, text="(continued)",
                                blocks=more)


def upload_charts(bot: SlackBot, client: WebClient, channel: str, thread_ts: str | None,
                  answer: Answer) -> int:
    """PNG charts of the answer's anomalous series into the thread (None: the channel, after a
    slash command's answer); how many were posted."""
    if bot.metrics is None:
        return 0
    posted = 0
    for spec in answer.charts[:MAX_CHARTS]:
        series = bot.metrics.range_query(spec.service, spec.metric, spec.start, spec.end)
        if len(series.timestamps) < 2:
            continue
        onset = next((f.since for f in answer.findings
                      if f.service == spec.service and f.metric == spec.metric), None)
        unit = next((f.unit for f in answer.findings
                     if f.service == spec.service and f.metric == spec.metric), "")
        png = series_png(series.timestamps.tolist(), series.values.tolist(), spec.title,
                         unit, onset)
        try:
            client.files_upload_v2(channel=channel, thread_ts=thread_ts, content=png,
                                   filename=f"{spec.service}-{spec.metric}.png",
                                   title=redact(spec.title))
            posted += 1
        except SlackApiError as exc:  # e.g. not_in_channel for a slash command's channel
            log.warning("chart upload to %s failed: %s", channel, exc.response.get("error"))
    return posted
