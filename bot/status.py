"""What the copilot can use right now: every backend seam, the knowledge base, the state
database, the fitted models, Slack and the LLM, each asked once and reported in one line.

`system_status(settings, scenario)` builds the backends the way an answer would
(`bot.app.build_backends`), reads a little from each (tools/backends/probe.py) and checks the
rest without changing anything. Nothing secret is shown: URLs lose their passwords, tokens are
only "set" or not. `opscopilot status` prints it; a failed part gives exit code 1.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.app import build_backends
from tools.backends.probe import Probe, ProbeState, probe_backends

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from infra.settings import Settings


@dataclass(frozen=True)
class Status:
    parts: list[Probe]
    at: float  # the unix time the backends were asked about

    @property
    def failed(self) -> list[Probe]:
        return [p for p in self.parts if p.state is ProbeState.FAILED]

    def to_json(self) -> dict[str, object]:
        return {"at": int(self.at), "ok": not self.failed,
                "parts": [p.to_json() for p in self.parts]}


def system_status(settings: Settings, scenario: str | Path | None = None) -> Status:
    backends, sandbox = build_backends(settings, scenario)
    at = sandbox.now if sandbox is not None else time.time()
    parts = probe_backends(backends, int(at))
    parts += [_kubernetes(settings), _knowledge(settings), _state_database(settings),
              _detector(settings), _slack(settings), _llm(settings)]
    return Status(parts, at)


def _checked(part: str, source: str, check: tuple[type[Exception], ...],
             read: Callable[[], tuple[ProbeState, str]]) -> Probe:
    started = time.perf_counter()
    try:
        state, detail = read()
    except check as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return Probe(part, source, ProbeState.FAILED, first, (time.perf_counter() - started) * 1e3)
    return Probe(part, source, state, detail, (time.perf_counter() - started) * 1e3)


def _kubernetes(settings: Settings) -> Probe:
    """The cluster's pods in the first allow-listed namespace, read once (get/list only)."""
    k = settings.kubernetes
    if not k.enabled:
        return Probe("kubernetes", "not configured", ProbeState.MISSING,
                     "set OPSCOPILOT_KUBERNETES__ENABLED=true (docs/kubernetes.md); a sandbox "
                     "scenario shows its own shop")
    from tools.backends.kubernetes import KubernetesBackend, KubernetesConfig
    from tools.base import BackendError

    config = KubernetesConfig(tuple(k.namespaces), str(k.kubeconfig) if k.kubeconfig else None,
                              k.context, k.in_cluster, k.timeout_s)
    source = "in-cluster" if k.in_cluster else f"kubeconfig {k.kubeconfig or '~/.kube/config'}"

    def read() -> tuple[ProbeState, str]:
        backend = KubernetesBackend.from_config(config)
        pods, _ = backend.list_items("pods", k.namespaces[0])
        return ProbeState.OK, (f"{backend.url}: {len(pods)} pods in {k.namespaces[0]} "
                               f"(allowed: {', '.join(k.namespaces)})")

    return _checked("kubernetes", source, (BackendError,), read)


def _knowledge(settings: Settings) -> Probe:
    from knowledge.kb import KnowledgeBase
    from knowledge.store import StoreError

    where = str(settings.kb.chroma_url) if settings.kb.chroma_url else "local store"

    def read() -> tuple[ProbeState, str]:
        kb = KnowledgeBase.from_settings(settings)
        if kb.is_empty():
            return ProbeState.MISSING, ("empty: run `opscopilot kb seed` (answers lack similar "
                                        "incidents and runbooks until then)")
        return ProbeState.OK, f"{kb.count()} chunks ({settings.kb.model})"

    return _checked("knowledge base", f"chroma ({where})", (StoreError, ValueError, OSError),
                    read)


def _state_database(settings: Settings) -> Probe:
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    from infra.state import state_engine

    engine = state_engine(settings)
    source = engine.url.render_as_string(hide_password=True)

    def read() -> tuple[ProbeState, str]:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return ProbeState.OK, f"{engine.dialect.name} reachable"

    return _checked("state database", source, (SQLAlchemyError, OSError), read)


def _detector(settings: Settings) -> Probe:
    from tools.anomaly.models import MODEL_NAME
    from tools.anomaly.registry import ModelError, ModelRegistry

    def read() -> tuple[ProbeState, str]:
        aliases = ModelRegistry.under(settings.resolved_data_dir()).aliases(MODEL_NAME)
        current, shadow = aliases.get("current"), aliases.get("shadow")
        if not current:
            return ProbeState.OK, ("built-in defaults (no fitted version; `opscopilot model "
                                   "fit` fits one)")
        return ProbeState.OK, f"current {current}" + (f", shadow {shadow}" if shadow else "")

    return _checked("anomaly detector", MODEL_NAME, (ModelError, OSError, ValueError), read)


def _slack(settings: Settings) -> Probe:
    s = settings.slack
    if s.bot_token is None:
        return Probe("slack", "not configured", ProbeState.MISSING,
                     "set OPSCOPILOT_SLACK__BOT_TOKEN (and an app token or signing secret)")
    need = ("app_token", "OPSCOPILOT_SLACK__APP_TOKEN") if s.mode == "socket" else (
        "signing_secret", "OPSCOPILOT_SLACK__SIGNING_SECRET")
    if getattr(s, need[0]) is None:
        return Probe("slack", f"{s.mode} mode", ProbeState.FAILED,
                     f"{s.mode} mode needs {need[1]}")
    return Probe("slack", f"{s.mode} mode", ProbeState.OK,
                 f"tokens set (checked against {s.api_url} when `opscopilot serve` starts)")


def _llm(settings: Settings) -> Probe:
    if settings.mode != "llm":
        return Probe("llm", "deterministic mode", ProbeState.OK,
                     "no model needed (OPSCOPILOT_MODE=llm uses one)")
    llm = settings.llm
    if not llm.model or llm.base_url is None:
        return Probe("llm", "llm mode", ProbeState.FAILED,
                     "set OPSCOPILOT_LLM__MODEL and OPSCOPILOT_LLM__BASE_URL")
    return Probe("llm", f"{llm.model} at {llm.base_url}", ProbeState.OK,
                 "configured (not called: a status check spends no tokens)")
