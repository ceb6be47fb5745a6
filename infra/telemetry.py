"""opscopilot's own metrics: one prometheus_client registry, the metric objects, and the
recording calls the seams make (an answer, a tool call, a Slack ack, an approval, a runbook
run), plus what is read when scraped (breaker states, the Slack queue, model versions).

Bottom layer: it knows no tool, answer or Slack type; the seams hand it names and numbers.
Names and labels are the contract with deploy/prometheus/opscopilot-rules.yaml and the
dashboards: rename one there too. Labels are bounded (intents, tools, backends, states),
never a question, a user or a URL with a secret in it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest, start_http_server
from prometheus_client.registry import Collector

from infra import tracing
from infra.settings import SettingsError

log = logging.getLogger(__name__)

REGISTRY = CollectorRegistry(auto_describe=True)

# Answers take from a few ms (help) to tens of seconds (an LLM investigation).
_ANSWER_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30, 60)
_TOOL_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30)
_ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5)  # Slack allows 3 s

ANSWERS = Counter("opscopilot_answers", "Answers given, by intent and outcome "
                  "(ok, partial, failed, no_data, unsure)", ["intent", "outcome"],
                  registry=REGISTRY)
ANSWER_SECONDS = Histogram("opscopilot_answer_duration_seconds",
                           "Time to compute one answer, by intent", ["intent"],
                           buckets=_ANSWER_BUCKETS, registry=REGISTRY)
TOOL_SECONDS = Histogram("opscopilot_tool_duration_seconds",
                         "Time of one tool call, by tool and status", ["tool", "status"],
                         buckets=_TOOL_BUCKETS, registry=REGISTRY)
TOOL_ERRORS = Counter("opscopilot_tool_errors", "Tool calls that ended in an error, by tool "
                      "and the backend it reads", ["tool", "backend"], registry=REGISTRY)
ACK_SECONDS = Histogram("opscopilot_slack_ack_duration_seconds",
                        "Time from a Slack request's arrival to its HTTP answer (the ack)",
                        buckets=_ACK_BUCKETS, registry=REGISTRY)
APPROVALS = Counter("opscopilot_approvals", "Runbook approval decisions recorded, by decision "
                    "(approval, denial, approval_renewed)", ["decision"], registry=REGISTRY)
RUNBOOK_RUNS = Counter("opscopilot_runbook_runs", "Runbook runs and rollbacks that returned, "
                       "by action and resulting status", ["action", "status"],
                       registry=REGISTRY)

BREAKER_STATES = ("closed", "open", "half_open")


class BreakerView(Protocol):
    """What a circuit breaker's state looks like to a metric (tools.backends.health.SourceHealth
    is one)."""

    @property
    def system(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def failures(self) -> int: ...


class _Watched(Collector):
    """The gauges read at scrape time from what the running process registered."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.breakers: Callable[[], Iterable[BreakerView]] | None = None
        self.queue: Callable[[], int] | None = None
        self.models: dict[str, dict[str, str]] = {}

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            breakers, queue, models = self.breakers, self.queue, dict(self.models)
        state = GaugeMetricFamily("opscopilot_backend_breaker_state", "Circuit breaker of each "
                                  "backend server: 1 for its current state",
                                  labels=["system", "url", "state"])
        failures = GaugeMetricFamily("opscopilot_backend_breaker_failures",
                                     "Failures in a row of each backend server",
                                     labels=["system", "url"])
        for health in breakers() if breakers is not None else ():
            current = str(health.state)
            for name in BREAKER_STATES:
                state.add_metric([health.system, health.url, name], float(name == current))
            failures.add_metric([health.system, health.url], float(health.failures))
        yield state
        yield failures
        depth = GaugeMetricFamily("opscopilot_slack_queue_depth",
                                  "Slack answers and follow-ups waiting for a worker")
        if queue is not None:
            depth.add_metric([], float(queue()))
        yield depth
        versions = GaugeMetricFamily("opscopilot_model_version", "The model versions in use: "
                                     "1 per model and alias (current, shadow, canary)",
                                     labels=["model", "alias", "version"])
        for model, aliases in sorted(models.items()):
            for alias, version in sorted(aliases.items()):
                if version:
                    versions.add_metric([model, alias, version], 1.0)
        yield versions


_WATCHED = _Watched()
REGISTRY.register(_WATCHED)


# -- what the seams call -----------------------------------------------------------------------

def answer_outcome(tool_statuses: Iterable[str], unsure: bool = False) -> str:
    """ok (every tool answered), partial (some failed), failed (all failed), no_data, unsure."""
    if unsure:
        return "unsure"
    statuses = list(tool_statuses)
    errors = statuses.count("error")
    if statuses and errors == len(statuses):
        return "failed"
    if errors:
        return "partial"
    if statuses and statuses.count("no_data") == len(statuses):
        return "no_data"
    return "ok"


def record_answer(intent: str, seconds: float, tool_statuses: Iterable[str],
                  unsure: bool = False) -> None:
    outcome = answer_outcome(tool_statuses, unsure)
    ANSWERS.labels(intent, outcome).inc()
    ANSWER_SECONDS.labels(intent).observe(seconds)
    log.info("answer %s: %s in %.0f ms", intent, outcome, seconds * 1000)
    tracing.annotate_answer(intent, outcome, seconds)


def record_tool(tool: str, status: str, seconds: float, backend: str = "") -> None:
    TOOL_SECONDS.labels(tool, status).observe(seconds)
    tracing.tool_span(tool, status, seconds, backend)
    if status == "error":
        TOOL_ERRORS.labels(tool, backend or "none").inc()


def record_ack(seconds: float) -> None:
    ACK_SECONDS.observe(seconds)


def record_approval(decision: str) -> None:
    APPROVALS.labels(decision).inc()


def record_runbook_run(action: str, status: str) -> None:
    RUNBOOK_RUNS.labels(action, status).inc()


def watch_breakers(states: Callable[[], Iterable[BreakerView]]) -> None:
    """Report these breakers when scraped (the last runtime built wins)."""
    with _WATCHED._lock:
        _WATCHED.breakers = states


def watch_queue(waiting: Callable[[], int]) -> None:
    """Report this queue's depth when scraped (the last Slack app built wins)."""
    with _WATCHED._lock:
        _WATCHED.queue = waiting


def set_model_versions(model: str, aliases: Mapping[str, object]) -> None:
    """The versions `model`'s aliases point at (a registry's aliases: current, shadow, canary;
    anything that is not a version string, such as a history list, is left out)."""
    with _WATCHED._lock:
        _WATCHED.models[model] = {alias: version for alias, version in aliases.items()
                                  if isinstance(version, str) and version}


# -- exposition --------------------------------------------------------------------------------

def exposition() -> tuple[bytes, str]:
    """The registry in Prometheus' text format, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def with_metrics_route(app: Any, path: str = "/metrics") -> Any:
    """An ASGI app that answers `GET path` with the metrics and passes the rest to `app`."""

    async def routed(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if (scope["type"] == "http" and scope["path"] == path
                and scope["method"] in ("GET", "HEAD")):
            body, content_type = exposition()
            await send({"type": "http.response.start", "status": 200, "headers": [
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body",
                        "body": body if scope["method"] == "GET" else b""})
            return
        await app(scope, receive, send)

    return routed


def serve_metrics(port: int, host: str = "127.0.0.1") -> Callable[[], None]:
    """A small `/metrics` server on its own thread (Socket Mode has no HTTP port); returns
    what stops it."""
    try:
        server, thread = start_http_server(port, host, registry=REGISTRY)
    except OSError as exc:
        raise SettingsError(f"cannot serve metrics on {host}:{port} ({exc.strerror or exc}); "
                            "check OPSCOPILOT_TELEMETRY__METRICS_PORT/HOST") from None

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(5)

    return stop
