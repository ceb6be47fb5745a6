"""The weekly incident summary: counts, MTTA/MTTR trend, recurring causes, renderers, CLI."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from typer.testing import CliRunner

from bot.incidents import IncidentStore
from bot.summary import WeekError, build_summary, parse_week, to_html, to_markdown
from tests.slack_support import Clock, fresh_settings


def test_parse_week():
    label, start, end = parse_week("2026-W47")
    assert label == "2026-W47" and start == datetime(2026, 11, 16, tzinfo=UTC)
    assert (end - start).days == 7
    assert parse_week(None, date(2026, 11, 25))[0] == "2026-W47"  # last complete week
    with pytest.raises(WeekError, match="YYYY-Www"):
        parse_week("last week")
    with pytest.raises(WeekError, match="no week 54"):
        parse_week("2026-W54")


def _incident(store, clock, title, sev, services, ack_min, fix_min, cause=""):
    inc = store.declare(title, sev, "U1", services=services)
    clock.advance(minutes=ack_min)
    store.acknowledge(inc.id, "U2")
    clock.advance(minutes=fix_min - ack_min)
    return store.resolve(inc.id, "U2", "fixed", root_cause=cause)


@pytest.fixture
def history():
    clock = Clock(datetime(2026, 11, 10, 9, 0, tzinfo=UTC))  # week 46
    store = IncidentStore(fresh_settings(), clock)
    _incident(store, clock, "checkout db pool exhausted", "sev2", ["checkout", "postgres"], 10,
              60, "connection pool exhausted by long transactions")
    clock.now = datetime(2026, 11, 17, 9, 0, tzinfo=UTC)  # week 47
    _incident(store, clock, "checkout db pool exhausted again", "sev2", ["checkout"], 4, 30,
              "connection pool exhausted by long transactions")
    clock.now = datetime(2026, 11, 19, 14, 0, tzinfo=UTC)
    inc = _incident(store, clock, "cdn certificate expired", "sev3", ["frontend"], 2, 20,
                    "certificate expiry")
    store.add_action_item(inc.id, "monitor certificate expiry", "U2")
    clock.now = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    store.declare("email queue backlog", "sev4", "U3", services=["email"])
    return store


def test_summary_counts_trend_and_recurring_causes(history):
    s = build_summary(history, "2026-W47")
    assert len(s.incidents) == 3
    assert s.by_severity == {"sev1": 0, "sev2": 1, "sev3": 1, "sev4": 1}
    assert s.by_service == {"checkout": 1, "frontend": 1, "email": 1}
    assert s.mtta_s == 3 * 60 and s.mttr_s == 25 * 60  # (4+2)/2, (30+20)/2
    assert s.prev_mtta_s == 10 * 60 and s.prev_mttr_s == 60 * 60
    [cluster] = s.recurring
    assert cluster.label == "connection pool exhausted by long transactions"
    assert len(cluster.incidents) == 2 and cluster.services[0] == "checkout"
    assert [a.text for a in s.open_actions] == ["monitor certificate expiry"]
    labels, stacks = s.per_day()
    assert labels[0] == "Mon 16" and stacks["sev2"][1] == 1 and stacks["sev4"][4] == 1
    md = to_markdown(s)
    assert "MTTA 3 min (down from 10 min)" in md and "MTTR 25 min (down from 60 min)" in md
    html = to_html(s, b"\x89PNG")
    assert "<h2>Recurring causes</h2>" in html and "data:image/png;base64," in html


def test_summary_chart_is_a_png(history):
    from bot.summary import chart_png

    png = chart_png(build_summary(history, "2026-W47"))
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 2000


def test_cli_summary_formats(monkeypatch, tmp_path):
    from bot.cli import app

    monkeypatch.setenv("OPSCOPILOT_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    runner.invoke(app, ["incident", "declare", "something", "broke"])
    week = datetime.now(UTC).strftime("%G-W%V")
    md = runner.invoke(app, ["summary", "--week", week, "--format", "md"])
    assert md.exit_code == 0 and f"# Incident summary {week}" in md.stdout
    assert "1 declared" in md.stdout
    slack = runner.invoke(app, ["summary", "--week", week, "--format", "slack"])
    assert '"blocks"' in slack.stdout
    bad = runner.invoke(app, ["summary", "--week", "soon"])
    assert bad.exit_code == 2 and "YYYY-Www" in bad.output
    bad = runner.invoke(app, ["summary", "--format", "pdf"])
    assert bad.exit_code == 2 and "choose md, html or slack" in bad.output
