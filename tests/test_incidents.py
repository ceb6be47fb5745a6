"""IncidentStore (declare, ack, updates, resolve, postmortem draft) and `opscopilot incident`."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from bot.incidents import IncidentError, IncidentStore, parse_declare, postmortem_document
from tests.slack_support import Clock, fresh_settings


@pytest.fixture
def store():
    return IncidentStore(fresh_settings(), Clock(datetime(2026, 11, 20, 18, 0, tzinfo=UTC)))


def test_parse_declare_takes_a_trailing_severity():
    assert parse_declare(["checkout", "500s", "SEV-2"]) == ("checkout 500s", "sev2")
    assert parse_declare(["checkout", "down"]) == ("checkout down", "sev3")
    assert parse_declare(["P1"]) == ("P1", "sev3")  # a title, not a severity


def test_ids_count_per_day_and_durations(store):
    first = store.declare("checkout 500s", "sev2", "U1", services=["checkout"])
    second = store.declare("cart slow", "sev3", "U2")
    assert (first.id, second.id) == ("INC-20261120-01", "INC-20261120-02")
    store.clock.advance(minutes=3)
    _, changed = store.acknowledge(first.id, "U3")
    _, again = store.acknowledge(first.id, "U4")
    assert changed and not again
    store.clock.advance(minutes=42)
    store.add_action_item(first.id, "alert on deploy error rate", "U3")
    inc = store.resolve(first.id, "U3", "rolled back", root_cause="nil pointer in v3.12.0")
    assert inc.time_to_acknowledge == 180 and inc.time_to_resolve == 45 * 60
    with pytest.raises(IncidentError, match="already resolved"):
        store.resolve(first.id, "U3")
    doc = postmortem_document(inc, store.timeline(inc.id), store.action_items(inc.id))
    assert doc.kind == "postmortem" and doc.severity == "sev2" and doc.services == ["checkout"]
    assert "Time to resolve: 45 min" in doc.body and "nil pointer" in doc.body
    assert doc.action_items == ["alert on deploy error rate"]
    assert [i.id for i in store.list(status="open")] == [second.id]


def test_bad_input_is_one_line(store):
    with pytest.raises(IncidentError, match="needs a title"):
        store.declare("   ")
    with pytest.raises(IncidentError, match="unknown severity"):
        store.declare("x", "sev9")
    with pytest.raises(IncidentError, match="no incident"):
        store.get("INC-19990101-01")


def test_cli_incident_life_cycle(monkeypatch, tmp_path):
    from bot.cli import app

    monkeypatch.setenv("OPSCOPILOT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("OPSCOPILOT_KB__MODEL", "hashing-384")
    runner = CliRunner()
    declared = runner.invoke(app, ["incident", "declare", "payment", "timeouts", "sev1"])
    assert declared.exit_code == 0, declared.output
    inc_id = declared.stdout.split()[0]
    assert runner.invoke(app, ["incident", "ack", inc_id]).exit_code == 0
    assert runner.invoke(app, ["incident", "status", inc_id, "failing", "over"]).exit_code == 0
    timeline = runner.invoke(app, ["incident", "timeline", inc_id])
    assert "status by cli: failing over" in timeline.stdout
    resolved = runner.invoke(app, ["incident", "resolve", inc_id, "failed", "over"])
    assert resolved.exit_code == 0, resolved.output
    assert "## Timeline" in resolved.stdout and "stored in the knowledge base" in resolved.stdout
    missing = runner.invoke(app, ["incident", "ack", "INC-19990101-01"])
    assert missing.exit_code == 2 and "no incident" in missing.output


def test_cli_declare_takes_sev_as_an_option_as_the_readme_shows(monkeypatch, tmp_path):
    from bot.cli import app

    monkeypatch.setenv("OPSCOPILOT_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    declared = runner.invoke(app, ["incident", "declare", "checkout returns 500s", "--sev",
                                   "sev2"])
    assert declared.exit_code == 0, declared.output
    assert "(sev2) declared: checkout returns 500s" in declared.stdout
    twice = runner.invoke(app, ["incident", "declare", "db down", "sev1", "--sev", "sev2"])
    assert twice.exit_code == 2 and "give the severity once" in twice.output
    bad = runner.invoke(app, ["incident", "declare", "db down", "--sev", "sev9"])
    assert bad.exit_code == 2 and "sev1 to sev4" in bad.output
