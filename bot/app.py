"""Build the copilot from settings: backends, the tool registry, the router. The one place that
decides which implementation serves which seam."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot.copilot import Copilot
from bot.router import Router
from bot.settings import Settings
from knowledge.kb import KnowledgeBase
from tools.backends.sandbox import SandboxBackend
from tools.base import ToolRegistry
from tools.events import FiringAlerts, RecentChanges
from tools.knowledge import SearchIncidents, SuggestRunbooks
from tools.logs import SearchLogs
from tools.metrics import DetectMetricAnomalies, QueryMetrics
from tools.sandbox.simulator import Sandbox, load_sandbox
from tools.traces import SearchTraces


@dataclass
class Runtime:
    """A built copilot and what it reads from, for adapters that need both."""

    copilot: Copilot
    sandbox: Sandbox | None
    kb: KnowledgeBase | None = None

    def warm(self) -> None:
        """Pay the start-up costs now (router training, model load, knowledge-base index), so a
        long-lived process (chat, the Slack bot) answers its first question as fast as the rest."""
        self.copilot.router.warm_up()
        self.copilot.router.route("warm up", datetime.now(UTC))
        if self.kb is not None and not self.kb.is_empty():
            self.kb.warm()

    def default_now(self) -> datetime:
        """The scenario's "now" in the sandbox (a few minutes into its incident), else the clock."""
        if self.sandbox is not None:
            return datetime.fromtimestamp(self.sandbox.now, UTC)
        return datetime.now(UTC)


def build_registry(backend: SandboxBackend, kb: KnowledgeBase | None = None) -> ToolRegistry:
    registry = ToolRegistry()
    registry.register(QueryMetrics(backend))
    registry.register(DetectMetricAnomalies(backend))
    registry.register(SearchLogs(backend, backend.services()))
    registry.register(RecentChanges(backend))
    registry.register(FiringAlerts(backend))
    registry.register(SearchTraces(backend))
    if kb is not None:
        registry.register(SearchIncidents(kb))
        registry.register(SuggestRunbooks(kb))
    return registry


def build_runtime(settings: Settings, scenario: str | Path | None = None,
                  router: Router | None = None) -> Runtime:
    """The sandbox scenario (argument, else settings) behind every tool.

    Pass `router` to share one trained router between runtimes (tests, evals): training it is
    the only slow part of a start.
    """
    sandbox = load_sandbox(scenario or settings.sandbox.scenario)
    backend = SandboxBackend(sandbox)
    if router is None:
        from knowledge.embeddings import shared_embedder

        router = Router(shared_embedder(), backend.services(),
                        cache_dir=settings.resolved_cache_dir() / "router")
    else:
        router.services = backend.services()
    kb = KnowledgeBase.from_settings(settings)  # opens nothing until the first search
    copilot = Copilot(router, build_registry(backend, kb), backend, settings)
    return Runtime(copilot, sandbox, kb)
