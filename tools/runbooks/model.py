"""The executable runbook format: pydantic models, the one source of the JSON Schema.

A runbook is YAML: what it is for (`when`), typed `parameters`, a `risk`, `steps`, a
`verification` and a `rollback`. Step kinds: `http` (through httpx), `command` (an argv list,
never a shell string; a parameter fills a whole argv item), `promql_check` (wait until a condition
holds or time out), `pause_for_approval` and `notify`. `python -m tools.runbooks.schema` writes
docs/runbook.schema.json from these models.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NAME = r"^[a-z][a-z0-9-]{1,62}$"
PARAM_NAME = r"^[a-z][a-z0-9_]{0,31}$"
PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]{0,31})\}")
WHOLE_PLACEHOLDER = re.compile(r"^\{([a-z][a-z0-9_]{0,31})\}$")
Risk = Literal["read-only", "low", "high"]
RISK_ORDER: dict[str, int] = {"read-only": 0, "low": 1, "high": 2}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Parameter(_Strict):
    """One typed input. Strings always pass a safety baseline (printable ASCII, no leading '-',
    no '..', no whitespace, at most `max_length`) before their own `pattern`."""

    type: Literal["string", "int", "bool", "path"] = "string"
    description: str = ""
    pattern: str | None = Field(None, description="regular expression the whole value matches")
    enum: list[str | int] | None = None
    default: str | int | bool | None = None
    minimum: int | None = None
    maximum: int | None = None
    max_length: int = Field(63, ge=1, le=253)
    allowed_prefixes: list[str] = Field(
        default_factory=list,
        description="path parameters: absolute prefixes the value must be under")
    from_context: str | None = Field(
        None, description="incident-context key that fills this parameter in a proposal "
                          "(service, namespace, node, certificate, flag, release, ...)")

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            re.compile(value)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Parameter:
        if self.type == "path" and not self.allowed_prefixes:
            raise ValueError("a path parameter needs allowed_prefixes")
        if self.type == "string" and self.pattern is None and self.enum is None:
            raise ValueError("a string parameter needs a pattern or an enum")
        return self


class When(_Strict):
    """What the runbook is for; proposals rank on these."""

    fault_kinds: list[str] = Field(default_factory=list)
    alerts: list[str] = Field(default_factory=list)
    symptoms: list[str] = Field(default_factory=list,
                                description="metric names (cpu, memory, ...) or short phrases")
    services: list[str] = Field(default_factory=list, description="empty: any service")
    keywords: list[str] = Field(default_factory=list)
    kb_ids: list[str] = Field(default_factory=list,
                              description="prose runbooks in the knowledge base it implements")


class _Step(_Strict):
    name: str = Field(min_length=1, max_length=120)
    timeout_s: float = Field(60.0, gt=0, le=3600)


class CommandStep(_Step):
    kind: Literal["command"]
    argv: list[str] = Field(min_length=1, description="argv items; '{param}' fills a whole item")
    read_only: bool = False

    @field_validator("argv")
    @classmethod
    def _whole_items(cls, argv: list[str]) -> list[str]:
        for item in argv:
            if ("{" in item or "}" in item) and not WHOLE_PLACEHOLDER.match(item):
                raise ValueError(f"argv item {item!r}: a parameter must fill a whole argv item "
                                 "(write '{name}' alone)")
        if WHOLE_PLACEHOLDER.match(argv[0]):
            raise ValueError("argv[0] (the program) cannot be a parameter")
        return argv


class HttpStep(_Step):
    kind: Literal["http"]
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    url: str = Field(pattern=r"^https?://[^\s{}]*(\{[a-z][a-z0-9_]*\}[^\s{}]*)*$")
    json_body: dict[str, Any] | None = Field(None, alias="json")
    expect_status: list[int] = Field(default_factory=lambda: [200, 201, 202, 204])
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @property
    def read_only(self) -> bool:
        return self.method in ("GET", "HEAD")


class PromqlCheckStep(_Step):
    kind: Literal["promql_check"]
    query: str = Field(min_length=1, description="PromQL; '{param}' is filled with the value")
    op: Literal["<", "<=", ">", ">=", "=="]
    threshold: float | Annotated[str, Field(pattern=r"^\{[a-z][a-z0-9_]{0,31}\}$")] = Field(
        description="a number, or '{param}' naming an int parameter")
    hold_s: float = Field(0.0, ge=0, le=3600, description="the condition must hold this long")
    interval_s: float = Field(15.0, gt=0, le=300)
    timeout_s: float = Field(300.0, gt=0, le=3600)
    read_only: bool = True


class PauseStep(_Step):
    kind: Literal["pause_for_approval"]
    message: str = ""
    read_only: bool = True


class NotifyStep(_Step):
    kind: Literal["notify"]
    message: str = Field(min_length=1)
    read_only: bool = True


Step = Annotated[CommandStep | HttpStep | PromqlCheckStep | PauseStep | NotifyStep,
                 Field(discriminator="kind")]


class Runbook(_Strict):
    """One executable runbook (the YAML file's top level)."""

    name: str = Field(pattern=NAME)
    version: int = Field(1, ge=1)
    title: str = Field(min_length=1, max_length=120)
    description: str = Field(min_length=1)
    when: When = When()
    parameters: dict[Annotated[str, Field(pattern=PARAM_NAME)], Parameter] = Field(
        default_factory=dict)
    risk: Risk
    steps: list[Step] = Field(min_length=1)
    verification: list[Step] = Field(default_factory=list)
    rollback: list[Step] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Runbook:
        for section in ("steps", "verification", "rollback"):
            for i, step in enumerate(getattr(self, section)):
                for name in placeholders(step):
                    if name not in self.parameters:
                        raise ValueError(f"{section}[{i}] ({step.name}) uses {{{name}}}, "
                                         "which is not a declared parameter")
                if self.risk == "read-only" and section != "rollback" and not step.read_only:
                    raise ValueError(f"{section}[{i}] ({step.name}) changes something but the "
                                     "runbook's risk is read-only (mark the risk low or high)")
        return self


def placeholders(step: BaseModel) -> set[str]:
    """Parameter names a step refers to."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, str):
            found.update(PLACEHOLDER.findall(value))
        elif isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)

    for field in ("argv", "url", "json_body", "query", "message", "threshold"):
        walk(getattr(step, field, None))
    return found
