"""The approval policy (YAML): who may request and who may approve which runbooks, by risk.

Deny by default: an actor no rule names may do nothing. For `high` risk the policy cannot ask
for fewer than two distinct approvers, and the requester never approves their own request.
Approvals expire after `approval_ttl_minutes`. Read-only runbooks may run without approval when
`read_only_without_approval` is true. See docs/policy.example.yaml for a commented example.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tools.runbooks.errors import PolicyError
from tools.runbooks.model import Risk

DEFAULT_POLICY = Path(__file__).with_name("default_policy.yaml")
HIGH_MIN_APPROVALS = 2


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rule(_Strict):
    runbooks: list[str] = Field(default_factory=lambda: ["*"], description="name globs")
    risks: list[Risk] = Field(min_length=1)
    requesters: list[str] = Field(default_factory=list, description="users or group:NAME")
    approvers: list[str] = Field(default_factory=list, description="users or group:NAME")
    min_approvals: int = Field(1, ge=0, le=5)
    allow_self_approval: bool = False


class PolicyModel(_Strict):
    version: int = 1
    groups: dict[str, list[str]] = Field(default_factory=dict)
    rules: list[Rule] = Field(default_factory=list)
    approval_ttl_minutes: int = Field(60, ge=1, le=7 * 24 * 60)
    read_only_without_approval: bool = False


@dataclass(frozen=True)
class Requirement:
    """What a request for (runbook, risk) needs under the policy."""

    approvals: int
    approvers: frozenset[str]  # resolved user names
    requesters: frozenset[str]
    allow_self_approval: bool

    def describe(self) -> str:
        if self.approvals == 0:
            return "no approval needed (read-only, allowed by policy)"
        who = ", ".join(sorted(self.approvers)) or "nobody (no rule allows an approver)"
        return f"{self.approvals} distinct approval(s) from: {who}"


class Policy:
    def __init__(self, model: PolicyModel, source: str = "<policy>") -> None:
        self.model = model
        self.source = source

    @classmethod
    def load(cls, path: str | Path | None = None) -> Policy:
        p = Path(path) if path else DEFAULT_POLICY
        try:
            raw = yaml.safe_load(p.read_text(encoding="utf-8"))
        except OSError as exc:
            raise PolicyError(f"policy {p}: cannot read ({exc.strerror})") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f":{mark.line + 1}" if mark else ""
            raise PolicyError(f"policy {p}{where}: YAML syntax error") from None
        try:
            model = PolicyModel.model_validate(raw or {})
        except ValidationError as exc:
            e = exc.errors()[0]
            loc = ".".join(str(x) for x in e["loc"]) or "(top level)"
            raise PolicyError(f"policy {p}: {loc}: {e['msg']}") from None
        return cls(model, str(p))

    def _members(self, names: list[str]) -> set[str]:
        out: set[str] = set()
        for n in names:
            if n.startswith("group:"):
                out |= set(self.model.groups.get(n.removeprefix("group:"), []))
            else:
                out.add(n)
        return out

    def _rules(self, runbook: str, risk: str) -> list[Rule]:
        return [r for r in self.model.rules if risk in r.risks
                and any(fnmatch.fnmatchcase(runbook, g) for g in r.runbooks)]

    def requirement(self, runbook: str, risk: str) -> Requirement:
        rules = self._rules(runbook, risk)
        approvals = max((r.min_approvals for r in rules), default=1)
        if risk == "high":
            approvals = max(approvals, HIGH_MIN_APPROVALS)
        elif risk == "read-only" and self.model.read_only_without_approval:
            approvals = 0
        return Requirement(
            approvals=approvals,
            approvers=frozenset(set().union(*(self._members(r.approvers) for r in rules))),
            requesters=frozenset(set().union(*(self._members(r.requesters) for r in rules))),
            allow_self_approval=risk != "high" and bool(rules)
            and all(r.allow_self_approval for r in rules),
        )

    def may_request(self, actor: str, runbook: str, risk: str) -> bool:
        return actor in self.requirement(runbook, risk).requesters

    def may_approve(self, actor: str, runbook: str, risk: str, requester: str) -> str | None:
        """None when `actor` may approve, else the reason they may not."""
        req = self.requirement(runbook, risk)
        if actor not in req.approvers:
            return f"{actor} is not an approver for {runbook} ({risk}) under the policy"
        if actor == requester and not req.allow_self_approval:
            return f"{actor} requested {runbook} and may not approve it ({risk} risk)"
        return None

    @property
    def ttl_s(self) -> int:
        return self.model.approval_ttl_minutes * 60
