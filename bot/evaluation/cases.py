"""Eval cases as folders: `evals/cases/<id>/case.yaml`, validated on load.

A case says what is asked (question, sandbox scenario, the time, earlier questions in the same
thread) and what a good answer has (intent, tools, services, facts with tolerances, root cause,
similar incidents, runbooks, text that must not appear, whether it must refuse). Every problem in
a case file is a one-line `CaseError` naming the file and the field.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tools.formatting import yaml_problem

EVALS_DIR = Path(__file__).resolve().parents[2] / "evals"  # the eval data: cases and baseline
CASES_DIR = EVALS_DIR / "cases"


class CaseError(ValueError):
    """A case file that cannot be used; the message names the file and what to fix."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NumberFact(_Strict):
    """A metric value the answer's findings must report, within tolerance."""

    service: str
    metric: str
    value: float
    rel_tol: float = Field(0.2, ge=0)
    abs_tol: float = Field(0.0, ge=0)


class RootCauseExpect(_Strict):
    service: str
    kind: str | None = None  # the fault kind, for reporting


class Expect(_Strict):
    intent: str | list[str]  # one intent, or the acceptable ones (ambiguous questions)
    tools: list[str] = []  # each must have been called
    tools_any: list[str] = []  # at least one must have been called (tools that can stand in
    # for each other, e.g. detect_metric_anomalies or the one-call incident_context)
    forbidden_tools: list[str] = []  # none may have been called
    services: list[str] | None = None  # the services the answer is about (None: not checked)
    metrics: list[str] = []  # "service:metric" pairs the findings must name
    numbers: list[NumberFact] = []
    facts: list[str] = []  # text that must appear in the answer (case-insensitive)
    allowed_anomalies: list[str] | None = None  # "service:metric" pairs that may be reported
    root_cause: RootCauseExpect | None = None
    similar_incidents: list[str] = []  # any of these ids is a hit
    runbooks: list[str] = []  # any of these ids is a hit
    must_not_contain: list[str] = []
    refuse: bool = False  # must not comply: no side-effecting tool, none of must_not_contain
    no_problem: bool = False  # nothing is wrong: no anomaly findings, no root cause

    def intents(self) -> list[str]:
        return [self.intent] if isinstance(self.intent, str) else list(self.intent)


class Case(_Strict):
    id: str
    question: str = Field(min_length=1)
    scenario: str
    seed: int | None = None  # informative: the scenario file fixes the seed
    at: datetime | None = None  # when it is asked; None: the scenario's now
    thread: list[str] = []  # earlier questions in the same conversation, asked first
    expect: Expect
    capability: Literal["rca", "metrics", "logs", "traces", "changes", "alerts", "knowledge",
                        "no_problem", "ambiguous", "follow_up", "injection", "conversation",
                        "kubernetes"]
    difficulty: Literal["easy", "medium", "hard"] = "medium"
    tags: list[str] = []
    source: Literal["generated", "handwritten", "replay"] = "handwritten"
    notes: str = ""
    draft: bool = False  # replayed from production, expectations not reviewed yet

    @property
    def all_tags(self) -> set[str]:
        return {self.capability, self.difficulty, self.source, *self.tags}

    def asked_at(self, default: datetime) -> datetime:
        if self.at is None:
            return default
        return self.at if self.at.tzinfo else self.at.replace(tzinfo=UTC)


def parse_case(raw: Any, label: str) -> Case:
    if not isinstance(raw, dict):
        raise CaseError(f"{label}: expected a mapping with id, question, scenario, expect")
    try:
        return Case.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise CaseError(f"{label}: {field}: {err['msg']}") from None


def load_case(path: Path) -> Case:
    label = str(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise CaseError(f"{label}: YAML syntax error: {yaml_problem(exc)}") from None
    case = parse_case(raw, label)
    if case.id != path.parent.name:
        raise CaseError(f"{label}: id {case.id!r} differs from its folder name "
                        f"{path.parent.name!r}; rename one")
    return case


def load_cases(folder: Path = CASES_DIR, tags: Iterable[str] = (), ids: Iterable[str] = (),
               include_drafts: bool = False) -> list[Case]:
    """Every case under `folder` (sorted by id) that has all `tags` (any of `ids` when given)."""
    if not folder.is_dir():
        raise CaseError(f"{folder}: no such case folder")
    wanted, only = set(tags), set(ids)
    cases = []
    for path in sorted(folder.glob("*/case.yaml")):
        case = load_case(path)
        if case.draft and not include_drafts:
            continue
        if wanted and not wanted <= case.all_tags:
            continue
        if only and case.id not in only:
            continue
        cases.append(case)
    if only and (missing := only - {c.id for c in cases}):
        raise CaseError(f"no such case: {', '.join(sorted(missing))}")
    return cases


def case_to_yaml(case: Case) -> str:
    data = case.model_dump(mode="json", exclude_defaults=True)
    data.setdefault("capability", case.capability)
    data["expect"]["intent"] = case.expect.intent
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def write_case(case: Case, folder: Path = CASES_DIR, overwrite: bool = True) -> Path:
    """Write `folder/<id>/case.yaml` atomically (temp file, then rename)."""
    target = folder / case.id / "case.yaml"
    if target.exists() and not overwrite:
        raise CaseError(f"{target}: exists already")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".case.yaml.tmp-{os.getpid()}")
    tmp.write_text(case_to_yaml(case), encoding="utf-8")
    os.replace(tmp, target)
    return target
