"""Build the runbook service from settings: the library, the policy, the state database, the
audit log and the target (the sandbox by default, real kubectl/helm/HTTP in production)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from infra.audit import AuditLog
from infra.state import state_engine
from tools.runbooks.engine import Target
from tools.runbooks.loader import RunbookLibrary
from tools.runbooks.policy import Policy
from tools.runbooks.seams import PrometheusReader, SubprocessExecutor, WallClock
from tools.runbooks.service import RunbookService

if TYPE_CHECKING:
    from infra.settings import Settings
    from tools.runbooks.sandbox_target import SandboxWorld


def sandbox_world(settings: Settings, scenario: str | None = None) -> SandboxWorld:
    from tools.runbooks.sandbox_target import SandboxWorld
    from tools.sandbox.simulator import load_sandbox

    return SandboxWorld(load_sandbox(scenario or settings.sandbox.scenario))


def build_target(settings: Settings, scenario: str | None = None) -> Target:
    if settings.runbooks.target == "sandbox":
        from tools.runbooks.sandbox_target import sandbox_target

        return sandbox_target(sandbox_world(settings, scenario))[0]
    prom = settings.prometheus.url
    return Target("production", SubprocessExecutor(),
                  PrometheusReader(str(prom)) if prom else None, WallClock())


def build_service(settings: Settings, target: Target | None = None,
                  policy: Policy | None = None, scenario: str | None = None,
                  clock: Callable[[], float] = time.time) -> RunbookService:
    cfg = settings.runbooks
    library = RunbookLibrary.load(cfg.library_dirs or None)
    return RunbookService(library, policy or Policy.load(cfg.policy_file),
                          state_engine(settings), AuditLog.from_settings(settings),
                          target or build_target(settings, scenario), clock, cfg.output_limit,
                          cfg.request_ttl_minutes * 60)
