"""The one seam every tool sits behind: typed parameters in, a `ToolResult` out.

Expected outcomes (no data, a backend that is down, an action that needs approval) are returned
as a `ToolResult` whose status the answer can explain; only bugs raise. The parameter schema of a
tool is its pydantic model, written once and used by the router's planner, the LLM mode and docs.

Errors a backend may raise, caught by `ToolRegistry.run` and turned into results:

    BackendError            a backend could not answer (down, timeout, bad reply)
     +-- BackendTimeout     it did not answer within its timeout
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ValidationError

from infra import telemetry

log = logging.getLogger(__name__)


class BackendError(Exception):
    """A backend could not answer; the message says which one and why, in one line."""


class BackendTimeout(BackendError):
    """A backend did not answer in time."""


class ToolStatus(StrEnum):
    OK = "ok"
    NO_DATA = "no_data"
    ERROR = "error"
    NEEDS_APPROVAL = "needs_approval"


@dataclass
class Evidence:
    """What was asked of which system, and what it said: the ground every claim stands on.

    `query` is the exact query or call (PromQL, LogQL, a sandbox call) so a person can re-run it.
    `values` holds every number the answer may quote from this evidence, already rounded the way
    the answer prints them.
    """

    id: str
    tool: str
    source: str  # the backend: "sandbox", "prometheus", ...
    query: str
    summary: str
    values: dict[str, Any] = field(default_factory=dict)
    link: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Finding:
    """One thing worth an on-call engineer's attention, with the numbers that show it."""

    kind: str  # "metric_anomaly", "log_errors", "change", "alert", "metric_value"
    service: str
    text: str  # one grounded sentence
    score: float  # 0..1, how anomalous / important
    metric: str | None = None
    value: float | None = None
    baseline: float | None = None
    unit: str = ""
    since: int | None = None  # unix seconds when it started, when known
    evidence: list[str] = field(default_factory=list)  # Evidence ids
    # What the finding is about, in its own words, for code that reuses it (never parse `text`):
    # a change's description, an alert's name, a log finding's template, a root cause's reasons.
    detail: str = ""
    change: str = ""  # a root cause's deploy or config change near the onset, when it has one

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ToolResult:
    tool: str
    status: ToolStatus
    summary: str  # one line a person can read
    findings: list[Finding] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    duration_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status is ToolStatus.OK


class Tool(Protocol):
    """A capability the copilot can call. `side_effects` tools are never run without approval."""

    name: ClassVar[str]
    description: ClassVar[str]
    Params: ClassVar[type[BaseModel]]
    side_effects: ClassVar[bool]

    def run(self, params: Any) -> ToolResult: ...


class UnknownTool(KeyError):
    pass


class ToolRegistry:
    """An explicit registry built at start-up; tests register fakes the same way."""

    def __init__(self) -> None:
        self._tools: dict[str, Tool] = {}

    def register(self, tool: Tool) -> Tool:
        if tool.name in self._tools:
            raise ValueError(f"tool {tool.name!r} is registered twice")
        self._tools[tool.name] = tool
        return tool

    def get(self, name: str) -> Tool:
        try:
            return self._tools[name]
        except KeyError:
            raise UnknownTool(f"no tool named {name!r}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self) -> Iterator[Tool]:
        return iter(self._tools.values())

    def names(self) -> list[str]:
        return list(self._tools)

    def schemas(self) -> list[dict[str, Any]]:
        """Name, description and JSON Schema of each tool's parameters."""
        return [
            {
                "name": t.name,
                "description": t.description,
                "parameters": t.Params.model_json_schema(),
                "side_effects": t.side_effects,
            }
            for t in self
        ]

    def run(self, name: str, args: Mapping[str, Any]) -> ToolResult:
        """Validate `args` against the tool's schema and run it. Backend faults, and any other
        exception a tool raises (a library's internal error, a bug), become an error result with
        one line, so the answer goes on with the other tools; the traceback goes to the log."""
        tool = self.get(name)
        started = time.perf_counter()
        try:
            params = tool.Params.model_validate(dict(args))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}"
                for e in exc.errors()
            )
            result = ToolResult(name, ToolStatus.ERROR, f"{name} got bad arguments: {problems}")
        else:
            try:
                result = tool.run(params)
            except BackendError as exc:
                log.warning("tool %s: backend error: %s", name, exc)
                result = ToolResult(name, ToolStatus.ERROR, str(exc))
            except Exception as exc:  # noqa: BLE001 - a bug or a library's fault: the answer goes on
                log.exception("tool %s failed", name)
                detail = " ".join(str(exc).split())[:200] or "no message"
                result = ToolResult(name, ToolStatus.ERROR,
                                    f"{name} failed: {type(exc).__name__}: {detail} (logged)")
        result.duration_ms = (time.perf_counter() - started) * 1000
        telemetry.record_tool(name, result.status.value, result.duration_ms / 1000,
                              str(getattr(getattr(tool, "backend", None), "source", "")))
        return result
