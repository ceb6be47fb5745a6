"""Once-only handling of Slack deliveries across replicas: the first `claim(key)` wins.

Slack redelivers an event whose ack was late (same `event_id`, header `x-slack-retry-num`), and
people double-click buttons. Each such delivery claims a key (`event:Ev123`,
`click:approve:42:U7`) in a state table with a unique primary key; only the first claimer acts.
With PostgreSQL behind several HTTP replicas the claim holds across processes too. Old keys are
pruned on the way. `release(key)` gives a key back, so only accepted actions keep theirs.
"""

from __future__ import annotations

import time

from sqlalchemy import Float, String, delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from infra.settings import Settings
from infra.state import Base, ensure_tables, session_factory, state_engine

KEEP_SECONDS = 24 * 3600
PRUNE_EVERY = 500


class SlackClaim(Base):
    __tablename__ = "slack_claims"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    at: Mapped[float] = mapped_column(Float, index=True)


class Claims:
    """`claim(key) -> bool`: True for the first caller with that key, False for every repeat."""

    def __init__(self, settings: Settings) -> None:
        engine = state_engine(settings)
        ensure_tables(engine)
        self._session = session_factory(engine)
        self._count = 0

    def claim(self, key: str) -> bool:
        now = time.time()
        with self._session() as session:
            session.add(SlackClaim(key=key[:200], at=now))
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                return False
        self._count += 1
        if self._count % PRUNE_EVERY == 0:
            self.prune(now - KEEP_SECONDS)
        return True

    def release(self, key: str) -> None:
        """Give a key back (a click that was refused must not block the next one)."""
        with self._session() as session:
            session.execute(delete(SlackClaim).where(SlackClaim.key == key[:200]))
            session.commit()

    def prune(self, before: float) -> None:
        with self._session() as session:
            session.execute(delete(SlackClaim).where(SlackClaim.at < before))
            session.commit()
