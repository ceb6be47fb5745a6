"""Every answer the copilot gives in Slack or the CLI, logged (redacted) with its evidence and
latency, plus the helpful / not helpful votes people give it: what the drift monitor
(`bot.evaluation.drift`) and replay (`opscopilot eval replay`) read.

Tables live in the state database (`infra.state`): `answer_log` (one row per answer) and
`answer_feedback` (one row per answer and user; a second vote replaces the first).
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Boolean, Engine, Float, String, Text, UniqueConstraint, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

from bot.intents import intent_spec
from infra.redact import redact
from infra.state import Base, ensure_tables, session_factory, state_engine

if TYPE_CHECKING:
    from bot.answer import Answer, Question
    from infra.settings import Settings

log = logging.getLogger(__name__)

SUMMARY_CHARS = 2000
STATUSES = ("ok", "no_data", "error", "unsure")


class UnknownAnswer(LookupError):
    """Feedback for an answer id that was never logged."""


class AnswerRow(Base):
    __tablename__ = "answer_log"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    ts: Mapped[float] = mapped_column(Float, index=True)  # unix seconds when it was answered
    source: Mapped[str] = mapped_column(String(40), index=True)  # "slack", "cli", ...
    user_hash: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(100), default="")
    context: Mapped[str] = mapped_column(String(200), default="")  # e.g. the sandbox scenario
    asked_at: Mapped[float] = mapped_column(Float)  # the question's "now"
    question: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text)
    intent: Mapped[str] = mapped_column(String(40), index=True)
    confidence: Mapped[float] = mapped_column(Float)
    tools: Mapped[str] = mapped_column(Text)  # JSON list
    evidence: Mapped[str] = mapped_column(Text)  # JSON list of evidence ids
    status: Mapped[str] = mapped_column(String(20), index=True)
    latency_ms: Mapped[float] = mapped_column(Float)
    mode: Mapped[str] = mapped_column(String(20))


class FeedbackRow(Base):
    __tablename__ = "answer_feedback"
    __table_args__ = (UniqueConstraint("answer_id", "user"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    answer_id: Mapped[str] = mapped_column(String(32), index=True)
    user: Mapped[str] = mapped_column(String(100))
    helpful: Mapped[bool] = mapped_column(Boolean)
    ts: Mapped[float] = mapped_column(Float)


@dataclass(frozen=True)
class LoggedAnswer:
    id: str
    ts: float
    source: str
    context: str
    asked_at: float
    question: str
    summary: str
    intent: str
    confidence: float
    tools: list[str]
    evidence: list[str]
    status: str
    latency_ms: float
    votes: list[bool] = field(default_factory=list)  # helpful?, one per user who voted


def answer_status(answer: Answer) -> str:
    """ok, no_data (every tool found nothing), error (a tool failed) or unsure (no tool ran
    for a question about our systems: the copilot asked to rephrase, or cannot do it)."""
    statuses = [c.status for c in answer.tool_calls]
    if "error" in statuses:
        return "error"
    if not statuses:
        return "ok" if not intent_spec(answer.intent).about_systems else "unsure"
    if all(s == "no_data" for s in statuses):
        return "no_data"
    return "ok"


def user_hash(user: str) -> str:
    return hashlib.sha256(user.encode()).hexdigest()[:16]


class AnswerLog:
    """Append answers, record votes, read windows back. Thread-safe (one engine, short
    sessions)."""

    def __init__(self, engine: Engine, context: str = "",
                 clock: Callable[[], float] | None = None) -> None:
        self.engine = engine
        self.clock = clock or (lambda: datetime.now(UTC).timestamp())  # a seam for tests
        self.context = context  # what the answers were about (the sandbox scenario), for replay
        ensure_tables(engine)
        self._sessions = session_factory(engine)

    @classmethod
    def from_settings(cls, settings: Settings) -> AnswerLog:
        return cls(state_engine(settings), context=settings.sandbox.scenario)

    def record(self, question: Question, answer: Answer, *, source: str,
               latency_ms: float) -> str:
        """Store a redacted summary of the question and answer; returns the answer id."""
        answer_id = uuid.uuid4().hex
        row = AnswerRow(
            id=answer_id, ts=self.clock(), source=source[:40],
            user_hash=user_hash(question.user), channel=(question.channel or "")[:100],
            context=self.context[:200], asked_at=question.time.timestamp(),
            question=redact(question.text),
            summary=redact(answer.summary)[:SUMMARY_CHARS],
            intent=answer.intent, confidence=float(answer.confidence),
            tools=json.dumps(answer.tools), evidence=json.dumps([e.id for e in answer.evidence]),
            status=answer_status(answer), latency_ms=float(latency_ms), mode=answer.mode)
        with self._sessions.begin() as session:
            session.add(row)
        return answer_id

    def feedback(self, answer_id: str, user: str, helpful: bool) -> bool:
        """Record a vote; a user's later vote on the same answer replaces the earlier one.
        False when the vote was already this one (nothing changed)."""
        with self._sessions.begin() as session:
            if session.get(AnswerRow, answer_id) is None:
                raise UnknownAnswer(f"no logged answer with id {answer_id!r}")
            existing = session.scalars(select(FeedbackRow).where(
                FeedbackRow.answer_id == answer_id, FeedbackRow.user == user)).first()
            now = self.clock()
            if existing is None:
                session.add(FeedbackRow(id=uuid.uuid4().hex, answer_id=answer_id, user=user,
                                        helpful=helpful, ts=now))
                return True
            if existing.helpful == helpful:
                return False
            existing.helpful, existing.ts = helpful, now
            return True

    def entries(self, since: float, until: float | None = None,
                limit: int | None = None) -> list[LoggedAnswer]:
        """Answers logged in [since, until), oldest first, with their votes."""
        query = select(AnswerRow).where(AnswerRow.ts >= since)
        if until is not None:
            query = query.where(AnswerRow.ts < until)
        query = query.order_by(AnswerRow.ts)
        if limit is not None:
            query = query.limit(limit)
        with self._sessions() as session:
            rows = list(session.scalars(query))
            votes: dict[str, list[bool]] = {r.id: [] for r in rows}
            if rows:
                for fb in session.scalars(select(FeedbackRow).where(
                        FeedbackRow.answer_id.in_(list(votes)))):
                    votes[fb.answer_id].append(fb.helpful)
        return [_logged(r, votes[r.id]) for r in rows]


def _logged(r: AnswerRow, votes: list[bool]) -> LoggedAnswer:
    tools: list[Any] = json.loads(r.tools)
    evidence: list[Any] = json.loads(r.evidence)
    return LoggedAnswer(r.id, r.ts, r.source, r.context, r.asked_at, r.question, r.summary,
                        r.intent, r.confidence, [str(t) for t in tools],
                        [str(e) for e in evidence], r.status, r.latency_ms, votes)


_shared: dict[str, AnswerLog] = {}


def log_answer(settings: Settings, question: Question, answer: Answer, *, source: str,
               context: str | None = None) -> str | None:
    """Record an answer for an adapter (CLI, Slack); a state database that cannot be written
    costs a warning, never the answer. Returns the answer id, or None when it was not logged."""
    try:
        key = f"{state_engine(settings).url}|{context}"
        if key not in _shared:
            _shared[key] = AnswerLog.from_settings(settings)
            if context:
                _shared[key].context = context
        return _shared[key].record(question, answer, source=source,
                                   latency_ms=answer.latency_ms)
    except SQLAlchemyError as exc:
        log.warning("answer not logged (state database %s): %s",
                    state_engine(settings).url.render_as_string(hide_password=True), exc)
        return None
