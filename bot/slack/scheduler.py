"""The weekly incident summary, posted to a configured channel on a schedule (an in-process
thread that looks at the clock every half minute) and on demand. Each week's summary is claimed
in the state store before posting, so several replicas (or a restart) post it once.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from slack_sdk import WebClient

from bot.slack.blocks import fallback_text, redact_blocks
from bot.slack.cards import summary_blocks
from bot.slack.context import SlackBot
from bot.summary import build_summary, chart_png, title
from tools.periodic import Periodic

log = logging.getLogger(__name__)

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def post_summary(bot: SlackBot, client: WebClient, channel: str, week: str | None = None,
                 today: datetime | None = None) -> str:
    """Post the summary (blocks, then the chart in its thread); the message ts."""
    from bot.slack.commands import post_chart

    day = (today or _now(bot)).date()
    s = build_summary(bot.incidents, week, day)
    posted = client.chat_postMessage(channel=channel, text=fallback_text(title(s)),
                                     blocks=redact_blocks(summary_blocks(s)[:50]))
    post_chart(client, posted["channel"] or channel, f"incidents-{s.week}.png", chart_png(s),
               f"Incidents per day, {s.week}")
    bot.records.audit("opscopilot", "summary.post", s.week, {"channel": channel})
    return str(posted["ts"])


def _now(bot: SlackBot) -> datetime:
    return bot.clock() if bot.clock else datetime.now(UTC)


def scheduled_moment(now: datetime, at: str) -> datetime:
    """This ISO week's posting time for `at` ('mon 09:00', UTC)."""
    m = re.fullmatch(r"(\w{3}) (\d\d):(\d\d)", at)
    if not m or m[1] not in DAYS:
        raise ValueError(f"bad schedule {at!r}: expected e.g. 'mon 09:00'")
    monday = (now - timedelta(days=now.weekday())).replace(hour=0, minute=0, second=0,
                                                           microsecond=0)
    return monday + timedelta(days=DAYS.index(m[1]), hours=int(m[2]), minutes=int(m[3]))


class SummaryScheduler(Periodic):
    """Posts the previous week's summary once the week's posting time has passed."""

    def __init__(self, bot: SlackBot, client: WebClient, channel: str, at: str = "mon 09:00",
                 interval_s: float = 30.0, clock: Callable[[], datetime] | None = None) -> None:
        self.bot, self.client, self.channel, self.at = bot, client, channel, at
        self.interval_s = interval_s
        self.clock = clock or (lambda: _now(bot))
        self.job_name = "weekly summary"
        super().__init__()

    def tick(self) -> str | None:
        """Post if due and not yet posted (by anyone); the posted message ts, else None."""
        now = self.clock()
        moment = scheduled_moment(now, self.at)
        if now < moment:
            return None
        last_week = (moment - timedelta(days=7)).isocalendar()
        label = f"{last_week[0]}-W{last_week[1]:02d}"
        if not self.bot.claims.claim(f"summary:{self.channel}:{label}"):
            return None
        return post_summary(self.bot, self.client, self.channel, label, now)
