"""What every Slack listener works with, built once at start-up: the copilot, the clock, the
state stores, the record keepers. Listeners receive it explicitly; tests build it with fakes of
the seams (a Web API stand-in, a fixed clock, an on-call source) instead of patching.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from bot.answer import Answer, Question
from bot.copilot import Conversation
from bot.slack.records import Records
from bot.slack.threads import ThreadStore
from bot.slack.work import AnswerPool
from infra.claims import Claims
from infra.settings import Settings

if TYPE_CHECKING:
    from bot.incidents import IncidentStore
    from bot.oncall import OnCallSource
    from knowledge.kb import KnowledgeBase
    from tools.backends import MetricsBackend


class Answerer(Protocol):
    """The transport-neutral core as the adapter sees it (bot.copilot.Copilot)."""

    def answer(self, question: Question, conversation: Conversation | None = None) -> Answer: ...


@dataclass
class SlackBot:
    settings: Settings
    copilot: Answerer
    now: Callable[[], datetime]  # "now" for questions (the sandbox's now, else the clock)
    claims: Claims
    threads: ThreadStore
    records: Records
    incidents: IncidentStore
    oncall: OnCallSource
    metrics: MetricsBackend | None = None
    kb: KnowledgeBase | None = None
    runbooks: Any = None  # the runbook engine (tools/runbooks) when present
    # where answers run, apart from acks, clicks and placeholders (bot/slack/work.py)
    answers: AnswerPool = field(default_factory=lambda: AnswerPool(1))
    clock: Callable[[], datetime] | None = None  # wall clock for incidents; default: utcnow
