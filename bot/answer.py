"""The copilot's transport-neutral input and output: a `Question` in, an `Answer` out.

Slack, the CLI and the eval harness are adapters that build a Question and render an Answer;
nothing here knows about Block Kit or terminals. `Answer.to_json()` is the stable `--json` shape.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from infra.redact import redact
from tools.base import Evidence, Finding, ToolResult


class QuestionError(ValueError):
    """A question the copilot cannot act on as asked; the message says what to change."""


class EmptyQuestion(QuestionError):
    """The question is empty or whitespace only."""


class UnknownService(QuestionError):
    """The question names a service that is not in this deployment."""


class BadTimeWindow(QuestionError):
    """The time window is reversed, entirely in the future, zero length or too long."""


@dataclass(frozen=True)
class TimeWindow:
    """A closed interval of tz-aware UTC datetimes and the words that asked for it."""

    start: datetime
    end: datetime
    text: str


@dataclass
class Question:
    text: str
    time: datetime  # when it is asked: "now" for the investigation (tz-aware UTC)
    user: str = "cli"
    channel: str | None = None
    incident: str | None = None
    thread: str | None = None  # Slack thread ts / chat session id, for follow-ups

    def redacted(self) -> Question:
        """This question with its secrets and personal data replaced: what the copilot works
        from, so a token pasted into a question reaches no tool call, evidence or answer."""
        text = redact(self.text)
        return self if text == self.text else replace(self, text=text)


@dataclass
class RootCause:
    service: str
    metric: str | None
    score: float
    reason: str
    evidence: list[str] = field(default_factory=list)
    change: str = ""  # the deploy or config change near the onset that it rests on, if any


@dataclass
class SimilarIncident:
    id: str
    title: str
    score: float
    link: str | None = None
    summary: str = ""


@dataclass
class RunbookSuggestion:
    name: str  # the knowledge-base document id
    score: float
    reason: str = ""
    runbook: str | None = None  # the executable runbook (tools/runbooks) it is, when it is one


@dataclass
class ChartSpec:
    """A series worth plotting; adapters draw it (PNG in Slack, sparkline in the terminal)."""

    title: str
    service: str
    metric: str
    start: int
    end: int
    evidence: str  # the Evidence id whose query produced the series


@dataclass
class ToolCallRecord:
    tool: str
    args: dict[str, Any]
    status: str
    summary: str
    duration_ms: float


@dataclass
class Answer:
    question: str
    intent: str
    summary: str
    findings: list[Finding] = field(default_factory=list)
    root_causes: list[RootCause] = field(default_factory=list)
    similar_incidents: list[SimilarIncident] = field(default_factory=list)
    runbooks: list[RunbookSuggestion] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    charts: list[ChartSpec] = field(default_factory=list)
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    confidence: float = 0.0
    services: list[str] = field(default_factory=list)
    window: tuple[int, int] | None = None
    mode: str = "deterministic"
    latency_ms: float = 0.0

    @property
    def tools(self) -> list[str]:
        return [c.tool for c in self.tool_calls]

    def add_result(self, args: dict[str, Any], result: ToolResult) -> None:
        self.tool_calls.append(ToolCallRecord(result.tool, args, result.status.value,
                                              result.summary, round(result.duration_ms, 1)))
        self.evidence.extend(result.evidence)

    def to_json(self) -> dict[str, Any]:
        """The stable machine-readable shape of `opscopilot ask --json` (keys never removed)."""
        return {
            "answer": self.summary,
            "question": self.question,
            "intent": self.intent,
            "confidence": round(self.confidence, 3),
            "mode": self.mode,
            "services": self.services,
            "window": {"start": self.window[0], "end": self.window[1]} if self.window else None,
            "tools": self.tools,
            "tool_calls": [asdict(c) for c in self.tool_calls],
            "findings": [f.to_dict() for f in self.findings],
            "root_causes": [
                {"service": r.service, "metric": r.metric, "score": round(r.score, 3),
                 "reason": r.reason, "evidence": r.evidence}
                for r in self.root_causes
            ],
            "similar_incidents": [
                {"id": s.id, "title": s.title, "score": round(s.score, 3), "link": s.link}
                for s in self.similar_incidents
            ],
            "runbooks": [{"name": r.name, "score": round(r.score, 3), "reason": r.reason}
                         for r in self.runbooks],
            "evidence": [e.to_dict() for e in self.evidence],
            "charts": [asdict(c) for c in self.charts],
            "latency_ms": round(self.latency_ms, 1),
        }
