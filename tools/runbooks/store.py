"""State tables for runbook requests, approvals, step results and idempotency keys, on the
shared state `Base` (infra/state.py): SQLite by default, PostgreSQL by URL.

A request is run at most once: `claim()` moves it to `running` with one conditional UPDATE, so of
two concurrent runs only one sees a changed row. An idempotency key is a primary key, so a
redelivered action (a double click, a Slack retry) finds its key taken and runs nothing.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from infra.state import Base
from tools.runbooks.states import allowed


class RequestRow(Base):
    __tablename__ = "runbook_requests"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    runbook: Mapped[str] = mapped_column(String(80), index=True)
    risk: Mapped[str] = mapped_column(String(16))
    params: Mapped[str] = mapped_column(Text)  # JSON
    plan: Mapped[str] = mapped_column(Text)  # JSON of the rendered Plan
    plan_hash: Mapped[str] = mapped_column(String(80))
    requester: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, default="")
    incident: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(20), index=True)
    next_step: Mapped[int] = mapped_column(Integer, default=0)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    executed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class ApprovalRow(Base):
    __tablename__ = "runbook_approvals"
    __table_args__ = (UniqueConstraint("request_id", "approver", "stage"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("runbook_requests.id"), index=True)
    approver: Mapped[str] = mapped_column(String(200))
    decision: Mapped[str] = mapped_column(String(10))  # approve, deny
    plan_hash: Mapped[str] = mapped_column(String(80))
    stage: Mapped[int] = mapped_column(Integer, default=0)  # 0: the plan; n: after pause n
    created_at: Mapped[float] = mapped_column(Float)
    comment: Mapped[str] = mapped_column(Text, default="")


class StepRow(Base):
    __tablename__ = "runbook_steps"
    __table_args__ = (UniqueConstraint("request_id", "section", "index", "attempt"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("runbook_requests.id"), index=True)
    section: Mapped[str] = mapped_column(String(20))
    index: Mapped[int] = mapped_column(Integer)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text)
    output: Mapped[str] = mapped_column(Text)
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    duration_ms: Mapped[float] = mapped_column(Float)
    created_at: Mapped[float] = mapped_column(Float)


class RunKeyRow(Base):
    __tablename__ = "runbook_run_keys"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("runbook_requests.id"))
    action: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[float] = mapped_column(Float)


def claim(session: Session, request_id: str, from_states: tuple[str, ...], to_state: str,
          actor: str | None = None) -> bool:
    """Move a request from one of `from_states` to `to_state` atomically; False when another
    run got there first (or it is in another state). Only moves tools/runbooks/states.py
    allows are tried."""
    from_states = tuple(f for f in from_states if allowed(f, to_state))
    if not from_states:
        raise ValueError(f"no request state may move to {to_state}")
    values: dict[str, object] = {"status": to_state}
    if actor is not None:
        values["executed_by"] = actor
    result = session.execute(update(RequestRow)
                             .where(RequestRow.id == request_id,
                                    RequestRow.status.in_(from_states))
                             .values(**values))
    return bool(result.rowcount)  # type: ignore[attr-defined]
