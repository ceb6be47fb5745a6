"""Fixtures for the LLM-mode tests: a fast sandbox runtime (model-free router embeddings) and
copilots whose model is a scripted provider replayed through httpx.MockTransport."""

from __future__ import annotations

from functools import cache
from typing import Any, ClassVar

from pydantic import BaseModel, Field

from bot.answer import Question
from bot.llm.copilot import LLMCopilot, build_llm_copilot
from bot.llm.progress import ProgressLog
from bot.llm.replay import ScriptedProvider
from infra.settings import LLMSettings, Settings, load_settings
from tools.base import Evidence, Finding, ToolResult, ToolStatus

SCENARIO = "bad-deploy-checkout"


@cache
def fast_runtime(scenario: str = SCENARIO) -> Any:
    """The real sandbox, tools and composer; the router on hashing embeddings (no model load)."""
    from bot.app import build_runtime
    from bot.router import Router
    from knowledge.hashing import HashingEmbedder

    settings = load_settings(kb={"model": "hashing-384"})
    return build_runtime(settings, scenario, router=Router(HashingEmbedder(), [], cache_dir=None))


def llm_settings(provider: str = "openai", **llm: Any) -> Settings:
    base: dict[str, Any] = {"provider": provider, "model": "scripted-model", "api_key": "sk-test",
                            "timeout_s": 5.0, "answer_timeout_s": 20.0, "tool_timeout_s": 5.0}
    if provider == "openai":
        base["base_url"] = "http://llm.test/v1"
    base.update(llm)
    return load_settings(kb={"model": "hashing-384"}, llm=LLMSettings(**base))


def scripted_copilot(script: list, provider: str = "openai", runtime: Any = None,
                     repeat_last: bool = False, **llm: Any
                     ) -> tuple[LLMCopilot, ScriptedProvider, ProgressLog]:
    runtime = runtime or fast_runtime()
    provider_double = ScriptedProvider(provider, script, repeat_last=repeat_last)
    progress = ProgressLog()
    copilot = build_llm_copilot(runtime.copilot, llm_settings(provider, **llm),
                                transport=provider_double.transport(), progress=progress)
    return copilot, provider_double, progress


def ask(copilot: LLMCopilot, runtime: Any, text: str, conversation: Any = None) -> Any:
    return copilot.answer(Question(text, runtime.default_now()), conversation)


def window(runtime: Any, minutes: int = 30) -> dict[str, int]:
    now = int(runtime.default_now().timestamp())
    return {"start": now - minutes * 60, "end": now}


class NoteParams(BaseModel):
    services: list[str] = Field(default_factory=list)


class PlantedLogs:
    """A read-only tool whose output carries whatever text a test plants (injections, secrets)."""

    name: ClassVar[str] = "planted_logs"
    description: ClassVar[str] = "Recent log lines of a service."
    Params: ClassVar[type[BaseModel]] = NoteParams
    side_effects: ClassVar[bool] = False

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines

    def run(self, params: Any) -> ToolResult:
        text = "\n".join(self.lines)
        ev = Evidence("E-planted", self.name, "test", "planted_logs()", text,
                      {"count": len(self.lines)})
        return ToolResult(self.name, ToolStatus.OK, f"{len(self.lines)} log lines",
                          [Finding("log_errors", "checkout", f"{len(self.lines)} log lines",
                                   0.4, evidence=[ev.id])], [ev])


class RestartParams(BaseModel):
    service: str


class RestartService:
    """A side-effecting tool: it must never be exposed to the model nor run by it."""

    name: ClassVar[str] = "restart_service"
    description: ClassVar[str] = "Restart a service."
    Params: ClassVar[type[BaseModel]] = RestartParams
    side_effects: ClassVar[bool] = True

    def __init__(self) -> None:
        self.runs: list[str] = []

    def run(self, params: Any) -> ToolResult:
        self.runs.append(params.service)
        return ToolResult(self.name, ToolStatus.OK, f"restarted {params.service}")
