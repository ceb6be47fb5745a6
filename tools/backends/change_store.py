"""Deploy and config-change events that CI/CD posted to the webhook receiver, kept in the state
database (`infra.state`), and served to the changes tool as a `ChangesBackend`.

`ChangeEventIn` is the body the receiver accepts (docs/backends.md); `ChangeStore.add` writes one
event in its own transaction, so an acknowledged event is on disk. An event posted twice with
the same `id` (a CI retry) is stored once.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import BigInteger, Engine, Integer, String, Text, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from infra.redact import redact
from infra.state import Base, ensure_tables, session_factory
from tools.backends import Change

MAX_SKEW_S = 300  # an event from the future beyond this is a clock or unit mistake
_SERVICE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,99}$")


class ChangeEventRow(Base):
    __tablename__ = "change_events"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str | None] = mapped_column(String(200), unique=True, nullable=True)
    ts: Mapped[int] = mapped_column(BigInteger, index=True)
    service: Mapped[str] = mapped_column(String(100), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(200), default="")
    version: Mapped[str] = mapped_column(String(200), default="")
    received_at: Mapped[int] = mapped_column(BigInteger)


class ChangeEventIn(BaseModel):
    """One deploy or change, as CI/CD posts it."""

    model_config = ConfigDict(extra="forbid")

    service: str = Field(description="the service that changed, as the copilot names it")
    kind: Literal["deploy", "config_change", "rollback", "feature_flag", "infra_change"] = \
        "deploy"
    description: str = Field(min_length=1, max_length=2000)
    ts: int | datetime | None = Field(None, description="when; unix seconds or ISO 8601; "
                                                        "default: when received")
    version: str = Field("", max_length=200)
    author: str = Field("", max_length=200)
    id: str | None = Field(None, min_length=1, max_length=200,
                           description="idempotency key: a retry with the same id is stored once")

    @field_validator("service")
    @classmethod
    def _service_name(cls, value: str) -> str:
        if not _SERVICE.match(value):
            raise ValueError("must be 1-100 characters: letters, digits, _ . : / -")
        return value

    @field_validator("ts")
    @classmethod
    def _utc_when_naive(cls, value: int | datetime | None) -> int | datetime | None:
        if isinstance(value, datetime) and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value

    def unix_ts(self, now: int) -> int:
        if self.ts is None:
            return now
        return int(self.ts.timestamp()) if isinstance(self.ts, datetime) else int(self.ts)


class ChangeStore:
    """Stored change events, readable as a `ChangesBackend` (source "webhook")."""

    source = "webhook"

    def __init__(self, engine: Engine) -> None:
        ensure_tables(engine)
        self.engine = engine
        self._session = session_factory(engine)

    def add(self, events: list[ChangeEventIn], now: int | None = None) -> tuple[int, int]:
        """Store events in one transaction; (stored, duplicates). Every timestamp is checked
        before anything is written: a ValueError stores nothing."""
        received = int(time.time()) if now is None else now
        rows = []
        for event in events:
            ts = event.unix_ts(received)
            if ts > received + MAX_SKEW_S:
                raise ValueError(f"ts {ts} is more than {MAX_SKEW_S} s in the future: send "
                                 "unix seconds (not milliseconds) or an ISO time with a zone")
            rows.append(ChangeEventRow(event_id=event.id, ts=ts, service=event.service,
                                       kind=event.kind, description=redact(event.description),
                                       author=event.author, version=event.version,
                                       received_at=received))
        ids = [r.event_id for r in rows if r.event_id]
        with self._session() as session:
            known = set(session.scalars(select(ChangeEventRow.event_id)
                                        .where(ChangeEventRow.event_id.in_(ids)))) if ids else set()
            fresh, seen = [], set(known)
            for row in rows:
                if row.event_id is None or row.event_id not in seen:
                    fresh.append(row)
                    seen.add(row.event_id)
            session.add_all(fresh)
            try:
                session.commit()
            except IntegrityError:  # the same id posted concurrently: one row at a time
                session.rollback()
                return self._one_by_one(fresh, len(rows))
        return len(fresh), len(rows) - len(fresh)

    def _one_by_one(self, rows: list[ChangeEventRow], total: int) -> tuple[int, int]:
        stored = 0
        for row in rows:
            with self._session() as session:
                session.add(ChangeEventRow(**{c: getattr(row, c) for c in (
                    "event_id", "ts", "service", "kind", "description", "author", "version",
                    "received_at")}))
                try:
                    session.commit()
                    stored += 1
                except IntegrityError:
                    session.rollback()
        return stored, total - stored

    def changes(self, services: list[str], start: int, end: int) -> tuple[list[Change], str]:
        stmt = select(ChangeEventRow).where(ChangeEventRow.ts >= start, ChangeEventRow.ts < end)
        if services:
            stmt = stmt.where(ChangeEventRow.service.in_(services))
        with self._session() as session:
            rows = session.scalars(stmt.order_by(ChangeEventRow.ts)).all()
        scope = ", ".join(services) if services else "all services"
        query = f"change events posted to the webhook for {scope} [{start}, {end})"
        return [Change(r.ts, r.service, r.kind, r.description, r.author, r.version)
                for r in rows], query
