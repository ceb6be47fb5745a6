"""The hash-chained audit log: appends, verification, tampering, concurrent writers."""

from __future__ import annotations

import threading

from sqlalchemy import delete, text, update

from infra.audit import GENESIS, AuditLog, AuditRow
from tests.runbook_support import fast_engine


def _log(tmp_path, n: int = 5) -> AuditLog:
    log = AuditLog(fast_engine(tmp_path))
    for i in range(n):
        log.append(f"user{i}", "approval", f"request:r{i}", {"i": i, "note": "password=hunter2"})
    return log


def test_append_chains_and_verifies(tmp_path):
    log = _log(tmp_path)
    entries = log.entries()
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in zip(entries, entries[1:], strict=False))
    assert entries[2].details["note"] == "password=[REDACTED]"  # secrets never reach the log
    result = log.verify()
    assert result.ok and result.problems == [] and result.entries == 5


def test_edited_entry_fails_verify(tmp_path):
    log = _log(tmp_path)
    with log.engine.begin() as conn:
        conn.execute(update(AuditRow).where(AuditRow.seq == 3).values(actor="mallory"))
    result = log.verify()
    assert not result.ok
    assert any(p.startswith("entry 3 ") and "edited" in p for p in result.problems)


def test_edited_details_fail_verify(tmp_path):
    log = _log(tmp_path)
    with log.engine.begin() as conn:
        conn.execute(update(AuditRow).where(AuditRow.seq == 2).values(details='{"i": 99}'))
    assert any("entry 2 " in p for p in log.verify().problems)


def test_deleted_entry_fails_verify(tmp_path):
    log = _log(tmp_path)
    with log.engine.begin() as conn:
        conn.execute(delete(AuditRow).where(AuditRow.seq == 2))
    result = log.verify()
    assert not result.ok
    assert any("entry 3 " in p and "missing" in p for p in result.problems)


def test_reordered_entries_fail_verify(tmp_path):
    log = _log(tmp_path)
    with log.engine.begin() as conn:  # swap entries 2 and 4 (prev_hash is unique: go via 99)
        conn.execute(update(AuditRow).where(AuditRow.seq == 2).values(seq=99))
        conn.execute(update(AuditRow).where(AuditRow.seq == 4).values(seq=2))
        conn.execute(update(AuditRow).where(AuditRow.seq == 99).values(seq=4))
    result = log.verify()
    assert not result.ok
    named = " ".join(result.problems)
    assert "entry 2 " in named and "entry 4 " in named


def test_rewritten_chain_without_the_hash_secret_is_caught(tmp_path):
    """Re-hashing an edited entry still breaks the next entry's link."""
    from infra.audit import entry_hash

    log = _log(tmp_path)
    with log.engine.begin() as conn:
        row = conn.execute(text("SELECT seq, ts, action, subject, details, prev_hash "
                                "FROM audit_log WHERE seq = 2")).one()
        forged = entry_hash(2, row.ts, "mallory", row.action, row.subject, row.details,
                            row.prev_hash)
        conn.execute(update(AuditRow).where(AuditRow.seq == 2)
                     .values(actor="mallory", hash=forged))
    result = log.verify()
    assert not result.ok and any("entry 3 " in p and "link" in p for p in result.problems)


def test_concurrent_appends_keep_one_chain(tmp_path):
    log = AuditLog(fast_engine(tmp_path))
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
    assert log.verify().ok


def test_from_settings_uses_the_state_database(settings):
    log = AuditLog.from_settings(settings)
    entry = log.append("cli", "test", "audit:from_settings", None)
    assert entry.details == {} and log.entries(subject="audit:from_settings")[-1] == entry
