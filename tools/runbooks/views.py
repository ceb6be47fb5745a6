"""The typed results the runbook API returns (to the CLI, the Slack app and the copilot)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from tools.base import Evidence
from tools.runbooks.engine import StepOutcome
from tools.runbooks.plan import Plan


@dataclass(frozen=True)
class ApprovalView:
    approver: str
    decision: str  # approve, deny
    stage: int
    at: float
    plan_hash: str
    valid: bool  # counts now: same plan, not expired, approver still allowed
    note: str = ""


@dataclass
class RequestView:
    id: str
    runbook: str
    title: str
    risk: str
    params: dict[str, Any]
    plan: Plan
    requester: str
    reason: str
    incident: str | None
    created_at: float
    status: str  # pending, approved, denied, running, paused, succeeded, failed, cancelled, ...
    approvals_needed: int
    approvals_valid: int
    approvers_allowed: list[str]
    approvals: list[ApprovalView] = field(default_factory=list)
    steps: list[StepOutcome] = field(default_factory=list)
    executed_by: str | None = None

    @property
    def plan_hash(self) -> str:
        return self.plan.hash

    @property
    def rollback_available(self) -> bool:
        return self.status in ("failed", "cancelled", "succeeded") and bool(self.plan.rollback)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["plan_hash"] = self.plan_hash
        out["rollback_available"] = self.rollback_available
        return out


@dataclass
class RunResult:
    request_id: str
    status: str  # succeeded, failed, paused, cancelled, dry_run, rolled_back, rollback_failed
    ran: bool  # False when nothing ran (a repeated key, a run already going or done)
    message: str
    outcomes: list[StepOutcome] = field(default_factory=list)
    rollback_available: bool = False

    def evidence(self) -> list[Evidence]:
        """Each step as evidence for the incident timeline (the command as run, its output)."""
        return [Evidence(f"runbook:{self.request_id}:{o.section}:{o.index}", "runbook",
                         "runbook-engine", o.detail, f"{o.name}: {o.status}",
                         {"status": o.status, "exit_code": o.exit_code, "value": o.value,
                          "output": o.output[:500], "duration_ms": o.duration_ms})
                for o in self.outcomes]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
