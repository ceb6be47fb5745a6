"""The state store on SQLite (the default) and on a real PostgreSQL (Debian's package)."""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Integer, String, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from infra.state import Base, database_url, ensure_tables, session_factory, state_engine
from tests.servers import PostgresServer, needs


class _Counter(Base):
    __tablename__ = "test_state_counter"
    __table_args__ = (UniqueConstraint("key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(64))


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    folder = tempfile.mkdtemp(prefix="opscopilot-pg-")
    server = PostgresServer(folder)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=needs(
    "initdb", package="postgresql"))])
def engine_settings(request, settings, tmp_path):
    if request.param == "sqlite":
        return settings.model_copy(update={"data_dir": tmp_path})
    return settings.model_copy(update={"database_url": request.getfixturevalue("postgres_url")})


def test_default_is_a_sqlite_file_under_data_dir(settings, tmp_path) -> None:
    url = database_url(settings.model_copy(update={"data_dir": tmp_path / "state"}))
    assert url == f"sqlite:///{tmp_path / 'state' / 'opscopilot.db'}"
    assert (tmp_path / "state").is_dir()


def test_one_engine_per_url_and_unique_keys_hold_under_concurrency(engine_settings) -> None:
    engine = state_engine(engine_settings)
    assert state_engine(engine_settings) is engine
    ensure_tables(engine)
    ensure_tables(engine)  # idempotent
    sessions = session_factory(engine)
    with sessions.begin() as s:
        s.query(_Counter).delete()
    outcomes: list[str] = []

    def claim() -> None:  # what an idempotency key does: exactly one of many writers wins
        try:
            with sessions.begin() as s:
                s.add(_Counter(key="run-42"))
            outcomes.append("won")
        except IntegrityError:
            outcomes.append("lost")

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["lost"] * 7 + ["won"]
    with sessions() as s:
        assert s.scalars(select(_Counter.key)).all() == ["run-42"]
