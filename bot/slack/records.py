"""Where the Slack adapter records what it did: answers and feedback (bot/answer_log.py, read by
the eval drift monitor) and every action (infra/audit.py, append-only, hash-chained)."""

from __future__ import annotations

import logging
from typing import Any

from bot.answer import Answer, Question
from infra.settings import Settings

log = logging.getLogger(__name__)


class Records:
    """One place the Slack listeners record answers, feedback clicks and actions."""

    def __init__(self, settings: Settings) -> None:
        from bot.answer_log import AnswerLog
        from infra.audit import AuditLog

        self.answer_log = AnswerLog.from_settings(settings)
        self.audit_log = AuditLog.from_settings(settings)

    def answer(self, question: Question, answer: Answer, latency_ms: float,
               source: str = "slack") -> str:
        """Record an answer posted to Slack; its id goes into the feedback buttons."""
        return str(self.answer_log.record(question, answer, source=source,
                                          latency_ms=latency_ms))

    def feedback(self, answer_id: str, user: str, helpful: bool) -> bool:
        """Whether the vote changed; LookupError (`UnknownAnswer`) for an answer that was never
        recorded."""
        return self.answer_log.feedback(answer_id, user, helpful)

    def audit(self, actor: str, action: str, subject: str,
              details: dict[str, Any] | None = None) -> None:
        self.audit_log.append(actor, action, subject, details)
