"""The registry's tools as LangChain tools, and tool results as text for the model.

Each tool's pydantic `Params` is its schema (written once, in the tool); LangChain turns it into
each provider's tool format. Only tools without side effects are converted (guardrails). The tool
functions go through `ToolRegistry.run`, so arguments are validated the same way as in the
deterministic mode, and the `ToolResult` travels along as the message's artifact.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.llm.guardrails import exposed_tools
from tools.base import Tool, ToolRegistry, ToolResult

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.runnables import Runnable
    from langchain_core.tools import BaseTool

MAX_FINDINGS = 12
MAX_EVIDENCE = 12


def langchain_tools(registry: ToolRegistry) -> list[BaseTool]:
    """One StructuredTool per read-only tool: name, description and JSON Schema from the tool."""
    from langchain_core.tools import StructuredTool

    def make(tool: Tool) -> BaseTool:
        def run(**kwargs: Any) -> tuple[str, ToolResult]:
            result = registry.run(tool.name, kwargs)
            return render_result(result), result

        return StructuredTool.from_function(
            func=run, name=tool.name, description=tool.description, args_schema=tool.Params,
            response_format="content_and_artifact")

    return [make(t) for t in exposed_tools(registry)]


@dataclass(frozen=True)
class Toolset:
    """The model with the tools bound, built once per copilot (converting the schemas costs tens
    of milliseconds per tool; the registry does not change while the process runs)."""

    tools: list[BaseTool]
    names: frozenset[str]
    bound: Runnable[Any, Any]
    schema_chars: int  # size of the tool definitions in the prompt, for the context estimate

    @classmethod
    def build(cls, model: BaseChatModel, registry: ToolRegistry) -> Toolset:
        from langchain_core.utils.function_calling import convert_to_openai_tool

        tools = langchain_tools(registry)
        specs = [convert_to_openai_tool(t) for t in tools]
        return cls(tools, frozenset(t.name for t in tools), model.bind_tools(specs),
                   len(json.dumps(specs)))


def render_result(result: ToolResult, max_chars: int = 6000) -> str:
    """A compact, readable account of a tool result: status, summary, findings and the evidence
    ids and values they rest on. Truncated to `max_chars` so one tool cannot fill the context."""
    lines = [f"status: {result.status.value}", f"summary: {result.summary}"]
    if result.findings:
        lines.append("findings:")
        for f in result.findings[:MAX_FINDINGS]:
            refs = f" [evidence {', '.join(f.evidence)}]" if f.evidence else ""
            lines.append(f"- ({f.kind}, {f.service}) {f.text}{refs}")
        if len(result.findings) > MAX_FINDINGS:
            lines.append(f"- ... {len(result.findings) - MAX_FINDINGS} more findings")
    if result.evidence:
        lines.append("evidence:")
        for ev in result.evidence[:MAX_EVIDENCE]:
            values = json.dumps(ev.values, default=str, ensure_ascii=False)
            lines.append(f"- {ev.id} ({ev.source}) {ev.summary}; values {values}")
        if len(result.evidence) > MAX_EVIDENCE:
            lines.append(f"- ... {len(result.evidence) - MAX_EVIDENCE} more evidence items")
    text = "\n".join(lines)
    if len(text) > max_chars:
        text = text[:max_chars] + "\n... (truncated)"
    return text
