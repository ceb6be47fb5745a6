"""The service graph outside the sandbox: a team's YAML file, the calls its traces show, and the
services its metrics and logs backends know, merged into one `TopologySource`.

File format (each service lists the services it calls; a callee not listed is a leaf):

    services:
      frontend: [checkout, cart]
      checkout: [payment, cart]
      payment: [postgres]

Discovery reads backends, which may be down: `DiscoveredTopology` never raises. It logs what it
could not read, keeps what it could, and re-reads at most every `ttl_s` seconds. What a source
could not be read for is filled from what it last answered: in this process, or (with
`cache_file`) in an earlier one, so a Prometheus that is down at start does not make every
service unknown. `problems` says what the last read missed.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tools.backends.tracing import Call
from tools.base import BackendError
from tools.formatting import yaml_problem

log = logging.getLogger(__name__)


class TopologyError(ValueError):
    """A service graph file that cannot be used; the message names the file and what to fix."""


class StaticTopology:
    """A `TopologySource` over a fixed graph: service -> the services it calls."""

    def __init__(self, calls: dict[str, list[str]]) -> None:
        self.calls = {s: list(deps) for s, deps in calls.items()}
        for deps in list(self.calls.values()):
            for dep in deps:
                self.calls.setdefault(dep, [])

    def services(self) -> list[str]:
        return list(self.calls)

    def dependencies(self, service: str) -> list[str]:
        return list(self.calls.get(service, []))

    def callers(self, service: str) -> list[str]:
        return [s for s, deps in self.calls.items() if service in deps]


def load_topology_file(path: Path) -> StaticTopology:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TopologyError(f"service graph file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise TopologyError(f"service graph file {path} is not valid YAML ({yaml_problem(exc)})") \
            from None
    services = raw.get("services") if isinstance(raw, dict) else None
    if not isinstance(services, dict) or not services:
        raise TopologyError(f"service graph file {path}: expected 'services:' mapping each "
                            "service to the list of services it calls")
    calls: dict[str, list[str]] = {}
    for name, deps in services.items():
        deps = [] if deps is None else deps
        if not isinstance(deps, list) or not all(isinstance(d, str) and d for d in deps):
            raise TopologyError(f"service graph file {path}: {name} must map to a list of "
                                "service names (or nothing)")
        calls[str(name)] = [d for d in deps if d != name]
    return StaticTopology(calls)


@dataclass
class DiscoveredTopology:
    """File graph + calls seen in traces + services the other backends know, re-read lazily."""

    base: StaticTopology | None = None
    calls: Callable[[], Iterable[Call]] | None = None  # e.g. Jaeger's /api/dependencies
    service_lists: list[Callable[[], list[str]]] = field(default_factory=list)
    ttl_s: float = 300.0
    retry_s: float = 30.0  # sooner when the last read missed a backend
    clock: Callable[[], float] = time.monotonic
    problems: list[str] = field(default_factory=list)  # what the last refresh could not read
    cache_file: Path | None = None  # the last complete discovery, for the next process
    _graph: StaticTopology | None = field(default=None, init=False, repr=False)
    _read_at: float = field(default=0.0, init=False, repr=False)
    _last_good: dict[str, list[str]] | None = field(default=None, init=False, repr=False)

    def graph(self) -> StaticTopology:
        now = self.clock()
        stale_after = self.retry_s if self.problems else self.ttl_s
        if self._graph is None or now - self._read_at > stale_after:
            self._graph, self._read_at = self._read(), now
        return self._graph

    def services(self) -> list[str]:
        return self.graph().services()

    def dependencies(self, service: str) -> list[str]:
        return self.graph().dependencies(service)

    def callers(self, service: str) -> list[str]:
        return self.graph().callers(service)

    def _read(self) -> StaticTopology:
        merged: dict[str, list[str]] = {}
        problems: list[str] = []
        if self.base is not None:
            merged = {s: self.base.dependencies(s) for s in self.base.services()}
        sources: list[Callable[[], Iterable[Any]]] = list(self.service_lists)
        if self.calls is not None:
            sources.insert(0, self.calls)
        read = _side_by_side(sources)  # each asks another server: one timeout, not their sum
        if self.calls is not None:
            calls = read.pop(0)
            if isinstance(calls, BackendError):
                problems.append(str(calls))
            else:
                for call in calls:
                    deps = merged.setdefault(call.parent, [])
                    if call.child not in deps and call.child != call.parent:
                        deps.append(call.child)
        for names in read:
            if isinstance(names, BackendError):
                problems.append(str(names))
            else:
                for name in names:
                    merged.setdefault(name, [])
        for problem in problems:
            log.warning("service graph: %s", problem)
        self.problems = problems
        if not problems:
            self._remember(merged)
        else:
            for name, deps in self._remembered().items():  # what the missing sources last said
                known = merged.setdefault(name, [])
                known.extend(d for d in deps if d not in known)
        return StaticTopology(merged)

    def _remember(self, graph: dict[str, list[str]]) -> None:
        if graph == self._last_good:
            return
        self._last_good = {s: list(d) for s, d in graph.items()}
        if self.cache_file is None or not graph:
            return
        try:
            self.cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.cache_file.with_name(f"{self.cache_file.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"services": graph}), encoding="utf-8")
            os.replace(tmp, self.cache_file)
        except OSError as exc:  # a cache: not worth failing discovery for
            log.warning("could not save the service graph to %s: %s", self.cache_file, exc)

    def _remembered(self) -> dict[str, list[str]]:
        if self._last_good is not None or self.cache_file is None:
            return self._last_good or {}
        try:
            saved = json.loads(self.cache_file.read_text(encoding="utf-8"))["services"]
            self._last_good = {str(k): [str(d) for d in v] for k, v in saved.items()}
        except FileNotFoundError:
            self._last_good = {}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("ignoring the saved service graph %s: %s", self.cache_file, exc)
            self._last_good = {}
        return self._last_good


def _side_by_side(reads: list[Callable[[], Iterable[Any]]]) -> list[list[Any] | BackendError]:
    """Each read's items (or its BackendError), in order; the reads run in parallel threads, in
    copies of this context (an answer's memory of failed servers is shared)."""
    def one(read: Callable[[], Iterable[Any]]) -> list[Any] | BackendError:
        try:
            return list(read())
        except BackendError as exc:
            return exc

    if len(reads) <= 1:
        return [one(r) for r in reads]
    with ThreadPoolExecutor(max_workers=len(reads), thread_name_prefix="discovery") as pool:
        futures = [pool.submit(contextvars.copy_context().run, one, r) for r in reads]
        return [f.result() for f in futures]
