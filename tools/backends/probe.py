"""Is each seam's backend answering right now? One cheap read per seam, timed.

`probe_backends(backends, at)` reads a little from every seam (the service list, five minutes
of logs, one trace, the firing alerts, a day of changes) and returns one `Probe` per seam with
what the read showed or why it failed, in the words an answer would use. A seam nothing serves
is `missing` with the setting to set, never a failure. Used by `opscopilot status`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from tools.backends.seams import HINTS, Backends, NotConfigured, Unconfigured
from tools.base import BackendError


class ProbeState(StrEnum):
    OK = "ok"
    FAILED = "failed"  # configured, but the read failed
    MISSING = "missing"  # nothing serves the seam


@dataclass(frozen=True)
class Probe:
    part: str  # a seam ("metrics", "logs", "traces", "alerts", "changes", "topology") or another
    # part of the system a status report checks the same way ("knowledge base", ...)
    source: str  # "sandbox", "prometheus", ... or "not configured"
    state: ProbeState
    detail: str  # one line: what the read found, or why it failed, or what to set
    ms: float | None = None  # how long the read took (None when nothing was asked)

    def to_json(self) -> dict[str, object]:
        return {"part": self.part, "source": self.source, "state": self.state.value,
                "detail": self.detail, "ms": None if self.ms is None else round(self.ms, 1)}


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _timed(seam: str, source: str, read: Callable[[], str]) -> Probe:
    started = time.perf_counter()
    try:
        detail = read()
    except NotConfigured as exc:
        return Probe(seam, "not configured", ProbeState.MISSING, str(exc))
    except BackendError as exc:
        return _failed(seam, source, str(exc).splitlines()[0] if str(exc)
                       else type(exc).__name__, started)
    except Exception as exc:  # noqa: BLE001 - a probe reports, it never crashes the report
        return _failed(seam, source, f"{type(exc).__name__}: "
                       f"{str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": "), started)
    return Probe(seam, source, ProbeState.OK, detail, (time.perf_counter() - started) * 1000)


def _failed(seam: str, source: str, line: str, started: float) -> Probe:
    """A failed read; "Prometheus at URL is unreachable" loses the part the source says."""
    if line.lower().startswith(source.lower()):
        line = line[len(source):].lstrip(" :").removeprefix("is ")
    return Probe(seam, source, ProbeState.FAILED, line, (time.perf_counter() - started) * 1000)


def probe_backends(backends: Backends, at: int) -> list[Probe]:
    """One probe per seam, asked at unix time `at` (the sandbox's now, or the clock)."""
    services: list[str] = []

    def topology() -> str:
        services.extend(backends.topology.services())
        problems = backends.discovery_problems()
        found = _count(len(services), "service")
        if problems and not services:
            raise BackendError(f"no services known: {problems[0]}")
        return f"{found} (incomplete: {problems[0]})" if problems else found

    def metrics() -> str:
        return _count(len(backends.metrics.services()), "service") + " with metrics"

    def logs() -> str:
        result = backends.logs.search(services[:1], at - 300, at, limit=50)
        where = f" of {services[0]}" if services else ""
        return _count(len(result.lines), "line") + f"{where} in the last 5 min"

    def traces() -> str:
        found, _ = backends.traces.find_traces(services[0] if services else None,
                                               at - 900, at, 5)
        return _count(len(found), "trace") + " in the last 15 min" + (
            " (at most 5 asked)" if len(found) == 5 else "")

    def alerts() -> str:
        firing, _ = backends.alerts.firing(at)
        return _count(len(firing), "alert") + " firing"

    def changes() -> str:
        found, _ = backends.changes_source.changes(services, at - 86400, at)
        return _count(len(found), "change") + " in the last 24 h"

    reads: list[tuple[str, object, Callable[[], str]]] = [
        ("topology", backends.topology, topology), ("metrics", backends.metrics, metrics),
        ("logs", backends.logs, logs), ("traces", backends.traces, traces),
        ("alerts", backends.alerts, alerts), ("changes", backends.changes_source, changes)]
    out = []
    for seam, backend, read in reads:
        if isinstance(backend, Unconfigured):
            out.append(Probe(seam, "not configured", ProbeState.MISSING,
                             HINTS.get(seam, "not configured")))
            continue
        out.append(_timed(seam, _where(backend), read))
    return out


def _where(backend: object) -> str:
    """"prometheus at http://host:9090", "sandbox", ...: the source and its server, if any."""
    if not hasattr(backend, "source"):  # a topology: a graph file and/or discovery
        return "discovered from the backends" if hasattr(backend, "problems") else "graph file"
    source = str(backend.source)  # type: ignore[attr-defined]
    url = getattr(backend, "base_url", None)
    return f"{source} at {url}" if url else source
