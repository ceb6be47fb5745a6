"""The answer log: what Slack and the CLI record for drift monitoring and replay."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.answer import Answer, Question, ToolCallRecord
from bot.answer_log import AnswerLog, UnknownAnswer, answer_status, log_answer
from infra.settings import load_settings
from infra.state import state_engine
from tools.base import Evidence

ASKED = datetime(2026, 11, 20, 18, 15, tzinfo=UTC)


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def answer(intent: str = "logs", statuses: tuple[str, ...] = ("ok",),
           summary: str = "12 log lines") -> Answer:
    a = Answer(question="q", intent=intent, summary=summary, confidence=0.8, latency_ms=42.0)
    a.tool_calls = [ToolCallRecord("search_logs", {}, s, "s", 1.0) for s in statuses]
    a.evidence = [Evidence("logs:checkout", "search_logs", "sandbox", "query", "summary")]
    return a


@pytest.fixture
def log(tmp_path: Path) -> AnswerLog:
    settings = load_settings(data_dir=tmp_path)
    return AnswerLog(state_engine(settings), context="bad-deploy-checkout", clock=Clock(1000.0))


def test_status_of_an_answer():
    assert answer_status(answer()) == "ok"
    assert answer_status(answer(statuses=("ok", "error"))) == "error"
    assert answer_status(answer(statuses=("no_data", "no_data"))) == "no_data"
    assert answer_status(answer(statuses=("no_data", "ok"))) == "ok"
    assert answer_status(answer("investigate", ())) == "unsure"
    assert answer_status(answer("help", ())) == "ok"


def test_record_redacts_and_reads_back(log: AnswerLog):
    q = Question("why? my token=hunter2 xoxb-1234567890-abcdef", ASKED, user="U123",
                 channel="C9")
    answer_id = log.record(q, answer(summary="password: s3cret found in logs"), source="slack",
                           latency_ms=87.5)
    [entry] = log.entries(0)
    assert entry.id == answer_id and entry.source == "slack"
    assert "hunter2" not in entry.question and "xoxb-1234567890" not in entry.question
    assert "s3cret" not in entry.summary
    assert entry.intent == "logs" and entry.tools == ["search_logs"]
    assert entry.evidence == ["logs:checkout"] and entry.status == "ok"
    assert entry.latency_ms == 87.5 and entry.asked_at == ASKED.timestamp()
    assert entry.context == "bad-deploy-checkout" and entry.votes == []


def test_feedback_one_vote_per_user(log: AnswerLog):
    answer_id = log.record(Question("q", ASKED), answer(), source="cli", latency_ms=1.0)
    log.feedback(answer_id, "U1", True)
    log.feedback(answer_id, "U2", True)
    log.feedback(answer_id, "U1", False)  # changed their mind
    assert sorted(log.entries(0)[0].votes) == [False, True]
    with pytest.raises(UnknownAnswer, match="no logged answer with id 'nope'"):
        log.feedback("nope", "U1", True)


def test_windows(log: AnswerLog):
    clock = log.clock
    assert isinstance(clock, Clock)
    for t in (100.0, 200.0, 300.0):
        clock.t = t
        log.record(Question(f"q{t}", ASKED), answer(), source="cli", latency_ms=1.0)
    assert [e.question for e in log.entries(150, 300)] == ["q200.0"]
    assert len(log.entries(0, limit=2)) == 2


def test_log_answer_for_adapters(tmp_path: Path):
    settings = load_settings(data_dir=tmp_path / "state")
    answer_id = log_answer(settings, Question("q", ASKED), answer(), source="cli",
                           context="quiet")
    assert answer_id is not None
    [entry] = AnswerLog.from_settings(settings).entries(0)
    assert entry.id == answer_id and entry.context == "quiet"
    broken = load_settings(database_url="sqlite:////nonexistent-dir/x/answers.db")
    assert log_answer(broken, Question("q", ASKED), answer(), source="cli") is None
