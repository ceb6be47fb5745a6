"""LLM mode's copilot: the same `answer(question, conversation) -> Answer` as `Copilot`, with a
model planning the tool calls and writing the summary, and the deterministic answer as fallback.

The findings, evidence, root causes, charts and suggestions come from the tool results through the
same composer as the deterministic mode; only the summary is the model's, checked against the
evidence. Build it with `build_llm_copilot(runtime.copilot, settings)`; `bot.app.apply_mode`
switches a runtime.
"""

from __future__ import annotations

import logging
import time
import weakref
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bot.answer import Answer, Question
from bot.composer import compose
from bot.copilot import Conversation, Copilot
from bot.intents import INTENTS, intent_spec
from bot.llm.agent import AgentLoop, AgentRun
from bot.llm.errors import LLMFailure
from bot.llm.guardrails import SYSTEM_RULES, check_summary, new_nonce, untrusted
from bot.llm.progress import Progress, ProgressEvent, emit
from bot.llm.redaction import Redactor
from bot.llm.toolkit import Toolset
from bot.planner import Plan, ToolCall
from bot.router import Route, Router
from infra import telemetry
from infra.settings import Settings
from infra.tracing import answer_span
from tools.backends import TopologySource
from tools.backends.health import one_answer
from tools.base import ToolRegistry

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

log = logging.getLogger(__name__)
HISTORY_TURNS = 3
_TOOL_INTENT = {i.tools[0]: i.name for i in INTENTS if i.tools}


@dataclass
class LLMAnswer(Answer):
    """An `Answer` with what LLM mode did; `to_json` keeps every key and adds `llm`."""

    llm: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_answer(cls, answer: Answer, **extra: Any) -> LLMAnswer:
        return cls(**{f.name: getattr(answer, f.name) for f in fields(Answer)}, **extra)

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "llm": self.llm}


SYSTEM_PROMPT = """\
You are opscopilot, an assistant for on-call engineers. Investigate the question with the \
read-only tools (several at once when they are independent), then answer in at most eight short \
sentences: what is wrong, since when, the most likely cause and the evidence for it, and which \
runbook a person could consider. Plain text, no tables.

""" + SYSTEM_RULES


class LLMCopilot(Copilot):
    def __init__(self, router: Router, registry: ToolRegistry, topology: TopologySource,
                 settings: Settings, model: BaseChatModel,
                 progress: Progress | None = None) -> None:
        super().__init__(router, registry, topology, settings)
        self.model = model
        self.progress = progress
        self.redactor = Redactor.from_settings(settings.llm)
        self._history: dict[int, list[tuple[str, str]]] = {}
        self._toolset: Toolset | None = None

    def toolset(self) -> Toolset:
        if self._toolset is None:  # a race builds it twice at worst; both are equal
            self._toolset = Toolset.build(self.model, self.registry)
        return self._toolset

    @property
    def deterministic(self) -> Copilot:
        return Copilot(self.router, self.registry, self.topology, self.settings)

    @one_answer
    @answer_span  # its tool calls as child spans (infra/tracing.py)
    def answer(self, question: Question, conversation: Conversation | None = None,
               progress: Progress | None = None) -> LLMAnswer:
        started = time.perf_counter()
        question = question.redacted()
        report = progress or self.progress
        route = self.router.route(question.text, question.time)  # a bad question raises here
        loop: AgentLoop | None = None
        try:
            loop = AgentLoop(self.toolset(), self.registry, self.settings.llm, self.redactor,
                             new_nonce(), report)
            answer = self._answer(question, route, conversation, loop)
        except LLMFailure as exc:
            log.warning("LLM mode fell back to deterministic: %s", exc.detail)
            emit(report, ProgressEvent("fallback", f"falling back: {exc.reason}"))
            base = Copilot.answer(self, question, conversation)
            state = loop.run_state if loop is not None else AgentRun()
            answer = LLMAnswer.from_answer(base, llm=self._report(state, exc))
            answer.mode = "llm-fallback"
            answer.summary = (f"(LLM mode is unavailable for this answer: {exc.reason}. This is "
                              "the deterministic answer.)\n" + base.summary)
        self._remember(conversation, question, answer)
        answer.latency_ms = (time.perf_counter() - started) * 1000
        if answer.mode != "llm-fallback":  # a fallback was counted by Copilot.answer
            telemetry.record_answer(answer.intent, answer.latency_ms / 1000,
                                    [c.status for c in answer.tool_calls])
        return answer

    def _answer(self, question: Question, route: Route, conversation: Conversation | None,
                loop: AgentLoop) -> LLMAnswer:
        now = int(question.time.timestamp())
        ents = route.entities
        if ents.window is not None:
            start, end = int(ents.window.start.timestamp()), min(
                int(ents.window.end.timestamp()), now)
        else:
            start, end = now - 60 * self.settings.router.default_window_minutes, now
        named = list(ents.services) or (list(conversation.services) if conversation else [])
        run = loop.run(SYSTEM_PROMPT.format(nonce=loop.nonce),
                       self._user_message(question, route, named, (start, end), conversation,
                                          loop.nonce))
        return self._fill(question, route, run, named, (start, end), ents.window is not None)

    def _user_message(self, question: Question, route: Route, named: list[str],
                      window: tuple[int, int], conversation: Conversation | None,
                      nonce: str) -> str:
        def iso(t: int) -> str:
            return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")

        now = int(question.time.timestamp())
        lines = [
            f"Now is {now} (unix seconds), {iso(now)}. Tool times are unix seconds.",
            f"Unless the question says otherwise, look at {window[0]} to {window[1]} "
            f"({iso(window[0])} to {iso(window[1])}).",
            f"Services: {', '.join(self.topology.services())}.",
            f"A classifier read the question as '{route.intent}'"
            + (f" about {', '.join(named)}." if named else "."),
        ]
        history = self._history.get(id(conversation), []) if conversation else []
        if history:
            turns = "\n\n".join(f"Q: {q}\nA: {a}" for q, a in history[-HISTORY_TURNS:])
            lines.append("Earlier in this conversation:\n" + untrusted("chat history", turns,
                                                                     nonce))
        lines.append(f"Question from {question.user}: {question.text}")
        return "\n".join(lines)

    def _fill(self, question: Question, route: Route, run: AgentRun, named: list[str],
              window: tuple[int, int], window_given: bool) -> LLMAnswer:
        called = [c.tool for c in run.calls]
        intent = route.intent
        if called and not set(intent_spec(intent).tools) & set(called):
            intent = _TOOL_INTENT.get(called[0], intent)
        starts = [int(c.args["start"]) for c in run.calls if isinstance(c.args.get("start"), int)]
        ends = [int(c.args["end"]) for c in run.calls if isinstance(c.args.get("end"), int)]
        start, end = window
        if not window_given and starts and ends:
            start, end = min(starts), max(ends)
        scope = sorted({s for c in run.calls for s in c.args.get("services") or []
                        if isinstance(s, str)})
        plan = Plan(intent, named, start, end, [ToolCall(c.tool, c.args) for c in run.calls],
                    scope=scope or named)
        base = compose(question.text, intent, route.confidence, plan,
                       [c.result for c in run.calls], self.topology)
        check = check_summary(run.text, base, self.topology.services())
        notes = []
        if check.ungrounded:
            notes.append("(Checked against the evidence: statements with numbers or names not "
                         "found in the tool results were removed.)")
        if check.unsafe:
            notes.append(f"(Removed from the model's text: {' and '.join(check.unsafe)}. Commands "
                         "come only from runbooks a person approves, and the copilot never needs "
                         "your credentials.)")
        if run.unknown:
            notes.append(f"(The model asked for {', '.join(sorted(set(run.unknown)))}, which is "
                         "not a tool here; nothing was run for it.)")
        if run.blocked:
            notes.append(f"(The model asked to run {', '.join(sorted(set(run.blocked)))}, which "
                         "changes systems; it was not run. A person can review and approve a "
                         "runbook instead.)")
        if run.injections:
            sources = ", ".join(s.split(":", 1)[-1] for s in run.injections)
            notes.append(f"(Data from {sources} contained text addressed to the assistant; it "
                         "was treated as data and not followed.)")
        answer = LLMAnswer.from_answer(base, llm=self._report(run, None, check.ungrounded))
        answer.mode = "llm"
        answer.summary = "\n".join([check.text or base.summary, *notes])
        if check.removed:
            answer.confidence *= 0.7
        return answer

    def _report(self, run: AgentRun, failure: LLMFailure | None,
                ungrounded: list[str] | None = None) -> dict[str, Any]:
        llm = self.settings.llm
        return {
            "provider": llm.provider, "model": llm.model, "steps": run.steps,
            "model_calls": run.usage.model_calls, "input_tokens": run.usage.input_tokens,
            "output_tokens": run.usage.output_tokens,
            "cost_usd": round(run.usage.cost_usd(llm), 6),
            "blocked_tools": run.blocked, "unknown_tools": run.unknown,
            "malformed_calls": run.malformed,
            "injection_sources": run.injections, "ungrounded_removed": ungrounded or [],
            "fallback": failure.reason if failure else None,
            "fallback_detail": failure.detail if failure else None,
        }

    def _remember(self, conversation: Conversation | None, question: Question,
                  answer: Answer) -> None:
        if conversation is None:
            return
        key = id(conversation)
        if key not in self._history:
            self._history[key] = []
            weakref.finalize(conversation, self._history.pop, key, None)
        self._history[key].append((question.text, answer.summary[:600]))
        del self._history[key][:-HISTORY_TURNS]
        if answer.mode == "llm":  # the fallback path already updated the conversation
            conversation.turns += 1
            if answer.services:
                conversation.services = list(answer.services)
            if answer.window:
                conversation.window = answer.window


def build_llm_copilot(base: Copilot, settings: Settings, *, model: BaseChatModel | None = None,
                      transport: Any = None, progress: Progress | None = None) -> LLMCopilot:
    """LLM mode over `base`'s router, tools and topology (`base` is a runtime's copilot); the
    provider from settings. Raises `SettingsError` (naming the variable) when the LLM settings
    cannot work."""
    if isinstance(base, LLMCopilot) and model is None and transport is None:
        if progress is not None:
            base.progress = progress
        return base
    if model is None:
        from bot.llm.providers import build_chat_model

        model = build_chat_model(settings.llm, transport)
    return LLMCopilot(base.router, base.registry, base.topology, settings, model, progress)


def answer_with_progress(copilot: Copilot, question: Question,
                         conversation: Conversation | None = None,
                         progress: Progress | None = None) -> Answer:
    """For adapters that show progress (Slack thread updates): LLM mode reports its steps, the
    deterministic mode answers as always (it is fast enough not to need it)."""
    if isinstance(copilot, LLMCopilot):
        return copilot.answer(question, conversation, progress=progress)
    return copilot.answer(question, conversation)
