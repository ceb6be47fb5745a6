"""The life of a runbook request, as one explicit state machine.

    pending ──(enough valid approvals)──> approved ──(an approval expires)──> pending
    pending | approved ──deny──> denied            pending | approved ──cancel──> cancelled
    pending | approved ──(request_ttl passes)──> expired
    approved ──run──> running ──> succeeded | failed | cancelled | paused
    paused ──(stage approved, run)──> running       paused ──deny | cancel──> denied | cancelled
    succeeded | failed | cancelled ──rollback──> rolling_back ──> rolled_back | rollback_failed

`approved` and a not yet recorded `expired` are derived: the stored row says `pending`, and
`current()` reads the approvals and the clock. Every stored move goes through `store.claim`,
which refuses a move this table does not allow.
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    RUNNING = "running"
    PAUSED = "paused"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ROLLING_BACK = "rolling_back"
    ROLLED_BACK = "rolled_back"
    ROLLBACK_FAILED = "rollback_failed"


S = State
# stored state -> stored states it may move to (derived `approved` is stored as `pending`)
NEXT: dict[State, frozenset[State]] = {
    S.PENDING: frozenset({S.DENIED, S.EXPIRED, S.CANCELLED, S.RUNNING}),
    S.PAUSED: frozenset({S.RUNNING, S.DENIED, S.CANCELLED}),
    S.RUNNING: frozenset({S.SUCCEEDED, S.FAILED, S.CANCELLED, S.PAUSED}),
    S.SUCCEEDED: frozenset({S.ROLLING_BACK}),
    S.FAILED: frozenset({S.ROLLING_BACK}),
    S.CANCELLED: frozenset({S.ROLLING_BACK}),
    S.ROLLING_BACK: frozenset({S.ROLLED_BACK, S.ROLLBACK_FAILED}),
}
DECIDABLE = ("pending", "paused")  # stored states that take approvals and denials
RUNNABLE = ("pending", "paused")
FINISHED = ("succeeded", "failed", "cancelled")
PAST = {"approve": "approved", "deny": "denied"}


def allowed(from_state: str, to_state: str) -> bool:
    return State(to_state) in NEXT.get(State(from_state), frozenset())


def current(stored: str, valid: int, needed: int, created_at: float, now: float,
            request_ttl_s: float) -> State:
    """The state a person should see: a stored `pending` is `expired` past the request TTL,
    `approved` once enough valid approvals are in, else `pending`."""
    if stored != S.PENDING:
        return State(stored)
    if now - created_at > request_ttl_s:
        return S.EXPIRED
    return S.APPROVED if valid >= needed else S.PENDING
