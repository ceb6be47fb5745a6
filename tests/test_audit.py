"""The keyed audit log: appends, verification, every kind of tampering (each on SQLite and on a
real PostgreSQL), old unkeyed data, the checkpoint file, concurrent writers, `audit verify`."""

from __future__ import annotations

import json
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, delete, insert, select, text, update

from infra.audit import GENESIS, KEYED, AuditLog, AuditRow, entry_hash
from infra.state import _create
from tests.runbook_support import fast_engine
from tests.servers import PostgresServer, needs

KEY = b"test-audit-key-0123456789abcdef"
STOLEN_GUESS = b"mallory-guessed-key-0000000000"


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer(tempfile.mkdtemp(prefix="opscopilot-pg-audit-"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=needs(
    "initdb", package="postgresql"))])
def engine_for(request, tmp_path) -> Callable:
    """engine_for() -> a fresh, empty state database of the parametrised kind."""
    def make():  # type: ignore[no-untyped-def]
        if request.param == "sqlite":
            return fast_engine(tmp_path / uuid.uuid4().hex[:6])
        server = request.getfixturevalue("postgres")
        name = f"audit_{uuid.uuid4().hex[:10]}"
        with create_engine(server.url, isolation_level="AUTOCOMMIT").connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
        return _create(server.url.rsplit("/", 1)[0] + f"/{name}")
    return make


def _keyed(engine, tmp_path: Path, n: int = 5) -> AuditLog:  # type: ignore[no-untyped-def]
    log = AuditLog(engine, KEY, tmp_path / "checkpoints.jsonl")
    for i in range(n):
        log.append(f"user{i}", "approval", f"request:r{i}", {"i": i, "note": "password=hunter2"})
    return log


@pytest.fixture
def log(engine_for, tmp_path) -> AuditLog:
    return _keyed(engine_for(), tmp_path)


def _row(log: AuditLog, seq: int):  # type: ignore[no-untyped-def]
    with log.engine.connect() as conn:
        return conn.execute(select(AuditRow).where(AuditRow.seq == seq)).one()


def _set(log: AuditLog, at: int, **values: object) -> None:
    with log.engine.begin() as conn:
        conn.execute(update(AuditRow).where(AuditRow.seq == at).values(**values))


def _bad(log: AuditLog, first: int, *words: str) -> None:
    result = log.verify()
    assert not result.ok and result.first_bad == first, result.problems
    assert all(w in result.problems[0] for w in words), result.problems[0]
    assert result.problems[0].startswith(f"entry {first}")


def test_append_chains_and_verifies(log):
    entries = log.entries()
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev_hash == GENESIS and all(e.hash.startswith(KEYED) for e in entries)
    assert all(b.prev_hash == a.hash for a, b in zip(entries, entries[1:], strict=False))
    assert entries[2].details["note"] == "password=[REDACTED]"  # secrets never reach the log
    result = log.verify()
    assert result.ok and result.problems == [] and result.first_bad is None
    assert result.entries == 5 and result.checkpoints == 5 and result.unkeyed == 0


def test_the_key_is_not_in_the_database(log):
    with log.engine.connect() as conn:
        dump = json.dumps([list(r) for r in conn.execute(select(AuditRow))])
    assert KEY.decode() not in dump


def test_edit_without_rehash_is_named(log):
    _set(log, 3, actor="mallory")
    _bad(log, 3, "edited")


def test_edit_and_rehash_is_named_at_the_edited_entry(log):
    for key in (None, STOLEN_GUESS):  # a plain SHA-256, or a guessed key
        row = _row(log, 2)
        forged = entry_hash(2, row.ts, "mallory", row.action, row.subject, row.details,
                            row.prev_hash, key)
        _set(log, 2, actor="mallory", hash=forged)
        _bad(log, 2)


def test_deleted_middle_entry_is_named(log):
    with log.engine.begin() as conn:
        conn.execute(delete(AuditRow).where(AuditRow.seq == 2))
    _bad(log, 2, "missing", "deleted")


def test_deleted_last_entry_is_named(log):
    with log.engine.begin() as conn:
        conn.execute(delete(AuditRow).where(AuditRow.seq == 5))
    _bad(log, 5, "missing", "truncated")


def test_reordered_entries_are_named(log):
    _set(log, 2, seq=99)  # swap entries 2 and 4 (seq is the primary key: go via 99)
    _set(log, 4, seq=2)
    _set(log, 99, seq=4)
    _bad(log, 2)
    assert any(p.startswith("entry 4 ") for p in log.verify().problems)


def test_rechained_history_is_caught(log):
    """Rewrite entry 3 and re-chain everything after it, hashes and links consistent, without
    the key: the first rewritten entry is named (its keyed hash, and its checkpoint)."""
    prev = _row(log, 2).hash
    with log.engine.begin() as conn:
        for seq in range(3, 6):
            row = conn.execute(select(AuditRow).where(AuditRow.seq == seq)).one()
            actor = "mallory" if seq == 3 else row.actor
            new = entry_hash(seq, row.ts, actor, row.action, row.subject, row.details, prev,
                             STOLEN_GUESS)
            conn.execute(update(AuditRow).where(AuditRow.seq == seq)
                         .values(actor=actor, prev_hash=prev, hash=new))
            prev = new
    _bad(log, 3)
    assert any("signed checkpoint" in p for p in log.verify().problems)


def test_rechained_as_unkeyed_is_caught(log):
    """Even a whole history rewritten as an old-style unkeyed chain is caught by the file."""
    prev = GENESIS
    with log.engine.begin() as conn:
        for seq in range(1, 6):
            row = conn.execute(select(AuditRow).where(AuditRow.seq == seq)).one()
            new = entry_hash(seq, row.ts, row.actor, row.action, row.subject, row.details, prev)
            conn.execute(update(AuditRow).where(AuditRow.seq == seq)
                         .values(prev_hash=prev, hash=new))
            prev = new
    _bad(log, 1, "signed checkpoint")


def test_forged_append_is_caught(log):
    head = _row(log, 5)
    for key in (None, STOLEN_GUESS):
        details = '{"why":"looks legit"}'
        ts = "2026-12-06T10:00:00.000000+00:00"
        forged = entry_hash(6, ts, "mallory", "approval", "request:r9", details, head.hash, key)
        with log.engine.begin() as conn:
            conn.execute(delete(AuditRow).where(AuditRow.seq == 6))
            conn.execute(insert(AuditRow).values(seq=6, ts=ts, actor="mallory", action="approval",
                                                 subject="request:r9", details=details,
                                                 prev_hash=head.hash, hash=forged))
        _bad(log, 6)


def test_edited_checkpoint_file_is_reported(log):
    path = log.checkpoints.path
    lines = path.read_text().splitlines()
    item = json.loads(lines[-1])
    item["seq"] = 99  # pretend the log went further
    path.write_text("\n".join([*lines[:-1], json.dumps(item), "not json"]) + "\n")
    result = log.verify()
    assert not result.ok and result.first_bad is None
    assert any("bad signature" in p for p in result.problems)
    assert any("not a checkpoint" in p for p in result.problems)


def test_old_unkeyed_chain_verifies_as_unkeyed(engine_for, tmp_path):
    engine = engine_for()
    old = AuditLog(engine)  # as before the key existed
    for i in range(3):
        old.append("cli", "approval", f"request:old{i}", {"i": i})
    result = AuditLog(engine, KEY, tmp_path / "cp.jsonl").verify()
    assert result.ok and result.unkeyed == 3 and any("unkeyed" in n for n in result.notes)
    keyed = _keyed(engine, tmp_path, 2)  # appends go on, keyed, after the old entries
    result = keyed.verify()
    assert result.ok and result.entries == 5 and result.unkeyed == 3
    assert [e.hash.startswith(KEYED) for e in keyed.entries()] == [False] * 3 + [True] * 2
    _set(keyed, 2, actor="mallory")
    _bad(keyed, 2, "edited")


def test_keyed_chain_without_the_key_says_so(log):
    result = AuditLog(log.engine).verify()
    assert not result.ok and "OPSCOPILOT_AUDIT__KEY" in result.problems[0]


def test_concurrent_appends_keep_one_chain(tmp_path):
    log = AuditLog(fast_engine(tmp_path), KEY, tmp_path / "cp.jsonl")
    barrier = threading.Barrier(8)

    def writer(w: int) -> None:
        barrier.wait()
        for i in range(10):
            log.append(f"w{w}", "step", f"request:{w}", {"i": i})

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    entries = log.entries()
    assert len(entries) == 80 and [e.seq for e in entries] == list(range(1, 81))
    result = log.verify()
    assert result.ok and result.checkpoints == 80


def test_from_settings_keys_the_log_and_writes_checkpoints(settings, tmp_path):
    local = settings.model_copy(update={"data_dir": tmp_path})
    log = AuditLog.from_settings(local)
    entry = log.append("cli", "test", "audit:from_settings", None)
    assert entry.details == {} and log.entries(subject="audit:from_settings")[-1] == entry
    assert entry.hash.startswith(KEYED) and (tmp_path / "audit.key").stat().st_mode & 0o077 == 0
    assert (tmp_path / "audit-checkpoints.jsonl").read_text().count("\n") == 1
    assert log.verify().ok


def test_short_key_setting_is_one_line(settings, tmp_path):
    from infra.audit_anchor import AuditKeyError, audit_key

    short = settings.model_copy(update={"audit": settings.audit.model_copy(
        update={"key": __import__("pydantic").SecretStr("short")})})
    with pytest.raises(AuditKeyError, match="OPSCOPILOT_AUDIT__KEY: at least 16"):
        audit_key(short)


def test_cli_verify_names_the_first_bad_entry(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from bot.cli import app

    monkeypatch.setenv("OPSCOPILOT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("OPSCOPILOT_DATABASE_URL", f"sqlite:///{tmp_path / 'state.db'}")
    from infra.settings import load_settings

    log = AuditLog.from_settings(load_settings())
    for i in range(4):
        log.append("cli", "approval", f"request:r{i}", {})
    ok = CliRunner().invoke(app, ["audit", "verify"])
    assert ok.exit_code == 0 and "4 entries, chain intact, 4 signed checkpoints" in ok.stdout
    with log.engine.begin() as conn:
        conn.execute(delete(AuditRow).where(AuditRow.seq == 4))
    cut = CliRunner().invoke(app, ["audit", "verify"])
    assert cut.exit_code == 1 and "FAIL first bad entry: 4" in cut.stdout
    assert "truncated" in cut.stdout and "Traceback" not in cut.output
