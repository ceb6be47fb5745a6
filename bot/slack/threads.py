"""One `Conversation` per Slack thread, kept in the state store so a follow-up in a thread keeps
its context whichever replica receives it, and bounded (the least recently used threads beyond
`max_threads` are forgotten). A thread with a stored conversation is one the bot answers in:
plain replies there (no mention) are questions to it.
"""

from __future__ import annotations

import json
import time

from sqlalchemy import Float, String, Text, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from bot.copilot import Conversation
from infra.settings import Settings
from infra.state import Base, ensure_tables, session_factory, state_engine

MAX_THREADS = 5000


class SlackThread(Base):
    __tablename__ = "slack_threads"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)  # "<channel>:<thread ts>"
    state: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[float] = mapped_column(Float, index=True)


class ThreadStore:
    def __init__(self, settings: Settings, max_threads: int = MAX_THREADS) -> None:
        engine = state_engine(settings)
        ensure_tables(engine)
        self._session = session_factory(engine)
        self.max_threads = max_threads
        self._writes = 0

    @staticmethod
    def key(channel: str, thread_ts: str) -> str:
        return f"{channel}:{thread_ts}"

    def get(self, channel: str, thread_ts: str) -> Conversation | None:
        with self._session() as session:
            row = session.get(SlackThread, self.key(channel, thread_ts))
            if row is None:
                return None
            data = json.loads(row.state)
        window = tuple(data["window"]) if data.get("window") else None
        return Conversation(services=list(data.get("services", [])),
                            window=window,  # type: ignore[arg-type]
                            turns=int(data.get("turns", 0)),
                            incident_query=str(data.get("incident_query", "")),
                            incident_services=list(data.get("incident_services", [])),
                            incident_label=str(data.get("incident_label", "")))

    def save(self, channel: str, thread_ts: str, conversation: Conversation) -> None:
        state = json.dumps({"services": conversation.services,
                            "window": list(conversation.window) if conversation.window else None,
                            "turns": conversation.turns,
                            "incident_query": conversation.incident_query,
                            "incident_services": conversation.incident_services,
                            "incident_label": conversation.incident_label})
        with self._session() as session:
            session.merge(SlackThread(key=self.key(channel, thread_ts), state=state,
                                      updated_at=time.time()))
            session.commit()
        self._writes += 1
        if self._writes % 100 == 0:
            self.prune()

    def prune(self) -> None:
        """Forget the least recently used threads beyond `max_threads`."""
        with self._session() as session:
            cutoff = session.execute(
                select(SlackThread.updated_at).order_by(SlackThread.updated_at.desc())
                .offset(self.max_threads).limit(1)).scalar()
            if cutoff is not None:
                session.execute(delete(SlackThread).where(SlackThread.updated_at <= cutoff))
                session.commit()

    def count(self) -> int:
        with self._session() as session:
            return len(session.execute(select(SlackThread.key)).all())
