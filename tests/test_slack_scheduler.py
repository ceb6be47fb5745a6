"""The weekly summary on a schedule: posted once when due (blocks and a chart), never twice."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.slack.scheduler import SummaryScheduler, scheduled_moment
from tests.slack_support import SlackHarness, block_text


def test_scheduled_moment_is_this_weeks_day_and_time():
    wed = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert scheduled_moment(wed, "mon 09:00") == datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    assert scheduled_moment(wed, "fri 16:30") == datetime(2026, 11, 27, 16, 30, tzinfo=UTC)


def test_summary_posts_once_when_due(harness: SlackHarness):
    h = harness
    h.bot.incidents.declare("checkout 500s", "sev2", "U1", services=["checkout"])  # Fri W47
    h.clock.now = datetime(2026, 11, 23, 8, 59, tzinfo=UTC)  # Monday of W48, before 09:00
    scheduler = SummaryScheduler(h.bot, h.client, "C0SRE", "mon 09:00", clock=h.clock)
    assert scheduler.tick() is None
    h.clock.advance(minutes=2)
    assert scheduler.tick() is not None
    assert scheduler.tick() is None  # already posted for 2026-W47
    again = SummaryScheduler(h.bot, h.client, "C0SRE", "mon 09:00", clock=h.clock)
    assert again.tick() is None  # another replica (same state store) does not post it again
    [post] = h.fake.calls_to("chat.postMessage")
    assert post.body["channel"] == "C0SRE"
    text = block_text(post.body["blocks"])
    assert "Incident summary 2026-W47" in text and "sev2: 1" in text and "checkout: 1" in text
    h.fake.wait_for(lambda: h.fake.calls_to("files.completeUploadExternal"))
