"""What the MCP server offers, independent of the transport: tools, resources and prompts.

Tools are the registry's read-only tools (their input schema is the tool's own parameter model),
`investigate` (the copilot's Answer) and `request_runbook`, which only files a request that then
waits for approval under the policy (Slack or `opscopilot runbook approve`); nothing that runs
or changes anything is offered. Every output passes `redact_data`, and every call is appended to
the audit log as `settings.mcp.actor`, with its outcome.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, Field, ValidationError

from bot.mcp import prompts, resources
from bot.mcp.prompts import PromptSpec
from bot.mcp.resources import ResourceSpec
from bot.mcp.when import asked_at
from infra.redact import redact, redact_data

if TYPE_CHECKING:
    from bot.app import Runtime
    from infra.audit import AuditLog
    from infra.settings import Settings
    from tools.runbooks.service import RunbookService

log = logging.getLogger(__name__)

INVESTIGATE = "investigate"
REQUEST_RUNBOOK = "request_runbook"
P = TypeVar("P", bound=BaseModel)


class InvestigateParams(BaseModel):
    question: str = Field(min_length=1, description="the on-call question, in plain words")
    scenario: str | None = Field(None, description="sandbox scenario name (default: the "
                                                   "server's)")
    at: str | None = Field(None, description="when it is asked: HH:MM on the data's day, an ISO "
                                             "time or unix seconds (default: now, or the "
                                             "scenario's now)")


class RequestRunbookParams(BaseModel):
    runbook: str = Field(min_length=1, description="runbook name (resource opscopilot://runbooks)")
    params: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="the runbook's parameters, NAME: VALUE")
    reason: str = Field("", description="why it should run, for the approvers")
    incident: str | None = Field(None, description="the incident it is for, e.g. INC-20261120-01")


class ToolCallError(ValueError):
    """A call the client can fix or the policy refuses; the message is one line."""


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    input_schema: dict[str, Any]


@dataclass(frozen=True)
class ToolOutcome:
    data: dict[str, Any]  # redacted
    is_error: bool


class McpService:
    """The copilot's runtimes (one per scenario, one trained router), the runbook service and the
    audit log, behind the calls an MCP server answers. Calls are serialised: the copilot is
    synchronous and one investigation at a time keeps a busy client from starving the machine.
    """

    def __init__(self, settings: Settings, runtime: Runtime, scenario: str | None = None,
                 transport: str = "stdio") -> None:
        """`runtime` serves `scenario` (None: what the settings configure); the runbook service
        and the audit log are opened on first use."""
        self.settings, self.scenario, self.transport = settings, scenario, transport
        self.actor = settings.mcp.actor
        self._runtimes: dict[str | None, Runtime] = {scenario: runtime}
        self._runbooks: RunbookService | None = None
        self._audit: AuditLog | None = None
        self._lock = threading.Lock()

    # -- what is offered
    def tools(self) -> list[ToolSpec]:
        registry = self._runtimes[self.scenario].copilot.registry
        specs = [ToolSpec(t.name, t.description, t.Params.model_json_schema())
                 for t in registry if not t.side_effects]
        specs.append(ToolSpec(
            INVESTIGATE, "Investigate an on-call question the way `opscopilot ask` does: the "
            "answer text, findings, ranked root causes, similar incidents, runbook suggestions "
            "and the evidence with the exact queries behind every number.",
            InvestigateParams.model_json_schema()))
        specs.append(ToolSpec(
            REQUEST_RUNBOOK, "Request a runbook run. This runs nothing: the request is filed "
            "as pending and waits for approval under the runbook policy (Slack or `opscopilot "
            "runbook approve`); the result holds its id, plan and plan hash.",
            RequestRunbookParams.model_json_schema()))
        return specs

    def resources(self) -> list[ResourceSpec]:
        return list(resources.RESOURCES)

    def resource_templates(self) -> list[ResourceSpec]:
        return list(resources.TEMPLATES)

    def prompts(self) -> list[PromptSpec]:
        return list(prompts.PROMPTS)

    # -- calls
    def call(self, name: str, args: dict[str, Any] | None) -> ToolOutcome:
        args = dict(args or {})
        with self._lock:
            try:
                outcome = self._call(name, args)
            except ToolCallError as exc:
                outcome = ToolOutcome({"error": redact(str(exc))}, True)
        status = outcome.data.get("status") or ("error" if outcome.is_error else "ok")
        self._audited("mcp_tool_call", f"mcp:{name}", {"args": args, "status": status,
                                                       **self._error_of(outcome)})
        return outcome

    def read(self, uri: str) -> dict[str, Any] | list[Any]:
        """A resource's content (redacted); `resources.UnknownResource` for a URI we do not
        serve, `ToolCallError` for an unknown incident or runbook."""
        with self._lock:
            try:
                content = resources.read(uri, self.settings, self._runbook_service)
            except resources.NotFound as exc:
                raise ToolCallError(str(exc)) from None
        self._audited("mcp_read", uri, {})
        return redact_data(content)  # type: ignore[no-any-return]

    def prompt(self, name: str, args: dict[str, str] | None) -> tuple[str, str]:
        """(description, the user message) of a prompt; `ToolCallError` for an unknown one."""
        try:
            spec, text = prompts.render(name, dict(args or {}))
        except prompts.PromptError as exc:
            raise ToolCallError(str(exc)) from None
        self._audited("mcp_prompt", f"prompt:{name}", {"args": dict(args or {})})
        return spec.description, redact(text)

    # -- helpers
    def _call(self, name: str, args: dict[str, Any]) -> ToolOutcome:
        if name == INVESTIGATE:
            return ToolOutcome(redact_data(self._investigate(_parsed(InvestigateParams, args))),
                               False)
        if name == REQUEST_RUNBOOK:
            return ToolOutcome(redact_data(self._request(_parsed(RequestRunbookParams, args))),
                               False)
        registry = self._runtimes[self.scenario].copilot.registry
        if name not in registry or registry.get(name).side_effects:
            raise ToolCallError(f"no tool named {name!r}; tools/list shows the tools")
        result = registry.run(name, args)
        data = {"tool": result.tool, "status": result.status.value, "summary": result.summary,
                "findings": [f.to_dict() for f in result.findings],
                "evidence": [e.to_dict() for e in result.evidence], "data": result.data,
                "duration_ms": round(result.duration_ms, 1)}
        return ToolOutcome(redact_data(data), result.status.value == "error")

    def runtime(self, scenario: str | None) -> Runtime:
        """The runtime of `scenario`, built once and sharing the first runtime's router."""
        from bot.app import build_runtime
        from infra.settings import SettingsError
        from tools.sandbox.scenario import ScenarioError

        if scenario not in self._runtimes:
            first = self._runtimes[self.scenario]
            try:
                self._runtimes[scenario] = build_runtime(self.settings, scenario,
                                                         router=first.copilot.router)
            except (ScenarioError, SettingsError) as exc:
                raise ToolCallError(str(exc)) from None
        return self._runtimes[scenario]

    def _investigate(self, params: InvestigateParams) -> dict[str, Any]:
        from bot.answer import Question, QuestionError
        from bot.answer_log import log_answer

        scenario = params.scenario or self.scenario
        runtime = self.runtime(scenario)
        try:
            asked = Question(params.question, asked_at(params.at, runtime), user=self.actor)
            answer = runtime.copilot.answer(asked)
        except QuestionError as exc:
            raise ToolCallError(str(exc)) from None
        log_answer(self.settings, asked, answer, source="mcp", context=scenario)
        return answer.to_json()

    def _request(self, params: RequestRunbookParams) -> dict[str, Any]:
        from tools.runbooks.errors import RunbookError

        try:
            view = self._runbook_service().request(
                self.actor, params.runbook, {k: str(v) for k, v in params.params.items()},
                params.reason, params.incident)
        except RunbookError as exc:
            raise ToolCallError(str(exc)) from None
        return view.to_dict()

    def _runbook_service(self) -> RunbookService:
        if self._runbooks is None:
            from tools.runbooks.build import build_service

            self._runbooks = build_service(self.settings, scenario=self.scenario)
        return self._runbooks

    def _audited(self, action: str, subject: str, details: dict[str, Any]) -> None:
        if self._audit is None:
            from infra.audit import AuditLog

            self._audit = AuditLog.from_settings(self.settings)
        self._audit.append(self.actor, action, subject,
                           {**details, "transport": self.transport})

    @staticmethod
    def _error_of(outcome: ToolOutcome) -> dict[str, Any]:
        if not outcome.is_error:
            return {}
        return {"error": str(outcome.data.get("error") or outcome.data.get("summary", ""))[:300]}


def _parsed(model: type[P], args: dict[str, Any]) -> P:
    try:
        return model.model_validate(args)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}"
                             for e in exc.errors())
        raise ToolCallError(f"bad arguments: {problems}") from None
