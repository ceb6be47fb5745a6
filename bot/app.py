"""Build the copilot from settings: backends, the tool registry, the router. The one place that
decides which implementation serves which seam (tools/backends/selection.py has the rules: a
scenario asks for the sandbox; otherwise configured real backends, the sandbox filling the rest
only in sandbox mode, and "not configured" answers for what is left)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bot.answer import BadTimeWindow
from bot.copilot import Copilot
from bot.router import Router
from bot.timewindow import asked_at
from infra import telemetry
from infra.settings import Settings, SettingsError
from infra.state import state_engine
from knowledge.kb import KnowledgeBase
from knowledge.store import StoreError
from tools.anomaly.models import MODEL_NAME, current_config, shadow_recorder
from tools.anomaly.registry import ModelRegistry
from tools.anomaly.robust import RobustConfig
from tools.anomaly.shadow import ShadowRecorder
from tools.backends.selection import Backends, configured_seams, select_backends, uses_sandbox
from tools.base import ToolRegistry
from tools.capacity import ForecastCapacity
from tools.events import FiringAlerts, RecentChanges
from tools.incident import IncidentContext
from tools.k8s.state import KubernetesSource
from tools.k8s.tool import KubernetesDiagnose
from tools.knowledge import SearchIncidents, SuggestRunbooks
from tools.logs import SearchLogs
from tools.metrics import DetectMetricAnomalies, QueryMetrics
from tools.runbooks.loader import RunbookLibrary
from tools.runbooks.policy import Policy
from tools.runbooks.tool import ProposeRunbooks
from tools.sandbox.backend import SandboxBackend
from tools.sandbox.simulator import Sandbox, load_sandbox
from tools.traces import SearchTraces

if TYPE_CHECKING:
    import httpx

    from bot.llm.progress import Progress

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """A built copilot and what it reads from, for adapters that need both."""

    copilot: Copilot
    sandbox: Sandbox | None
    kb: KnowledgeBase | None = None
    backends: Backends | None = None

    def warm(self) -> None:
        """Pay the start-up costs now (router training, model load, knowledge-base index), so a
        long-lived process (chat, the Slack bot) answers its first question as fast as the rest."""
        self.copilot.router.warm_up()
        self.copilot.router.route("warm up", datetime.now(UTC))
        try:
            if self.kb is not None and not self.kb.is_empty():
                self.kb.warm()
        except StoreError as exc:  # warming is a head start: answers say what the store said
            log.warning("knowledge base not warmed: %s", exc)

    def default_now(self) -> datetime:
        """The scenario's "now" in the sandbox (a few minutes into its incident), else the clock."""
        if self.sandbox is not None:
            return datetime.fromtimestamp(self.sandbox.now, UTC)
        return datetime.now(UTC)

    def asked_at(self, value: str | None, default: datetime | None = None,
                 name: str = "--at") -> datetime:
        """When a question is asked (`bot.timewindow.asked_at`'s grammar; `default`: the
        scenario's now), inside the sandbox scenario's data when there is one."""
        default = default or self.default_now()
        if value is None or not value.strip():
            return default
        when = asked_at(value, default, name)
        sb = self.sandbox
        if sb is not None and not sb.start < when.timestamp() <= sb.end:
            first = datetime.fromtimestamp(sb.start, UTC)
            last = datetime.fromtimestamp(sb.end, UTC)
            raise BadTimeWindow(f"{name} {when:%Y-%m-%d %H:%M} UTC is outside the scenario's "
                                f"data ({first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC)")
        return when


def build_registry(backend: Backends, kb: KnowledgeBase | None = None,
                   detector: RobustConfig | None = None,
                   shadow: ShadowRecorder | None = None,
                   kubernetes: KubernetesSource | None = None,
                   kubernetes_log_lines: int = 20) -> ToolRegistry:
    """`backend` holds one backend per seam (and answers every protocol itself, delegating);
    `detector` is the fitted anomaly model's configuration, when one is current; `shadow` the
    shadow version that judges the same series beside it (tools/anomaly/shadow.py);
    `kubernetes` the cluster the Kubernetes tool reads, when one is configured."""
    registry = ToolRegistry()
    registry.register(QueryMetrics(backend.metrics, detector, shadow))
    anomalies = DetectMetricAnomalies(backend.metrics, detector, shadow)
    registry.register(anomalies)
    registry.register(SearchLogs(backend.logs, backend))  # the graph as it is at each call
    registry.register(RecentChanges(backend.changes_source))
    registry.register(FiringAlerts(backend.alerts, backend.topology))
    registry.register(ForecastCapacity(backend.metrics, backend))
    registry.register(SearchTraces(backend.traces))
    registry.register(IncidentContext(backend.metrics, backend, backend.logs,
                                      backend.changes_source, backend.alerts, anomalies))
    if kubernetes is not None:
        registry.register(KubernetesDiagnose(kubernetes, kubernetes_log_lines))
    if kb is not None:
        registry.register(SearchIncidents(kb))
        registry.register(SuggestRunbooks(kb))
    return registry


def runbook_proposer(settings: Settings, sandbox: Sandbox | None) -> ProposeRunbooks:
    """The executable runbooks an answer can hand over, with their dry-run plans; the library,
    the policy and the sandbox's facts are read on the first proposal, not at start-up."""
    cfg = settings.runbooks
    facts: list[Callable[[str], dict[str, str]]] = []

    def load() -> tuple[RunbookLibrary, Policy]:
        return RunbookLibrary.load(cfg.library_dirs or None), Policy.load(cfg.policy_file)

    def facts_for(service: str) -> dict[str, str]:
        if sandbox is None:
            return {}
        if not facts:
            from tools.runbooks.sandbox_target import SandboxWorld

            facts.append(SandboxWorld(sandbox).facts)
        return facts[0](service)

    return ProposeRunbooks(None, None, cfg.target, facts_for, load=load)


def kubernetes_source(settings: Settings, backends: Backends,
                      sandbox: Sandbox | None = None) -> KubernetesSource | None:
    """The cluster from the `kubernetes` settings (its breaker among the other servers'), else
    the sandbox's view of its shop, else None. A kubeconfig that cannot be used stops start-up
    in one line."""
    k = settings.kubernetes
    if not k.enabled:
        if sandbox is None:
            return None
        from tools.sandbox.kubernetes import SandboxKubernetes

        return SandboxKubernetes(sandbox)
    from tools.backends.kubernetes import KubernetesBackend, KubernetesConfig
    from tools.base import BackendError

    config = KubernetesConfig(tuple(k.namespaces), str(k.kubeconfig) if k.kubeconfig else None,
                              k.context, k.in_cluster, k.timeout_s)
    try:
        source = KubernetesBackend.from_config(config)
    except BackendError as exc:
        raise SettingsError(f"{exc} (OPSCOPILOT_KUBERNETES__KUBECONFIG, ..._CONTEXT, "
                            "..._IN_CLUSTER)") from None
    source.breaker = backends.health.breaker("Kubernetes", source.url)
    return source


def build_backends(settings: Settings, scenario: str | Path | None = None,
                   transport: httpx.BaseTransport | None = None,
                   clock: Callable[[], float] = time.time) -> tuple[Backends, Sandbox | None]:
    """A scenario given: the sandbox serves every seam. Else what the settings configure."""
    sandbox = None
    if scenario is not None or uses_sandbox(settings):
        sandbox = load_sandbox(scenario or settings.sandbox.scenario)
        if scenario is not None or not configured_seams(settings):
            return Backends.from_sandbox(SandboxBackend(sandbox)), sandbox
    try:
        backends = select_backends(settings, SandboxBackend(sandbox) if sandbox else None,
                                   transport, clock=clock)
    except ValueError as exc:  # an unusable PromQL templates or service graph file
        raise SettingsError(str(exc)) from None
    return backends, sandbox


def build_runtime(settings: Settings, scenario: str | Path | None = None,
                  router: Router | None = None,
                  transport: httpx.BaseTransport | None = None,
                  clock: Callable[[], float] = time.time) -> Runtime:
    """The copilot over the backends `build_backends` chooses.

    Pass `router` to share one trained router between runtimes (tests, evals): training it is
    the only slow part of a start. `transport` and `clock` are the HTTP and time seams for tests.
    """
    backends, sandbox = build_backends(settings, scenario, transport, clock)
    services = backends.services()
    if router is None:
        from knowledge.embeddings import shared_embedder

        router = Router(shared_embedder(), services,
                        cache_dir=settings.resolved_cache_dir() / "router")
    else:
        router.services = services
    router.services_incomplete = bool(backends.discovery_problems())
    kb = KnowledgeBase.from_settings(settings)  # opens nothing until the first search
    models = ModelRegistry.under(settings.resolved_data_dir())
    detector = current_config(models)
    telemetry.set_model_versions(MODEL_NAME, models.aliases(MODEL_NAME))
    shadow = shadow_recorder(models, detector, lambda: state_engine(settings))
    registry = build_registry(backends, kb, detector, shadow,
                              kubernetes_source(settings, backends, sandbox),
                              settings.kubernetes.log_lines)
    registry.register(runbook_proposer(settings, sandbox))
    copilot = Copilot(router, registry, backends.topology, settings)
    runtime = Runtime(copilot, sandbox, kb, backends)
    if settings.mode == "llm":  # LLM mode wraps the same tools (bot/llm, docs/llm.md)
        apply_mode(runtime, settings)
    return runtime


def apply_mode(runtime: Runtime, settings: Settings, mode: str | None = None,
               progress: Progress | None = None) -> None:
    """Set `runtime.copilot` for `mode` (default: settings.mode): the one place a mode is
    chosen (start-up and the CLI's --mode switch). LLM mode is imported only when chosen."""
    chosen = mode or settings.mode
    if chosen not in ("deterministic", "llm"):
        raise SettingsError(f"--mode {chosen!r}: choose deterministic or llm")
    from bot.llm.copilot import LLMCopilot, build_llm_copilot

    if chosen == "llm":
        runtime.copilot = build_llm_copilot(runtime.copilot, settings, progress=progress)
    elif isinstance(runtime.copilot, LLMCopilot):
        runtime.copilot = runtime.copilot.deterministic
