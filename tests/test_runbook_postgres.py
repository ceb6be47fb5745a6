"""The audit log and the run guard on a real PostgreSQL (Debian's package): concurrent appends
keep one chain, a concurrent double run runs once, tampering is caught."""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import update

from infra.audit import AuditLog, AuditRow
from infra.state import state_engine
from tests.runbook_support import POLICY, FakeClock, library
from tests.servers import PostgresServer, needs
from tools.runbooks.policy import Policy, PolicyModel
from tools.runbooks.sandbox_target import SandboxWorld, sandbox_target
from tools.runbooks.service import RunbookService
from tools.sandbox.simulator import load_sandbox

pytestmark = needs("initdb", package="postgresql")


@pytest.fixture(scope="module")
def pg_settings(settings) -> Iterator[object]:
    folder = tempfile.mkdtemp(prefix="opscopilot-pg-runbooks-")
    server = PostgresServer(folder)
    server.start()
    try:
        yield settings.model_copy(update={"database_url": server.url})
    finally:
        server.stop()


def _run_threads(n: int, fn) -> None:  # type: ignore[no-untyped-def]
    barrier = threading.Barrier(n)

    def go(i: int) -> None:
        barrier.wait()
        fn(i)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_concurrent_double_run_runs_once_on_postgres(pg_settings):
    engine = state_engine(pg_settings)
    world = SandboxWorld(load_sandbox("pool-exhaustion-payment"))
    target, cli, transport = sandbox_target(world)
    svc = RunbookService(library(), Policy(PolicyModel.model_validate(POLICY)), engine,
                         AuditLog(engine), target, FakeClock())
    req = svc.request("alice", "raise-connection-pool", {"service": "payment"})
    svc.approve("carol", req.id, req.plan_hash)
    results = []
    _run_threads(6, lambda i: results.append(svc.run("bob", req.id, f"k{i % 2}")))
    assert sum(r.ran for r in results) == 1
    assert len([r for r in transport.requests if r.method == "PUT"]) == 1
    assert svc.status(req.id).status == "succeeded"
    assert svc.audit.verify().ok


def test_audit_chain_on_postgres(pg_settings):
    log = AuditLog.from_settings(pg_settings)
    start = len(log.entries())
    _run_threads(6, lambda i: [log.append(f"w{i}", "step", "pg", {"n": n}) for n in range(8)])
    entries = log.entries()
    assert len(entries) == start + 48
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    assert log.verify().ok
    with log.engine.begin() as conn:
        conn.execute(update(AuditRow).where(AuditRow.seq == 3).values(action="nothing"))
    result = log.verify()
    assert not result.ok and any(p.startswith("entry 3 ") for p in result.problems)
