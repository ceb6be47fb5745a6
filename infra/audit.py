"""The append-only, hash-chained audit log of every runbook proposal, approval, denial,
execution and step, in the state database (SQLite by default, PostgreSQL by URL).

Each entry stores the hash of the entry before it and its own hash over (seq, time, actor,
action, subject, details, previous hash). `verify()` walks the chain and names every entry that
was edited, removed or moved. Concurrent appends (threads, replicas) are safe: `seq` and
`prev_hash` are unique, so two writers racing for the same place cannot both win; the loser
reads the new head and retries. Details are redacted before they are hashed and stored.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, Integer, String, Text, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Mapped, mapped_column

from infra.redact import redact
from infra.state import Base, ensure_tables, session_factory, state_engine

if TYPE_CHECKING:
    from infra.settings import Settings

GENESIS = "genesis"
_RETRIES = 50


class AuditRow(Base):
    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    ts: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100), index=True)
    subject: Mapped[str] = mapped_column(String(300), index=True)
    details: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(80), unique=True)
    hash: Mapped[str] = mapped_column(String(80), unique=True)


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    ts: str  # ISO 8601 UTC
    actor: str
    action: str
    subject: str
    details: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass
class AuditVerification:
    ok: bool
    entries: int = 0
    problems: list[str] = field(default_factory=list)


def _canonical(details: dict[str, Any]) -> str:
    return json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      default=str)


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(v) for v in value]
    return value


def entry_hash(seq: int, ts: str, actor: str, action: str, subject: str, details: str,
               prev_hash: str) -> str:
    body = json.dumps([seq, ts, actor, action, subject, details, prev_hash],
                      separators=(",", ":"), ensure_ascii=True)
    return "sha256:" + hashlib.sha256(body.encode()).hexdigest()


def _entry(row: AuditRow) -> AuditEntry:
    return AuditEntry(row.seq, row.ts, row.actor, row.action, row.subject,
                      json.loads(row.details), row.prev_hash, row.hash)


class AuditLog:
    def __init__(self, engine: Engine) -> None:
        ensure_tables(engine)
        self.engine = engine
        self._sessions = session_factory(engine)

    @classmethod
    def from_settings(cls, settings: Settings) -> AuditLog:
        return cls(state_engine(settings))

    def append(self, actor: str, action: str, subject: str,
               details: dict[str, Any] | None = None) -> AuditEntry:
        """Add one entry at the head of the chain (retrying when another writer got there)."""
        text = _canonical(_redact_value(dict(details or {})))
        for attempt in range(_RETRIES):
            try:
                with self._sessions.begin() as session:
                    head = session.execute(
                        select(AuditRow.seq, AuditRow.hash).order_by(AuditRow.seq.desc())
                        .limit(1)).first()
                    seq = head[0] + 1 if head else 1
                    prev = head[1] if head else GENESIS
                    ts = datetime.now(UTC).isoformat(timespec="microseconds")
                    row = AuditRow(seq=seq, ts=ts, actor=actor, action=action, subject=subject,
                                   details=text, prev_hash=prev,
                                   hash=entry_hash(seq, ts, actor, action, subject, text, prev))
                    session.add(row)
                    session.flush()
                    return _entry(row)
            except (IntegrityError, OperationalError):
                time.sleep(random.uniform(0.001, 0.01) * (1 + attempt))  # noqa: S311 - jitter
        raise RuntimeError(f"audit log: could not append after {_RETRIES} attempts")

    def entries(self, subject: str | None = None, limit: int | None = None) -> list[AuditEntry]:
        with self._sessions() as session:
            query = select(AuditRow).order_by(AuditRow.seq)
            if subject is not None:
                query = query.where(AuditRow.subject == subject)
            rows = session.scalars(query).all()
        out = [_entry(r) for r in rows]
        return out[-limit:] if limit else out

    def verify(self) -> AuditVerification:
        """Recompute the chain: an edited entry breaks its own hash, a removed one leaves a gap
        in `seq` and breaks the next link, a moved one breaks the links around it."""
        with self._sessions() as session:
            rows = session.scalars(select(AuditRow).order_by(AuditRow.seq)).all()
        problems: list[str] = []
        prev, expected_seq = GENESIS, 1
        for row in rows:
            label = f"entry {row.seq} ({row.action} {row.subject} by {row.actor})"
            if row.seq != expected_seq:
                problems.append(f"{label}: expected entry {expected_seq} here; "
                                f"{row.seq - expected_seq} entries are missing before it"
                                if row.seq > expected_seq else f"{label}: out of order")
            if row.prev_hash != prev:
                problems.append(f"{label}: does not link to the entry before it "
                                "(removed or reordered entries)")
            recomputed = entry_hash(row.seq, row.ts, row.actor, row.action, row.subject,
                                    row.details, row.prev_hash)
            if recomputed != row.hash:
                problems.append(f"{label}: its content does not match its hash (edited)")
            prev, expected_seq = row.hash, row.seq + 1
        return AuditVerification(not problems, len(rows), problems)
