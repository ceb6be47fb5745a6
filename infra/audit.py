"""The append-only audit log of every runbook proposal, approval, denial, execution and step,
and of every refused or malformed Slack click, in the state database (SQLite by default,
PostgreSQL by URL).

Each entry stores the hash of the entry before it and its own HMAC-SHA256 over (seq, time,
actor, action, subject, details, previous hash), keyed with a secret that never enters the
database (infra/audit_anchor.py). After each append a signed checkpoint (seq, hash) goes to a
file outside the database. `verify()` recomputes every entry and link and compares the
checkpoints, so an edit (re-hashed or not), a deleted entry (in the middle or the newest), a
reorder, a re-chained history and a forged append are each found; problems are listed in chain
order, the first bad entry first. Entries written before the log had a key carry a plain SHA-256
(`sha256:`): they still verify, reported as unkeyed.

Concurrent appends (threads, replicas) are safe: `seq` and `prev_hash` are unique, so two
writers racing for the same place cannot both win; the loser reads the new head and retries.
Details are redacted before they are hashed and stored.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, Integer, String, Text, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Mapped, mapped_column

from infra.audit_anchor import Checkpoints, audit_key, checkpoint_path
from infra.logcontext import current_request_id
from infra.redact import redact_data
from infra.state import Base, ensure_tables, session_factory, state_engine

if TYPE_CHECKING:
    from pathlib import Path

    from infra.settings import Settings

GENESIS = "genesis"
KEYED = "hmac-sha256:"
UNKEYED = "sha256:"
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


@dataclass(frozen=True)
class AuditProblem:
    seq: int | None  # the entry it is about (None: the checkpoint file itself)
    text: str


@dataclass
class AuditVerification:
    ok: bool
    entries: int = 0
    problems: list[str] = field(default_factory=list)  # in chain order: the first bad first
    first_bad: int | None = None  # seq of the first entry that is wrong or missing
    unkeyed: int = 0  # entries from before the log had a key (plain SHA-256)
    checkpoints: int = 0  # signed checkpoints compared
    notes: list[str] = field(default_factory=list)


def _canonical(details: dict[str, Any]) -> str:
    return json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      default=str)


def entry_hash(seq: int, ts: str, actor: str, action: str, subject: str, details: str,
               prev_hash: str, key: bytes | None = None) -> str:
    """`hmac-sha256:<hex>` with a key; `sha256:<hex>` without (entries of an unkeyed log)."""
    body = json.dumps([seq, ts, actor, action, subject, details, prev_hash],
                      separators=(",", ":"), ensure_ascii=True).encode()
    if key is None:
        return UNKEYED + hashlib.sha256(body).hexdigest()
    return KEYED + hmac.new(key, body, hashlib.sha256).hexdigest()


def _entry(row: AuditRow) -> AuditEntry:
    return AuditEntry(row.seq, row.ts, row.actor, row.action, row.subject,
                      json.loads(row.details), row.prev_hash, row.hash)


def log_id(engine: Engine) -> str:
    """Which database a checkpoint belongs to: its URL (password hidden), hashed."""
    url = engine.url.render_as_string(hide_password=True)
    return hashlib.sha256(url.encode()).hexdigest()[:16]


class AuditLog:
    """`key` signs the chain (None: an unkeyed log, for tests and old data); `checkpoints`
    (needs a key) is the file the signed checkpoints go to."""

    def __init__(self, engine: Engine, key: bytes | None = None,
                 checkpoints: Path | None = None) -> None:
        ensure_tables(engine)
        self.engine = engine
        self._key = key
        self._sessions = session_factory(engine)
        self.checkpoints = (Checkpoints(checkpoints, key, log_id(engine))
                            if key is not None and checkpoints is not None else None)

    @classmethod
    def from_settings(cls, settings: Settings) -> AuditLog:
        return cls(state_engine(settings), audit_key(settings), checkpoint_path(settings))

    @property
    def keyed(self) -> bool:
        return self._key is not None

    def append(self, actor: str, action: str, subject: str,
               details: dict[str, Any] | None = None) -> AuditEntry:
        """Add one entry at the head of the chain (retrying when another writer got there),
        then its signed checkpoint."""
        details = dict(details or {})
        if (request_id := current_request_id()) is not None:  # ties it to the Slack event's logs
            details.setdefault("request_id", request_id)
        text = _canonical(redact_data(details))
        entry = None
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
                                   hash=entry_hash(seq, ts, actor, action, subject, text, prev,
                                                   self._key))
                    session.add(row)
                    session.flush()
                    entry = _entry(row)
                break
            except (IntegrityError, OperationalError):
                time.sleep(random.uniform(0.001, 0.01) * (1 + attempt))  # noqa: S311 - jitter
        if entry is None:
            raise RuntimeError(f"audit log: could not append after {_RETRIES} attempts")
        if self.checkpoints is not None:
            self.checkpoints.write(entry.seq, entry.hash)
        return entry

    def entries(self, subject: str | None = None, limit: int | None = None) -> list[AuditEntry]:
        with self._sessions() as session:
            query = select(AuditRow).order_by(AuditRow.seq)
            if subject is not None:
                query = query.where(AuditRow.subject == subject)
            rows = session.scalars(query).all()
        out = [_entry(r) for r in rows]
        return out[-limit:] if limit else out

    def verify(self) -> AuditVerification:
        """Recompute every entry and link, then hold the chain against the signed checkpoints."""
        with self._sessions() as session:
            rows = list(session.scalars(select(AuditRow).order_by(AuditRow.seq)).all())
        problems = self._chain_problems(rows)
        unkeyed = sum(1 for r in rows if not r.hash.startswith(KEYED))
        notes = []
        compared = 0
        if self.checkpoints is not None:
            more, compared, cp_notes = self._checkpoint_problems(rows)
            problems += more
            notes += cp_notes
        elif any(r.hash.startswith(KEYED) for r in rows):
            notes.append("no checkpoint file given: the newest entries could have been cut off "
                         "unnoticed")
        if unkeyed:
            last = max((r.seq for r in rows if not r.hash.startswith(KEYED)), default=0)
            notes.append(f"unkeyed: {unkeyed} entries (up to entry {last}) were written before "
                         "the log had a key; their plain SHA-256 shows edits, but anyone with "
                         "database access could have rewritten them consistently")
        problems.sort(key=lambda p: (p.seq is None, p.seq or 0))
        first = next((p.seq for p in problems if p.seq is not None), None)
        return AuditVerification(not problems, len(rows), [p.text for p in problems], first,
                                 unkeyed, compared, notes)

    def _chain_problems(self, rows: list[AuditRow]) -> list[AuditProblem]:
        problems: list[AuditProblem] = []
        prev, expected, keyed_seen = GENESIS, 1, False
        for row in rows:
            label = f"entry {row.seq} ({row.action} {row.subject} by {row.actor})"
            if row.seq > expected:
                gap = (f"entry {expected}" if row.seq == expected + 1
                       else f"entries {expected}-{row.seq - 1}")
                problems.append(AuditProblem(expected, f"{gap}: missing (deleted); the chain "
                                             f"goes on at entry {row.seq}"))
            keyed = row.hash.startswith(KEYED)
            if keyed:
                keyed_seen = True
            fields = (row.seq, row.ts, row.actor, row.action, row.subject, row.details,
                      row.prev_hash)
            if keyed and self._key is None:
                problems.append(AuditProblem(row.seq, f"{label}: keyed, but no key was given to "
                                             "check it (set OPSCOPILOT_AUDIT__KEY)"))
            elif not keyed and keyed_seen:
                problems.append(AuditProblem(row.seq, f"{label}: unkeyed after keyed entries "
                                             "(forged, or re-chained without the key)"))
            elif row.hash != entry_hash(*fields, key=self._key if keyed else None):
                problems.append(AuditProblem(row.seq, f"{label}: its content does not match "
                                             "its hash (edited, re-hashed or forged)"))
            if row.prev_hash != prev and row.seq == expected:
                problems.append(AuditProblem(row.seq, f"{label}: does not link to the entry "
                                             "before it (moved, or the chain was rewritten)"))
            prev, expected = row.hash, row.seq + 1
        return problems

    def _checkpoint_problems(self, rows: list[AuditRow]
                             ) -> tuple[list[AuditProblem], int, list[str]]:
        assert self.checkpoints is not None
        found, broken = self.checkpoints.read()
        where = self.checkpoints.path
        problems = [AuditProblem(None, f"checkpoint file {where} line {n}: not a checkpoint")
                    for n in broken]
        by_seq = {r.seq: r for r in rows}
        last = rows[-1].seq if rows else 0
        furthest = 0
        for cp in found:
            if not cp.signed:
                problems.append(AuditProblem(None, f"checkpoint file {where} line {cp.line}: "
                                             "bad signature (the file was edited)"))
                continue
            row = by_seq.get(cp.seq)
            if row is None:
                furthest = max(furthest, cp.seq) if cp.seq > last else furthest
            elif not hmac.compare_digest(row.hash, cp.hash):
                problems.append(AuditProblem(cp.seq, f"entry {cp.seq}: does not match its "
                                             "signed checkpoint (rewritten or re-chained)"))
        if furthest:
            problems.append(AuditProblem(last + 1, f"entry {last + 1}: missing; the log ends at "
                                         f"entry {last} but a signed checkpoint shows it reached "
                                         f"entry {furthest} (truncated)"))
        notes = []
        if rows and not found:
            notes.append(f"no checkpoint for this database in {where} yet")
        return problems, sum(1 for cp in found if cp.signed), notes
