"""Which implementation serves which seam (metrics, logs, traces, changes, alerts, topology),
decided once from settings.

- A real backend serves each seam it is configured for (Prometheus, Alertmanager and/or
  Prometheus' own alerts, Loki, Jaeger or Tempo, the change-event webhook store).
- The sandbox serves a seam nothing real is configured for only in sandbox mode
  (`uses_sandbox`): always with an explicit scenario, else per `sandbox.fallback`.
- Otherwise the seam is `Unconfigured`: every read raises `NotConfigured`, which the tool
  registry turns into a ToolResult saying what to set ("no logs backend is configured: set
  OPSCOPILOT_LOKI__URL").
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

import httpx
from pydantic import SecretStr

from infra import telemetry
from tools.backends import (
    AlertsBackend,
    ChangesBackend,
    EveryBackend,
    LogsBackend,
    MetricsBackend,
    TracesBackend,
)
from tools.backends.alertmanager import AlertmanagerBackend, CombinedAlerts, PrometheusAlertsBackend
from tools.backends.health import BackendHealth
from tools.backends.jaeger import JaegerBackend
from tools.backends.loki import LokiBackend
from tools.backends.prometheus import (
    DEFAULT_CAPACITY,
    DEFAULT_TEMPLATES,
    PrometheusBackend,
    load_templates,
)
from tools.backends.seams import HINTS, Backends, NotConfigured, Unconfigured
from tools.backends.tempo import TempoBackend
from tools.backends.topology import DiscoveredTopology, StaticTopology, load_topology_file
from tools.backends.tracing import Call

__all__ = ["HINTS", "Backends", "NotConfigured", "Unconfigured", "select_backends",
           "configured_seams", "uses_sandbox"]

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from infra.settings import Settings

DEPENDENCY_LOOKBACK_S = 24 * 3600


def configured_seams(settings: Settings) -> list[str]:
    """The seams a real backend is configured for."""
    seams = []
    if settings.prometheus.url:
        seams.append("metrics")
    if settings.alertmanager.url or (settings.prometheus.url and settings.prometheus.alerts):
        seams.append("alerts")
    if settings.loki.url:
        seams.append("logs")
    if settings.traces.url:
        seams.append("traces")
    if settings.events.enabled:
        seams.append("changes")
    return seams


def uses_sandbox(settings: Settings) -> bool:
    """Whether the sandbox fills the seams no real backend is configured for."""
    if settings.sandbox.fallback == "always":
        return True
    return settings.sandbox.fallback == "auto" and not configured_seams(settings)


def http_client(timeout_s: float, token: SecretStr | None,
                transport: httpx.BaseTransport | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token.get_secret_value()}"} if token else {}
    return httpx.Client(headers=headers, timeout=timeout_s, transport=transport)


def select_backends(settings: Settings, sandbox: EveryBackend | None = None,
                    transport: httpx.BaseTransport | None = None,
                    engine: Engine | None = None,
                    clock: Callable[[], float] = time.time) -> Backends:
    """The backends the settings ask for; `sandbox` (when given) fills the other seams.

    Raises TemplateFileError / TopologyError (ValueError) for unusable files. `transport` is
    the HTTP seam tests use; `engine` is the state database the change-event store lives in;
    `clock` tells the alert sources which questions are about the past.
    """
    from tools.catalog import METRICS

    fill = sandbox if sandbox is not None else None
    missing: list[str] = []

    def fallback(seam: str) -> Unconfigured | EveryBackend:
        if fill is not None:
            return fill
        missing.append(seam)
        return Unconfigured(seam)

    p, a, lk, tr = settings.prometheus, settings.alertmanager, settings.loki, settings.traces
    metrics: MetricsBackend
    prometheus = None
    # One breaker per server, shared by its readers (Prometheus' metrics, alerts and discovery:
    # one server, one verdict) and queryable as `backends.health.states()`.
    health = BackendHealth(settings.breaker.cooldown_s)
    telemetry.watch_breakers(health.states)  # scraped as opscopilot_backend_breaker_state
    if p.url:
        templates, capacity = dict(DEFAULT_TEMPLATES), dict(DEFAULT_CAPACITY)
        label, window = p.service_label, p.rate_window
        if p.templates_file is not None:
            team = load_templates(p.templates_file.expanduser(), list(METRICS))
            templates.update(team.templates)
            capacity.update(team.capacity)
            label, window = team.service_label or label, team.rate_window or window
        prometheus = PrometheusBackend(
            str(p.url), http_client(p.timeout_s, p.bearer_token, transport), templates, label,
            window, p.step_s, p.timeout_s, p.retries, discover_metrics=p.discover_metrics,
            capacity_templates=capacity, breaker=health.breaker("Prometheus", str(p.url)))
        metrics = prometheus
    else:
        metrics = fallback("metrics")

    alert_sources: list[AlertsBackend] = []
    if a.url:
        alert_sources.append(AlertmanagerBackend(
            str(a.url), http_client(a.timeout_s, a.bearer_token, transport),
            timeout_s=a.timeout_s, retries=a.retries,
            breaker=health.breaker("Alertmanager", str(a.url)), clock=clock))
    if p.url and p.alerts:
        alert_sources.append(PrometheusAlertsBackend(
            str(p.url), http_client(p.timeout_s, p.bearer_token, transport),
            timeout_s=p.timeout_s, retries=p.retries,
            breaker=health.breaker("Prometheus", str(p.url)), clock=clock))
    alerts: AlertsBackend = (CombinedAlerts(alert_sources) if len(alert_sources) > 1
                             else alert_sources[0] if alert_sources else fallback("alerts"))

    logs: LogsBackend
    loki = None
    if lk.url:
        loki = LokiBackend(str(lk.url), http_client(lk.timeout_s, lk.bearer_token, transport),
                           timeout_s=lk.timeout_s, retries=lk.retries,
                           breaker=health.breaker("Loki", str(lk.url)),
                           service_label=lk.service_label, level_label=lk.level_label)
        logs = loki
    else:
        logs = fallback("logs")

    traces: TracesBackend
    tracer: JaegerBackend | TempoBackend | None = None
    if tr.url:
        client = http_client(tr.timeout_s, tr.bearer_token, transport)
        breaker = health.breaker("Jaeger" if tr.kind == "jaeger" else "Tempo", str(tr.url))
        tracer = (JaegerBackend(str(tr.url), client, timeout_s=tr.timeout_s, retries=tr.retries,
                                breaker=breaker)
                  if tr.kind == "jaeger" else
                  TempoBackend(str(tr.url), client, timeout_s=tr.timeout_s, retries=tr.retries,
                               breaker=breaker))
        traces = tracer
    else:
        traces = fallback("traces")

    changes: ChangesBackend
    if settings.events.enabled:
        from infra.state import state_engine
        from tools.backends.change_store import ChangeStore

        changes = ChangeStore(engine if engine is not None else state_engine(settings))
    else:
        changes = fallback("changes")

    topology = _topology(settings, fill, prometheus, loki, tracer)
    return Backends(metrics, logs, traces, changes, alerts, topology, fill, missing, health)


def _topology(settings: Settings, sandbox: EveryBackend | None,
              prometheus: PrometheusBackend | None, loki: LokiBackend | None,
              tracer: JaegerBackend | TempoBackend | None) -> DiscoveredTopology:
    graph: dict[str, list[str]] = {}
    if sandbox is not None:
        graph = {s: sandbox.dependencies(s) for s in sandbox.services()}
    if settings.topology.file is not None:
        team = load_topology_file(settings.topology.file.expanduser())
        for s in team.services():
            graph[s] = list(dict.fromkeys(graph.get(s, []) + team.dependencies(s)))
    lists = [b.services for b in (prometheus, loki) if b is not None]
    calls = None
    if tracer is not None and settings.topology.from_traces:
        calls = partial(_recent_calls, tracer)
        if isinstance(tracer, JaegerBackend):
            lists.append(tracer.services)
    where = "|".join(str(b.base_url) for b in (prometheus, loki, tracer) if b is not None)
    cache = (settings.resolved_cache_dir() / "topology"
             / f"{hashlib.sha256(where.encode()).hexdigest()[:16]}.json")
    return DiscoveredTopology(StaticTopology(graph) if graph else None, calls, lists,
                              cache_file=cache if where else None)


def _recent_calls(tracer: JaegerBackend | TempoBackend) -> list[Call]:
    now = int(time.time())
    return tracer.dependencies(now - DEPENDENCY_LOOKBACK_S, now)
