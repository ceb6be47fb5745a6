"""A runbook plus checked parameter values rendered into a `Plan`: every command and request
exactly as it will run, and the plan's hash that approvals are bound to.

Rendering never builds a shell string: a `{param}` argv item becomes exactly one argv item, a URL
placeholder is percent-encoded as one path segment, a JSON value `"{param}"` becomes the typed
value. `shlex.join` is used only to *show* a command.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import quote

from tools.runbooks.model import PLACEHOLDER, WHOLE_PLACEHOLDER, Runbook
from tools.runbooks.params import resolve_params

Value = str | int | bool
SECTIONS = ("steps", "verification", "rollback")


@dataclass(frozen=True)
class RenderedStep:
    section: str
    index: int
    name: str
    kind: str
    read_only: bool
    timeout_s: float
    argv: list[str] | None = None
    method: str | None = None
    url: str | None = None
    json: Any = None
    expect_status: list[int] | None = None
    query: str | None = None
    op: str | None = None
    threshold: float | None = None
    hold_s: float | None = None
    interval_s: float | None = None
    message: str | None = None

    def display(self) -> str:
        """The step as a person reads it in a plan."""
        if self.kind == "command":
            return "$ " + shlex.join(self.argv or [])
        if self.kind == "http":
            body = f" {json.dumps(self.json, sort_keys=True)}" if self.json is not None else ""
            return f"{self.method} {self.url}{body}"
        if self.kind == "promql_check":
            hold = f" for {self.hold_s:g}s" if self.hold_s else ""
            return (f"wait until {self.query} {self.op} {self.threshold:g}{hold} "
                    f"(timeout {self.timeout_s:g}s)")
        if self.kind == "pause_for_approval":
            return f"pause for approval: {self.message or self.name}"
        return f"notify: {self.message}"


@dataclass(frozen=True)
class Plan:
    runbook: str
    version: int
    title: str
    risk: str
    target: str
    params: dict[str, Value]
    steps: list[RenderedStep]
    verification: list[RenderedStep]
    rollback: list[RenderedStep]
    hash: str = field(default="")

    def section(self, name: str) -> list[RenderedStep]:
        return list(getattr(self, name))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plan:
        d = dict(data)
        for s in SECTIONS:
            d[s] = [RenderedStep(**x) for x in d[s]]
        return cls(**d)

    def pauses(self) -> int:
        return sum(1 for s in self.steps if s.kind == "pause_for_approval")


def plan_hash(plan_dict: Mapping[str, Any]) -> str:
    body = {k: v for k, v in plan_dict.items() if k != "hash"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def _fill_text(text: str, values: Mapping[str, Value], encode: bool = False) -> str:
    def sub(m: Any) -> str:
        value = str(values[m.group(1)]).lower() if isinstance(values[m.group(1)], bool) \
            else str(values[m.group(1)])
        return quote(value, safe="") if encode else value
    return PLACEHOLDER.sub(sub, text)


def _fill_json(value: Any, values: Mapping[str, Value]) -> Any:
    if isinstance(value, str):
        whole = WHOLE_PLACEHOLDER.match(value)
        return values[whole.group(1)] if whole else _fill_text(value, values)
    if isinstance(value, list):
        return [_fill_json(v, values) for v in value]
    if isinstance(value, dict):
        return {k: _fill_json(v, values) for k, v in value.items()}
    return value


def _render_step(section: str, index: int, step: Any, values: Mapping[str, Value]) -> RenderedStep:
    common = {"section": section, "index": index, "name": step.name, "kind": step.kind,
              "read_only": bool(step.read_only), "timeout_s": float(step.timeout_s)}
    if step.kind == "command":
        argv = [str(values[m.group(1)]) if (m := WHOLE_PLACEHOLDER.match(a)) else a
                for a in step.argv]
        return RenderedStep(**common, argv=argv)
    if step.kind == "http":
        return RenderedStep(**common, method=step.method, url=_fill_text(step.url, values, True),
                            json=_fill_json(step.json_body, values),
                            expect_status=list(step.expect_status))
    if step.kind == "promql_check":
        return RenderedStep(**common, query=_fill_text(step.query, values), op=step.op,
                            threshold=float(values[step.threshold[1:-1]]
                                                  if isinstance(step.threshold, str)
                                                  else step.threshold), hold_s=float(step.hold_s),
                            interval_s=float(step.interval_s))
    return RenderedStep(**common, message=_fill_text(getattr(step, "message", ""), values))


def render_plan(runbook: Runbook, given: Mapping[str, Any], target: str) -> Plan:
    """Check `given` against the runbook's parameters and render every step (raises
    ParameterError before anything is rendered)."""
    values = resolve_params(runbook, given)
    sections = {s: [_render_step(s, i, step, values)
                    for i, step in enumerate(getattr(runbook, s))] for s in SECTIONS}
    plan = Plan(runbook.name, runbook.version, runbook.title, runbook.risk, target, values,
                sections["steps"], sections["verification"], sections["rollback"])
    return Plan(**{**plan.__dict__, "hash": plan_hash(plan.to_dict())})
