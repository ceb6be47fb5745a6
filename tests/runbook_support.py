"""Shared set-up for the runbook tests: a service on a fresh SQLite file, a sandbox world, a
policy from text, a settable clock, and the recording seams that prove nothing ran."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, event

from infra.audit import AuditLog
from infra.state import _create
from tools.runbooks.engine import Target
from tools.runbooks.loader import RunbookLibrary
from tools.runbooks.policy import Policy, PolicyModel
from tools.runbooks.sandbox_target import ControlPlaneTransport, SandboxWorld, sandbox_target
from tools.runbooks.service import RunbookService
from tools.runbooks.simcli import SimulatedCli
from tools.sandbox.simulator import load_sandbox

POLICY = {
    "groups": {"sre": ["bob", "carol", "dan"], "oncall": ["alice", "bob"], "dev": ["mallory"]},
    "rules": [
        {"runbooks": ["*"], "risks": ["read-only"], "requesters": ["group:oncall"],
         "approvers": ["group:sre"]},
        {"runbooks": ["*"], "risks": ["low"], "requesters": ["group:oncall"],
         "approvers": ["group:sre"], "min_approvals": 1},
        {"runbooks": ["*"], "risks": ["high"], "requesters": ["group:oncall"],
         "approvers": ["group:sre"], "min_approvals": 1},  # the code raises it to 2
    ],
    "approval_ttl_minutes": 30,
    "read_only_without_approval": True,
}


def fast_engine(tmp_path: Path) -> Engine:
    """The state engine of infra/state.py on a fresh file, without fsync per commit (tests only:
    the audit log commits once per entry)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    engine = _create(f"sqlite:///{tmp_path / 'state.db'}")

    @event.listens_for(engine, "connect")
    def _no_sync(conn, _record):  # type: ignore[no-untyped-def]
        conn.execute("PRAGMA synchronous=OFF")

    return engine


@functools.lru_cache(maxsize=1)
def library() -> RunbookLibrary:
    return RunbookLibrary.load()


class FakeClock:
    def __init__(self, t: float = 1_800_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@dataclass
class Rig:
    service: RunbookService
    world: SandboxWorld
    cli: SimulatedCli
    transport: ControlPlaneTransport
    clock: FakeClock
    audit: AuditLog

    @property
    def ran_anything(self) -> bool:
        return bool(self.cli.calls or self.transport.requests)


def make_rig(tmp_path: Path, scenario: str = "pool-exhaustion-payment",
             policy: dict | None = None, target: Target | None = None) -> Rig:
    engine = fast_engine(tmp_path)
    world = SandboxWorld(load_sandbox(scenario))
    sandbox, cli, transport = sandbox_target(world)
    clock = FakeClock()
    audit = AuditLog(engine)
    service = RunbookService(library(), Policy(PolicyModel.model_validate(
        policy or POLICY)), engine, audit, target or sandbox, clock)
    return Rig(service, world, cli, transport, clock, audit)
