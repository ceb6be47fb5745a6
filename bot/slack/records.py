"""Where the Slack adapter records what it did: answers and feedback (bot/answer_log.py, read by
the eval drift monitor) and every action (bot/audit.py, append-only).

Both logs are built by other parts of the project; until a deployment has them, the adapter still
works: answers get a local id and the records go to the process log.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from bot.answer import Answer, Question
from bot.settings import Settings

log = logging.getLogger(__name__)


class Records:
    """One place the Slack listeners record answers, feedback clicks and actions."""

    def __init__(self, settings: Settings) -> None:
        self.answer_log: Any = None
        self.audit_log: Any = None
        try:
            from bot.answer_log import AnswerLog
        except ImportError:
            log.warning("bot.answer_log is not available: answers and feedback go to the log only")
        else:
            self.answer_log = AnswerLog.from_settings(settings)
        try:
            from bot.audit import AuditLog
        except ImportError:
            log.warning("bot.audit is not available: Slack actions go to the process log only")
        else:
            self.audit_log = AuditLog.from_settings(settings)

    def answer(self, question: Question, answer: Answer, latency_ms: float,
               source: str = "slack") -> str:
        """Record an answer posted to Slack; its id goes into the feedback buttons."""
        if self.answer_log is not None:
            return str(self.answer_log.record(question, answer, source=source,
                                              latency_ms=latency_ms))
        answer_id = uuid.uuid4().hex
        log.info("answer %s intent=%s latency_ms=%.0f", answer_id, answer.intent, latency_ms)
        return answer_id

    def feedback(self, answer_id: str, user: str, helpful: bool) -> None:
        if self.answer_log is not None:
            self.answer_log.feedback(answer_id, user, helpful)
        else:
            log.info("feedback %s from %s: helpful=%s", answer_id, user, helpful)

    def audit(self, actor: str, action: str, subject: str,
              details: dict[str, Any] | None = None) -> None:
        if self.audit_log is not None:
            self.audit_log.append(actor, action, subject, details)
        else:
            log.info("audit %s %s %s %s", actor, action, subject, details or {})
