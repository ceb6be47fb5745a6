"""`RunbookService.run` and `.rollback`: the checks before anything runs, then the run.

Order matters: who is acting (policy), whether the plan as it renders now is the approved one
(hash), whether enough valid approvals exist, then the idempotency key (a primary key: a repeated
key runs nothing) and the atomic claim (of two concurrent runs only one proceeds). Only then do
steps run; each outcome is stored and audited as it happens.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from tools.runbooks.engine import StepOutcome
from tools.runbooks.errors import NotAllowed, RunbookError
from tools.runbooks.plan import render_plan
from tools.runbooks.states import FINISHED, RUNNABLE
from tools.runbooks.store import ApprovalRow, RequestRow, RunKeyRow, StepRow, claim
from tools.runbooks.views import RunResult

if TYPE_CHECKING:
    from tools.runbooks.service import RunbookService



def _refuse(svc: RunbookService, actor: str, subject: str, why: str) -> NotAllowed:
    svc.audit.append(actor, "run_refused", subject, {"why": why})
    return NotAllowed(why)


def _duplicate(svc: RunbookService, actor: str, request_id: str, key: str) -> RunResult:
    svc.audit.append(actor, "run_duplicate", f"request:{request_id}", {"idempotency_key": key})
    return RunResult(request_id, svc.status(request_id).status, False,
                     f"idempotency key {key!r} was used before: nothing ran")


def execute(svc: RunbookService, actor: str, request_id: str, key: str, dry_run: bool,
            rollback: bool) -> RunResult:
    subject = f"request:{request_id}"
    scoped = f"{request_id}:{key}"[:200]  # a key counts per request
    row = svc._load(actor, request_id, "rollback" if rollback else "run")
    with svc._sessions() as session:
        approvals = list(session.scalars(select(ApprovalRow).where(
            ApprovalRow.request_id == request_id)))
    req = svc.policy.requirement(row.runbook, row.risk)
    if actor not in req.requesters and actor not in req.approvers:
        raise _refuse(svc, actor, subject, f"{actor} may not run {row.runbook} under the policy")
    if not dry_run:
        with svc._sessions() as session:
            used = session.get(RunKeyRow, scoped) is not None
        if used:  # a redelivered action: answer as before, run nothing
            return _duplicate(svc, actor, request_id, key)
    try:
        plan = render_plan(svc.library.get(row.runbook), json.loads(row.params), svc.target.name)
    except RunbookError as exc:
        raise _refuse(svc, actor, subject, f"the plan no longer renders: {exc}") from None
    if plan.hash != row.plan_hash:
        raise _refuse(svc, actor, subject, "the runbook or its parameters changed since the plan "
                      "was approved (hash differs); request it again")
    if dry_run:
        res = svc._steps.run_section([*plan.steps, *plan.verification], dry_run=True)
        svc.audit.append(actor, "dry_run", subject, {"plan_hash": plan.hash})
        return RunResult(request_id, "dry_run", False, "dry run: nothing was executed",
                         res.outcomes)
    if rollback:
        if row.status not in FINISHED:
            raise _refuse(svc, actor, subject, f"request {request_id} is {row.status}; only a "
                          "finished run can be rolled back")
        if not plan.rollback:
            raise _refuse(svc, actor, subject, f"{row.runbook} has no rollback steps")
    else:
        valid = svc._valid(row, approvals, 0)
        if len(valid) < req.approvals:
            raise _refuse(svc, actor, subject,
                          f"{row.runbook} ({row.risk}) needs {req.approvals} valid approval(s) "
                          f"from distinct allowed approvers; it has {len(valid)}"
                          + (f" ({', '.join(sorted(valid))})" if valid else ""))
    action = "rollback" if rollback else "run"
    try:
        with svc._sessions.begin() as session:
            session.add(RunKeyRow(key=scoped, request_id=request_id, action=action, actor=actor,
                                  created_at=svc.clock()))
    except IntegrityError:
        return _duplicate(svc, actor, request_id, key)
    with svc._sessions.begin() as session:
        claimed = claim(session, request_id, FINISHED if rollback else RUNNABLE,
                        "rolling_back" if rollback else "running", actor)
        attempt = session.scalar(select(func.count()).select_from(RunKeyRow).where(
            RunKeyRow.request_id == request_id)) or 0
    if not claimed:
        svc.audit.append(actor, "run_duplicate", subject, {"idempotency_key": key})
        return RunResult(request_id, svc.status(request_id).status, False,
                         f"request {request_id} is already running or done: nothing ran")
    svc.audit.append(actor, f"{action}_started", subject,
                     {"plan_hash": plan.hash, "idempotency_key": key, "from_step": row.next_step})
    return _steps(svc, actor, row, plan, attempt, rollback)


def _steps(svc: RunbookService, actor: str, row: RequestRow, plan, attempt: int,  # type: ignore[no-untyped-def]
           rollback: bool) -> RunResult:
    subject = f"request:{row.id}"

    def on_step(o: StepOutcome) -> None:
        with svc._sessions.begin() as session:
            session.add(StepRow(request_id=row.id, section=o.section, index=o.index,
                                attempt=attempt, name=o.name, kind=o.kind, status=o.status,
                                detail=o.detail, output=o.output, exit_code=o.exit_code,
                                value=o.value, duration_ms=o.duration_ms,
                                created_at=svc.clock()))
        svc.audit.append(actor, "step", subject,
                         {"section": o.section, "index": o.index, "name": o.name,
                          "status": o.status, "detail": o.detail, "exit_code": o.exit_code,
                          "value": o.value})

    def cancelled() -> bool:
        with svc._sessions() as session:
            return bool(session.scalar(select(RequestRow.cancel_requested)
                                       .where(RequestRow.id == row.id)))

    def pause_approved(stage: int) -> bool:
        with svc._sessions() as session:
            approvals = list(session.scalars(select(ApprovalRow).where(
                ApprovalRow.request_id == row.id, ApprovalRow.stage == stage)))
        return bool(svc._valid(row, approvals, stage))

    next_step = 0
    if rollback:
        res = svc._steps.run_section(plan.rollback, 0, on_step, cancelled)
        outcomes, final = res.outcomes, "rolled_back" if res.status == "ok" else "rollback_failed"
    else:
        res = svc._steps.run_section(plan.steps, row.next_step, on_step, cancelled,
                                     pause_approved)
        outcomes = list(res.outcomes)
        final = res.status
        if res.status == "ok":
            ver = svc._steps.run_section(plan.verification, 0, on_step, cancelled)
            outcomes += ver.outcomes
            final = {"ok": "succeeded", "cancelled": "cancelled"}.get(ver.status, "failed")
        elif res.status == "paused":
            next_step = res.next_index
    with svc._sessions.begin() as session:
        r = session.get(RequestRow, row.id)
        assert r is not None
        r.status, r.next_step = final, next_step
        r.finished_at = None if final == "paused" else svc.clock()
    svc.audit.append(actor, "execution_finished", subject,
                     {"status": final, "steps": len(outcomes), "rollback": rollback})
    failed = next((o for o in outcomes if not o.ok), None)
    stage = 1 + sum(1 for s in plan.steps[:next_step] if s.kind == "pause_for_approval")
    message = {"succeeded": "all steps and checks passed",
               "paused": f"paused for approval: approve stage {stage}, then run again",
               "rolled_back": "rollback finished"}.get(
        final, f"stopped at {failed.section}[{failed.index}] {failed.name}: {failed.status}"
        if failed else final)
    can_roll_back = final in ("failed", "cancelled") and bool(plan.rollback)
    if can_roll_back:
        message += "; a rollback is available"
    return RunResult(row.id, final, True, message, outcomes, can_roll_back)
