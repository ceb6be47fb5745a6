"""The bounded tool-calling loop: the model asks for tools, the registry runs them, until the model
writes its answer or a bound is hit.

Bounds: `max_steps` model calls, `timeout_s` per model call, `tool_timeout_s` per tool call,
`answer_timeout_s` for everything, an estimated prompt size (`max_context_tokens`), and
`max_malformed` rounds of tool calls that could not be run. Several calls in one reply run in
parallel. Everything sent to the provider passes the redactor first; every tool result reaches the
model as untrusted data. Hitting a bound or a provider error raises an `LLMFailure`.
"""

from __future__ import annotations

import contextvars
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from bot.llm.errors import (
    ContextOverflow,
    LLMFailure,
    MalformedToolCalls,
    ProviderError,
    ProviderTimeout,
    StepLimit,
    classify,
)
from bot.llm.guardrails import looks_like_instructions, untrusted
from bot.llm.progress import Progress, ProgressEvent, emit
from bot.llm.redaction import Redactor
from bot.llm.toolkit import Toolset, render_result
from infra.settings import LLMSettings
from tools.base import ToolRegistry, ToolResult, ToolStatus

if TYPE_CHECKING:
    from langchain_core.messages import AIMessage, BaseMessage

log = logging.getLogger(__name__)
T = TypeVar("T")
CHARS_PER_TOKEN = 4  # a conservative estimate across tokenizers; no tokenizer download needed


def call_with_timeout(fn: Callable[[], T], timeout_s: float, name: str = "call") -> T:
    """Run `fn` in a daemon thread and wait at most `timeout_s`: a hung provider or backend
    cannot hang the answer (the thread is abandoned, and dies with the process)."""
    box: dict[str, Any] = {}
    done = threading.Event()

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller below, re-raised there
            box["error"] = exc
        finally:
            done.set()

    # The answer's context (its memory of failed backends) goes with the call.
    threading.Thread(target=contextvars.copy_context().run, args=(target,), name=f"llm-{name}",
                     daemon=True).start()
    if not done.wait(max(timeout_s, 0.0)):
        raise TimeoutError(f"{name} took longer than {timeout_s:.1f} s")
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


@dataclass
class Usage:
    model_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0

    def add(self, message: AIMessage) -> None:
        self.model_calls += 1
        meta: dict[str, Any] = dict(message.usage_metadata or {})
        self.input_tokens += int(meta.get("input_tokens", 0))
        self.output_tokens += int(meta.get("output_tokens", 0))

    def cost_usd(self, llm: LLMSettings) -> float:
        return (self.input_tokens * llm.price_input_per_mtok
                + self.output_tokens * llm.price_output_per_mtok) / 1e6


@dataclass
class ExecutedCall:
    tool: str
    args: dict[str, Any]
    result: ToolResult


@dataclass
class AgentRun:
    text: str = ""
    calls: list[ExecutedCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    steps: int = 0
    blocked: list[str] = field(default_factory=list)  # side-effecting tools the model asked for
    malformed: list[str] = field(default_factory=list)  # why calls could not be run
    unknown: list[str] = field(default_factory=list)  # names it called that are no tool here
    injections: list[str] = field(default_factory=list)  # data sources that addressed the model


class AgentLoop:
    """One answer's loop; `run` leaves what it did in `self.run_state` even when it fails."""

    def __init__(self, toolset: Toolset, registry: ToolRegistry, llm: LLMSettings,
                 redactor: Redactor, nonce: str, progress: Progress | None = None) -> None:
        self.registry = registry
        self.llm = llm
        self.redactor = redactor
        self.nonce = nonce
        self.progress = progress
        self.names = toolset.names
        self.bound = toolset.bound
        self.schema_chars = toolset.schema_chars
        self.run_state = AgentRun()

    def run(self, system: str, user: str) -> AgentRun:
        from langchain_core.messages import HumanMessage, SystemMessage

        state = self.run_state
        deadline = time.monotonic() + self.llm.answer_timeout_s
        messages: list[BaseMessage] = [SystemMessage(system), HumanMessage(user)]
        seen: dict[str, ToolResult] = {}
        bad_rounds = 0
        for step in range(1, self.llm.max_steps + 1):
            state.steps = step
            emit(self.progress, ProgressEvent("model", f"step {step}: asking the model", step))
            reply = self._ask(messages, deadline)
            state.usage.add(reply)
            messages.append(reply)
            if not reply.tool_calls and not reply.invalid_tool_calls:
                state.text = reply.text.strip()
                if not state.text:
                    raise ProviderError("the model returned an empty answer")
                emit(self.progress, ProgressEvent("answer", "writing the answer", step))
                return state
            ran = self._tool_round(reply, messages, seen, deadline, step)
            bad_rounds = 0 if ran else bad_rounds + 1
            if bad_rounds >= self.llm.max_malformed:
                raise MalformedToolCalls("; ".join(state.malformed[-3:]))
        raise StepLimit(f"no answer after {self.llm.max_steps} model calls")

    def _ask(self, messages: list[BaseMessage], deadline: float) -> AIMessage:
        outgoing = self.redactor.messages(messages)  # the one place prompts leave the process
        chars = self.schema_chars + sum(len(str(m.content)) + len(str(getattr(m, "tool_calls", "")))
                                        for m in outgoing)
        if chars / CHARS_PER_TOKEN > self.llm.max_context_tokens:
            raise ContextOverflow(f"about {chars // CHARS_PER_TOKEN} tokens, limit "
                                  f"{self.llm.max_context_tokens}")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ProviderTimeout("the answer's time budget is spent")
        try:
            reply = call_with_timeout(lambda: self.bound.invoke(outgoing),
                                      min(self.llm.timeout_s, remaining), "model")
        except LLMFailure:
            raise
        except Exception as exc:  # the provider edge: every client error becomes a fallback
            failure = classify(exc)
            log.warning("model call failed: %s", failure.detail)
            raise failure from exc
        return reply  # type: ignore[no-any-return]

    def _tool_round(self, reply: AIMessage, messages: list[BaseMessage],
                    seen: dict[str, ToolResult], deadline: float, step: int) -> int:
        """Answer every call in `reply` with a ToolMessage; return how many tools really ran."""
        from langchain_core.messages import ToolMessage

        state = self.run_state
        answers: dict[str, str] = {}
        to_run: list[tuple[str, str, dict[str, Any]]] = []
        for bad in reply.invalid_tool_calls:
            why = f"{bad.get('name') or 'a tool'}: arguments are not valid JSON"
            state.malformed.append(why)
            answers[bad.get("id") or ""] = f"error: {why}; send a JSON object matching the schema"
        for call in reply.tool_calls:
            name, cid, args = call["name"], call.get("id") or "", dict(call["args"])
            if name in self.registry and name not in self.names:
                state.blocked.append(name)
                emit(self.progress, ProgressEvent("blocked", f"refused {name}: it changes "
                                                  "systems and needs a person's approval",
                                                  step, name))
                answers[cid] = (f"refused: {name} changes systems and is not available to you. "
                                "You may suggest it in your answer for a person to approve.")
            elif name not in self.names:
                state.malformed.append(f"unknown tool {name!r}")
                state.unknown.append(name)
                answers[cid] = (f"error: there is no tool named {name!r}; the tools are "
                                f"{', '.join(sorted(self.names))}")
            else:
                to_run.append((cid, name, args))
        results = self._run_parallel(to_run, seen, deadline, step)
        ran = 0
        for (cid, name, args), (result, fresh) in zip(to_run, results, strict=True):
            if result.status is ToolStatus.ERROR and "got bad arguments" in result.summary:
                state.malformed.append(result.summary)
            else:
                ran += 1
                if fresh:
                    state.calls.append(ExecutedCall(name, args, result))
            text = render_result(result)
            if looks_like_instructions(text) and f"tool:{name}" not in state.injections:
                state.injections.append(f"tool:{name}")
            answers[cid] = untrusted(f"tool:{name}", text, self.nonce)
        ids = [c.get("id") or "" for c in reply.invalid_tool_calls] + \
              [c.get("id") or "" for c in reply.tool_calls]
        for cid in ids:
            messages.append(ToolMessage(answers[cid], tool_call_id=cid))
        return ran

    def _run_parallel(self, calls: list[tuple[str, str, dict[str, Any]]],
                      seen: dict[str, ToolResult], deadline: float,
                      step: int) -> list[tuple[ToolResult, bool]]:
        """Run the calls at once, each within tool_timeout_s; repeats reuse the first result."""
        out: list[tuple[ToolResult, bool] | None] = [None] * len(calls)
        threads: list[tuple[int, str, threading.Thread, dict[str, Any]]] = []
        tool_deadline = min(time.monotonic() + self.llm.tool_timeout_s, deadline)
        for i, (_, name, args) in enumerate(calls):
            key = f"{name} {json.dumps(args, sort_keys=True, default=str)}"
            if key in seen:
                out[i] = (seen[key], False)
                continue
            emit(self.progress, ProgressEvent("tool", f"running {name}", step, name))
            box: dict[str, Any] = {"key": key}
            thread = threading.Thread(target=contextvars.copy_context().run,  # the answer's
                                      args=(self._run_one, name, args, box),  # backend memory
                                      name=f"llm-tool-{name}", daemon=True)
            thread.start()
            threads.append((i, name, thread, box))
        for i, name, thread, box in threads:
            thread.join(max(0.0, tool_deadline - time.monotonic()))
            result = box.get("result")
            if result is None:
                result = ToolResult(name, ToolStatus.ERROR,
                                    f"{name} did not answer within {self.llm.tool_timeout_s:g} s")
            seen[box["key"]] = result
            out[i] = (result, True)
            emit(self.progress, ProgressEvent("tool_done", f"{name}: {result.status.value}",
                                              step, name))
        return [r for r in out if r is not None]

    def _run_one(self, name: str, args: dict[str, Any], box: dict[str, Any]) -> None:
        try:
            box["result"] = self.registry.run(name, args)
        except Exception as exc:  # a bug in a tool: logged, and the model is told it failed
            log.exception("tool %s raised", name)
            box["result"] = ToolResult(name, ToolStatus.ERROR, f"{name} failed: {exc}")
