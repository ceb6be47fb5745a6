"""The copilot's state store: one SQLAlchemy engine for incidents, approvals, feedback and eval
runs. SQLite under `data_dir` by default; PostgreSQL (or any SQLAlchemy URL) through
`OPSCOPILOT_DATABASE_URL` for several replicas. Each feature declares its tables on `Base` in its
own module and calls `ensure_tables(engine)` after importing them.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import DeclarativeBase, sessionmaker

if TYPE_CHECKING:
    from infra.settings import Settings


class Base(DeclarativeBase):
    """The declarative base every state table derives from."""


_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def database_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    path = settings.resolved_data_dir() / "opscopilot.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def state_engine(settings: Settings) -> Engine:
    """One engine per URL per process (pooled connections, thread-safe)."""
    url = database_url(settings)
    with _lock:
        if url not in _engines:
            _engines[url] = _create(url)
        return _engines[url]


def _create(url: str) -> Engine:
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(conn, _record):  # type: ignore[no-untyped-def]
        # WAL: readers do not block the writer; busy_timeout: writers wait instead of failing.
        cur = conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    return engine


def ensure_tables(engine: Engine) -> None:
    """Create the tables of every imported state module that do not exist yet (idempotent)."""
    Base.metadata.create_all(engine)


def session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)
