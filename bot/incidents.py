"""Incidents as the team runs them: declare, acknowledge, status updates, timeline, resolve, and
a postmortem draft that goes into the knowledge base. Transport-neutral: Slack's `/ops incident`
and `opscopilot incident` both call `IncidentStore`; tables live in the state
store (infra/state.py).
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from infra.redact import redact
from infra.settings import Settings
from infra.state import Base, ensure_tables, session_factory, state_engine
from knowledge.documents import SEVERITIES, Document, normalise_severity, slugify

DEFAULT_SEVERITY = "sev3"


class IncidentError(ValueError):
    """An incident command that cannot be done (unknown id, already resolved); one line."""


class IncidentRow(Base):
    __tablename__ = "incidents"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    severity: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20), default="open")  # open|acknowledged|resolved
    services: Mapped[str] = mapped_column(Text, default="[]")  # JSON list
    declared_by: Mapped[str] = mapped_column(String(100), default="")
    declared_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    channel_id: Mapped[str] = mapped_column(String(40), default="", index=True)
    channel_name: Mapped[str] = mapped_column(String(100), default="")
    card_ts: Mapped[str] = mapped_column(String(40), default="")
    resolution: Mapped[str] = mapped_column(Text, default="")
    root_cause: Mapped[str] = mapped_column(Text, default="")


class IncidentEventRow(Base):
    __tablename__ = "incident_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))  # declared|acknowledged|status|action|resolved
    text: Mapped[str] = mapped_column(Text)


class ActionItemRow(Base):
    __tablename__ = "incident_action_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(100), default="")
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@dataclass
class TimelineEntry:
    at: datetime
    actor: str
    kind: str
    text: str


@dataclass
class ActionItem:
    id: int
    incident_id: str
    text: str
    owner: str
    done: bool


@dataclass
class Incident:
    id: str
    title: str
    severity: str
    status: str
    services: list[str]
    declared_by: str
    declared_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    channel_id: str
    channel_name: str
    card_ts: str
    resolution: str
    root_cause: str

    @property
    def slug(self) -> str:
        return slugify(self.title, 40)

    @property
    def time_to_acknowledge(self) -> float | None:
        """Seconds from declaration to acknowledgement (MTTA's sample)."""
        if self.acknowledged_at is None:
            return None
        return (_utc(self.acknowledged_at) - _utc(self.declared_at)).total_seconds()

    @property
    def time_to_resolve(self) -> float | None:
        """Seconds from declaration to resolution (MTTR's sample)."""
        if self.resolved_at is None:
            return None
        return (_utc(self.resolved_at) - _utc(self.declared_at)).total_seconds()


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)  # SQLite drops the zone


def _incident(row: IncidentRow) -> Incident:
    return Incident(
        id=row.id, title=row.title, severity=row.severity, status=row.status,
        services=json.loads(row.services or "[]"), declared_by=row.declared_by,
        declared_at=_utc(row.declared_at),
        acknowledged_at=_utc(row.acknowledged_at) if row.acknowledged_at else None,
        resolved_at=_utc(row.resolved_at) if row.resolved_at else None,
        channel_id=row.channel_id, channel_name=row.channel_name, card_ts=row.card_ts,
        resolution=row.resolution, root_cause=row.root_cause)


def parse_declare(words: list[str]) -> tuple[str, str]:
    """`<title words> [sev]` -> (title, severity); the severity is the last word when it is one."""
    if words and normalise_severity(words[-1]) in SEVERITIES and len(words) > 1:
        return " ".join(words[:-1]).strip(), normalise_severity(words[-1])
    return " ".join(words).strip(), DEFAULT_SEVERITY


class IncidentStore:
    """Incidents, their timelines and action items in the state store."""

    def __init__(self, settings: Settings, clock: Callable[[], datetime] | None = None) -> None:
        engine = state_engine(settings)
        ensure_tables(engine)
        self._session = session_factory(engine)
        self.clock = clock or (lambda: datetime.now(UTC))

    # -- changes ---------------------------------------------------------------------------
    def declare(self, title: str, severity: str = DEFAULT_SEVERITY, declared_by: str = "",
                services: list[str] | None = None) -> Incident:
        title = redact(" ".join(title.split()))  # stored and posted: no secret, no address
        if not title:
            raise IncidentError("an incident needs a title, e.g. "
                                "`incident declare checkout returns 500s sev2`")
        sev = normalise_severity(severity) or DEFAULT_SEVERITY
        if sev not in SEVERITIES:
            raise IncidentError(f"unknown severity {severity!r}: use sev1 to sev4")
        now = self.clock()
        for attempt in range(1, 100):  # the day's next free number; replicas may race
            day = sum(1 for _ in self._ids_on(now)) + attempt
            incident_id = f"INC-{now:%Y%m%d}-{day:02d}"
            with self._session() as session:
                session.add(IncidentRow(id=incident_id, title=title[:300], severity=sev,
                                        status="open", services=json.dumps(services or []),
                                        declared_by=declared_by, declared_at=now))
                try:
                    session.flush()  # the incident row first: the event refers to it
                except IntegrityError:
                    session.rollback()
                    continue
                session.add(IncidentEventRow(incident_id=incident_id, at=now, actor=declared_by,
                                             kind="declared", text=f"declared ({sev}): {title}"))
                try:
                    session.commit()
                except IntegrityError:
                    session.rollback()
                    continue
            return self.get(incident_id)
        raise IncidentError("could not allocate an incident id")  # pragma: no cover

    def _ids_on(self, day: datetime) -> list[str]:
        with self._session() as session:
            return list(session.execute(select(IncidentRow.id).where(
                IncidentRow.id.like(f"INC-{day:%Y%m%d}-%"))).scalars())

    def attach_channel(self, incident_id: str, channel_id: str, channel_name: str,
                       card_ts: str = "") -> Incident:
        with self._session() as session:
            row = self._row(session, incident_id)
            row.channel_id, row.channel_name = channel_id, channel_name
            if card_ts:
                row.card_ts = card_ts
            session.commit()
        return self.get(incident_id)

    def acknowledge(self, incident_id: str, actor: str) -> tuple[Incident, bool]:
        """Mark acknowledged (first time only); (incident, whether this call acknowledged it).

        One conditional UPDATE, so two people clicking at once (on any replica) ack it once.
        """
        now = self.clock()
        with self._session() as session:
            row = self._row(session, incident_id)
            done = session.execute(
                update(IncidentRow)
                .where(IncidentRow.id == row.id, IncidentRow.acknowledged_at.is_(None),
                       IncidentRow.status == "open")
                .values(acknowledged_at=now, status="acknowledged")).rowcount
            if done:
                session.add(IncidentEventRow(incident_id=row.id, at=now, actor=actor,
                                             kind="acknowledged", text="acknowledged"))
            session.commit()
        return self.get(incident_id), bool(done)

    def add_update(self, incident_id: str, actor: str, text: str, kind: str = "status") -> None:
        if not text.strip():
            raise IncidentError("the update is empty: say what changed")
        with self._session() as session:
            row = self._row(session, incident_id)
            session.add(IncidentEventRow(incident_id=row.id, at=self.clock(), actor=actor,
                                         kind=kind, text=redact(text.strip())))
            session.commit()

    def add_action_item(self, incident_id: str, text: str, owner: str = "") -> ActionItem:
        if not text.strip():
            raise IncidentError("the action item is empty: say what should be done")
        text = redact(text)
        with self._session() as session:
            row = self._row(session, incident_id)
            item = ActionItemRow(incident_id=row.id, text=text.strip(), owner=owner,
                                 created_at=self.clock())
            session.add(item)
            session.add(IncidentEventRow(incident_id=row.id, at=self.clock(), actor=owner,
                                         kind="action", text=f"action item: {text.strip()}"))
            session.commit()
            return ActionItem(item.id, item.incident_id, item.text, item.owner, item.done)

    def resolve(self, incident_id: str, actor: str, resolution: str = "",
                root_cause: str = "") -> Incident:
        resolution, root_cause = redact(resolution), redact(root_cause)
        with self._session() as session:
            row = self._row(session, incident_id)
            if row.status == "resolved":
                raise IncidentError(f"{incident_id} is already resolved")
            now = self.clock()
            row.status, row.resolved_at = "resolved", now
            if row.acknowledged_at is None:  # resolving implies someone was on it
                row.acknowledged_at = now
            row.resolution, row.root_cause = resolution.strip(), root_cause.strip()
            session.add(IncidentEventRow(incident_id=row.id, at=now, actor=actor, kind="resolved",
                                         text=f"resolved{': ' + resolution if resolution else ''}"))
            session.commit()
        return self.get(incident_id)

    # -- reads -----------------------------------------------------------------------------
    def _row(self, session, incident_id: str) -> IncidentRow:  # noqa: ANN001 - a Session
        row = session.get(IncidentRow, incident_id.strip().upper())
        if row is None:
            raise IncidentError(f"no incident {incident_id!r}; `incident list` shows them")
        return row

    def get(self, incident_id: str) -> Incident:
        with self._session() as session:
            return _incident(self._row(session, incident_id))

    def by_channel(self, channel_id: str) -> Incident | None:
        with self._session() as session:
            row = session.execute(select(IncidentRow).where(IncidentRow.channel_id == channel_id)
                                  .order_by(IncidentRow.declared_at.desc())).scalars().first()
            return _incident(row) if row else None

    def list(self, since: datetime | None = None, until: datetime | None = None,
             status: str | None = None) -> list[Incident]:
        query = select(IncidentRow).order_by(IncidentRow.declared_at)
        if since is not None:
            query = query.where(IncidentRow.declared_at >= since)
        if until is not None:
            query = query.where(IncidentRow.declared_at < until)
        if status is not None:
            query = query.where(IncidentRow.status == status)
        with self._session() as session:
            return [_incident(r) for r in session.execute(query).scalars()]

    def postmortem(self, incident: Incident) -> Document:
        """The postmortem draft of a (resolved) incident, from its timeline and action items."""
        return postmortem_document(incident, self.timeline(incident.id),
                                   self.action_items(incident.id))

    def timeline(self, incident_id: str) -> builtins.list[TimelineEntry]:
        with self._session() as session:
            self._row(session, incident_id)
            rows = session.execute(select(IncidentEventRow)
                                   .where(IncidentEventRow.incident_id == incident_id.upper())
                                   .order_by(IncidentEventRow.at, IncidentEventRow.id)).scalars()
            return [TimelineEntry(_utc(r.at), r.actor, r.kind, r.text) for r in rows]

    def action_items(self, incident_id: str | None = None,
                     open_only: bool = False) -> builtins.list[ActionItem]:
        query = select(ActionItemRow).order_by(ActionItemRow.id)
        if incident_id is not None:
            query = query.where(ActionItemRow.incident_id == incident_id.upper())
        if open_only:
            query = query.where(ActionItemRow.done.is_(False))
        with self._session() as session:
            return [ActionItem(r.id, r.incident_id, r.text, r.owner, r.done)
                    for r in session.execute(query).scalars()]


def postmortem_document(incident: Incident, timeline: list[TimelineEntry],
                        actions: list[ActionItem]) -> Document:
    """The postmortem draft of a resolved incident, as a knowledge-base `Document`."""
    from tools.formatting import fmt_duration

    lines = [f"# {incident.id}: {incident.title}", "",
             "_Draft written by opscopilot when the incident was resolved; edit and re-ingest._",
             "", "## Summary",
             f"{incident.severity.upper()} incident declared {incident.declared_at:%Y-%m-%d %H:%M}"
             f" UTC by {incident.declared_by or 'unknown'}."]
    if incident.time_to_acknowledge is not None:
        lines.append(f"Time to acknowledge: {fmt_duration(incident.time_to_acknowledge)}.")
    if incident.time_to_resolve is not None:
        lines.append(f"Time to resolve: {fmt_duration(incident.time_to_resolve)}.")
    lines += ["", "## Impact", f"Services: {', '.join(incident.services) or 'not recorded'}.",
              "", "## Root cause", incident.root_cause or "To be written.",
              "", "## Resolution", incident.resolution or "To be written.",
              "", "## Timeline"]
    lines += [f"- {e.at:%Y-%m-%d %H:%M} UTC {e.actor + ': ' if e.actor else ''}{e.text}"
              for e in timeline]
    lines += ["", "## Action items"]
    lines += [f"- [{'x' if a.done else ' '}] {a.text}" + (f" ({a.owner})" if a.owner else "")
              for a in actions] or ["- none recorded"]
    return Document(
        id=f"postmortem-{incident.id.lower()}", kind="postmortem",
        title=f"{incident.id}: {incident.title}", body="\n".join(lines) + "\n",
        source=f"opscopilot:{incident.id}", date=incident.declared_at.date(),
        severity=incident.severity, services=list(incident.services),
        root_cause=incident.root_cause, resolution=incident.resolution,
        action_items=[a.text for a in actions], tags=["opscopilot-draft"])
