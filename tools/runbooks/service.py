"""The runbook API the CLI, the Slack app and the copilot call: request, approve, deny, run,
rollback, cancel, status; each takes the acting person as `actor` and returns a typed view.

Policy decides who may do what (deny by default); approvals are bound to the plan's hash and
expire (the same approver may renew an expired one); a request nobody decided on expires after
`request_ttl_s`; the states and their moves are tools/runbooks/states.py. A run re-renders the
plan from the runbook and refuses when its hash differs from the approved one; an idempotency
key and an atomic claim make a repeated or concurrent run a no-op. Every decision (allowed or
refused, an unknown request included) is appended to the audit log.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from infra import telemetry
from infra.audit import AuditLog
from infra.state import ensure_tables, session_factory
from tools.runbooks.engine import Engine as StepEngine
from tools.runbooks.engine import StepOutcome, Target
from tools.runbooks.errors import NotAllowed, ParameterError, RequestStateError, UnknownRunbook
from tools.runbooks.loader import RunbookLibrary
from tools.runbooks.plan import Plan, render_plan
from tools.runbooks.policy import Policy
from tools.runbooks.propose import IncidentContext, Proposal, propose
from tools.runbooks.states import DECIDABLE, PAST, RUNNABLE, current
from tools.runbooks.store import ApprovalRow, RequestRow, StepRow, claim
from tools.runbooks.views import ApprovalView, RequestView, RunResult

if TYPE_CHECKING:
    from infra.settings import Settings

REQUEST_TTL_S = 4 * 3600  # OPSCOPILOT_RUNBOOKS__REQUEST_TTL_MINUTES, default 240


class RunbookService:
    def __init__(self, library: RunbookLibrary, policy: Policy, engine: Engine, audit: AuditLog,
                 target: Target, clock: Callable[[], float] = time.time,
                 output_limit: int = 4000, request_ttl_s: float = REQUEST_TTL_S) -> None:
        ensure_tables(engine)
        self.library, self.policy, self.audit, self.target = library, policy, audit, target
        self.clock, self.request_ttl_s = clock, request_ttl_s
        self._sessions = session_factory(engine)
        self._steps = StepEngine(target, output_limit)

    @classmethod
    def from_settings(cls, settings: Settings, target: Target | None = None,
                      scenario: str | None = None) -> RunbookService:
        """Library, policy, state database and target as configured (see build.py)."""
        from tools.runbooks.build import build_service

        return build_service(settings, target=target, scenario=scenario)

    def propose(self, context: IncidentContext, k: int = 3) -> list[Proposal]:
        """Runbooks ranked for an incident, parameters filled, each with its dry-run plan."""
        return propose(self.library, context, self.target.name, k)

    # -- plans and requests
    def plan(self, runbook: str, params: Mapping[str, Any]) -> Plan:
        return render_plan(self.library.get(runbook), params, self.target.name)

    def request(self, actor: str, runbook: str, params: Mapping[str, Any], reason: str = "",
                incident: str | None = None) -> RequestView:
        try:
            rb = self.library.get(runbook)
        except UnknownRunbook as exc:
            self.audit.append(actor, "request_refused", runbook[:100], {"why": str(exc)})
            raise
        if not self.policy.may_request(actor, rb.name, rb.risk):
            self.audit.append(actor, "request_refused", rb.name, {"why": "policy", "risk": rb.risk})
            raise NotAllowed(f"{actor} may not request {rb.name} ({rb.risk} risk) under the policy")
        try:
            plan = render_plan(rb, params, self.target.name)
        except ParameterError as exc:
            self.audit.append(actor, "request_refused", rb.name, {"why": str(exc)})
            raise
        row = RequestRow(id=uuid.uuid4().hex[:12], runbook=rb.name, risk=rb.risk,
                         params=json.dumps(plan.params, sort_keys=True),
                         plan=json.dumps(plan.to_dict(), sort_keys=True), plan_hash=plan.hash,
                         requester=actor, reason=reason, incident=incident,
                         created_at=self.clock(), status="pending")
        with self._sessions.begin() as session:
            session.add(row)
        self.audit.append(actor, "proposal", f"request:{row.id}",
                          {"runbook": rb.name, "risk": rb.risk, "params": plan.params,
                           "plan_hash": plan.hash, "reason": reason, "incident": incident})
        return self.status(row.id)

    def _row(self, session: Any, request_id: str) -> RequestRow:
        row = session.get(RequestRow, request_id)
        if row is None:
            raise RequestStateError(f"no runbook request {request_id!r}")
        return row

    def _load(self, actor: str, request_id: str, action: str) -> RequestRow:
        """The request, or RequestStateError (audited as `<action>_refused`) when there is none;
        a pending request past its TTL is recorded as expired and refused."""
        try:
            with self._sessions() as session:
                row = self._row(session, request_id)
        except RequestStateError as exc:
            self.audit.append(actor, f"{action}_refused", f"request:{request_id}",
                              {"why": str(exc)})
            raise
        if row.status == "pending" and self.clock() - row.created_at > self.request_ttl_s:
            with self._sessions.begin() as session:
                moved = claim(session, request_id, ("pending",), "expired")
            if moved:
                self.audit.append(actor, "request_expired", f"request:{request_id}",
                                  {"ttl_s": self.request_ttl_s})
            row.status = "expired"
        if row.status == "expired":
            why = (f"request {request_id} expired: nobody decided on it within "
                   f"{self.request_ttl_s / 60:g} minutes; request it again")
            self.audit.append(actor, f"{action}_refused", f"request:{request_id}", {"why": why})
            raise RequestStateError(why)
        return row

    # -- approvals
    def approve(self, actor: str, request_id: str, plan_hash: str | None = None,
                stage: int = 0, comment: str = "") -> RequestView:
        return self._decide(actor, request_id, "approve", plan_hash, stage, comment)

    def deny(self, actor: str, request_id: str, reason: str = "",
             plan_hash: str | None = None) -> RequestView:
        return self._decide(actor, request_id, "deny", plan_hash, 0, reason)

    def _decide(self, actor: str, request_id: str, decision: str, plan_hash: str | None,
                stage: int, comment: str) -> RequestView:
        subject = f"request:{request_id}"
        row = self._load(actor, request_id, decision)
        if row.status not in DECIDABLE:
            state = f"request {request_id} is {row.status}; it cannot be {PAST[decision]} now"
            self.audit.append(actor, f"{decision}_refused", subject, {"why": state})
            raise RequestStateError(state)
        why = self.policy.may_approve(actor, row.runbook, row.risk, row.requester)
        if why is None and plan_hash is not None and plan_hash != row.plan_hash:
            why = "the plan changed since it was shown (its hash differs); review it again"
        if why is not None:
            self.audit.append(actor, f"{decision}_refused", subject, {"why": why})
            raise NotAllowed(why)
        action = "approval" if decision == "approve" else "denial"
        try:
            with self._sessions.begin() as session:
                mine = session.scalars(select(ApprovalRow).where(
                    ApprovalRow.request_id == request_id, ApprovalRow.approver == actor,
                    ApprovalRow.stage == stage)).first()
                if mine is not None and not self._renewable(row, mine, decision):
                    raise RequestStateError(
                        f"{actor} already decided on request {request_id}"
                        + (f" (stage {stage})" if stage else "") + f": {PAST[mine.decision]}")
                if mine is not None:  # the same approver renews an approval that expired
                    mine.created_at, mine.comment = self.clock(), comment
                    action = "approval_renewed"
                else:
                    session.add(ApprovalRow(request_id=request_id, approver=actor,
                                            decision=decision, plan_hash=row.plan_hash,
                                            stage=stage, created_at=self.clock(),
                                            comment=comment))
                if decision == "deny":
                    claim(session, request_id, DECIDABLE, "denied")
        except (IntegrityError, RequestStateError) as exc:  # IntegrityError: a concurrent click
            why = str(exc) if isinstance(exc, RequestStateError) else (
                f"{actor} already decided on request {request_id}"
                + (f" (stage {stage})" if stage else ""))
            self.audit.append(actor, f"{decision}_refused", subject, {"why": why})
            raise RequestStateError(why) from None
        self.audit.append(actor, action, subject,
                          {"plan_hash": row.plan_hash, "stage": stage, "comment": comment})
        telemetry.record_approval(action)
        return self.status(request_id)

    def _renewable(self, row: RequestRow, mine: ApprovalRow, decision: str) -> bool:
        """An approval of the same plan that no longer counts because it is too old."""
        return (decision == "approve" and mine.decision == "approve"
                and mine.plan_hash == row.plan_hash
                and mine.created_at < self.clock() - self.policy.ttl_s)

    def _valid(self, row: RequestRow, approvals: list[ApprovalRow], stage: int) -> set[str]:
        """Approvers whose approval of this stage counts now."""
        horizon = self.clock() - self.policy.ttl_s
        return {a.approver for a in approvals
                if a.stage == stage and a.decision == "approve" and a.plan_hash == row.plan_hash
                and a.created_at >= horizon
                and self.policy.may_approve(a.approver, row.runbook, row.risk,
                                            row.requester) is None}

    # -- status
    def status(self, request_id: str) -> RequestView:
        with self._sessions() as session:
            row = self._row(session, request_id)
            approvals = list(session.scalars(select(ApprovalRow).where(
                ApprovalRow.request_id == request_id).order_by(ApprovalRow.id)))
            steps = list(session.scalars(select(StepRow).where(
                StepRow.request_id == request_id).order_by(StepRow.id)))
        req = self.policy.requirement(row.runbook, row.risk)
        valid = self._valid(row, approvals, 0)
        status = str(current(row.status, len(valid), req.approvals, row.created_at,
                             self.clock(), self.request_ttl_s))
        views = [ApprovalView(a.approver, a.decision, a.stage, a.created_at, a.plan_hash,
                              a.approver in self._valid(row, approvals, a.stage), a.comment)
                 for a in approvals]
        outcomes = [StepOutcome(s.section, s.index, s.name, s.kind, s.status, s.detail,
                                s.output, s.exit_code, s.value, s.duration_ms) for s in steps]
        return RequestView(row.id, row.runbook, json.loads(row.plan)["title"], row.risk,
                           json.loads(row.params), Plan.from_dict(json.loads(row.plan)),
                           row.requester, row.reason, row.incident, row.created_at, status,
                           req.approvals, len(valid), sorted(req.approvers), views, outcomes,
                           row.executed_by)

    def list_requests(self, limit: int = 20) -> list[RequestView]:
        with self._sessions() as session:
            ids = list(session.scalars(select(RequestRow.id)
                                       .order_by(RequestRow.created_at.desc()).limit(limit)))
        return [self.status(i) for i in ids]

    def cancel(self, actor: str, request_id: str) -> RequestView:
        with self._sessions.begin() as session:
            row = self._row(session, request_id)
            if row.requester != actor and self.policy.may_approve(
                    actor, row.runbook, row.risk, "") is not None:
                raise NotAllowed(f"{actor} may not cancel request {request_id}")
            row.cancel_requested = True
            claim(session, request_id, RUNNABLE, "cancelled")
        self.audit.append(actor, "cancel", f"request:{request_id}", {})
        return self.status(request_id)

    # -- running
    def run(self, actor: str, request_id: str, idempotency_key: str,
            dry_run: bool = False) -> RunResult:
        from tools.runbooks.runner import execute

        result = execute(self, actor, request_id, idempotency_key, dry_run, rollback=False)
        telemetry.record_runbook_run("run", result.status)
        return result

    def rollback(self, actor: str, request_id: str, idempotency_key: str) -> RunResult:
        from tools.runbooks.runner import execute

        result = execute(self, actor, request_id, idempotency_key, False, rollback=True)
        telemetry.record_runbook_run("rollback", result.status)
        return result
