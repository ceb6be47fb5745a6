"""Sampled traces of the simulated shop, generated on demand and deterministic.

One trace per step per query scope (a service, or any), generated 15 minutes at a time from a
generator seeded by the scenario seed, the scope and the time. A trace starts at an entry service
(one nobody calls) and follows the call graph: a callee is called with its call weight, and a
trace through a given service always takes a path that reaches it. Span durations are drawn from
a lognormal matching the p50 and p99 callers see at that time; a span fails with the service's
own error rate, and a failed call fails its caller.
"""

from __future__ import annotations

import math
import random
import zlib
from typing import TYPE_CHECKING

from tools.backends import Span, Trace
from tools.sandbox.log_templates import METHODS

if TYPE_CHECKING:
    from tools.sandbox.simulator import Sandbox

BUCKET_S = 900
Z99 = 2.326
OPERATIONS = {
    "frontend": ("GET /", "GET /product/{id}", "POST /cart", "GET /cart", "POST /cart/checkout"),
    "redis": ("HGETALL", "HSET", "EXPIRE"),
    "postgres": ("SELECT products", "SELECT orders", "INSERT orders", "UPDATE payments"),
}


def operations(service: str) -> tuple[str, ...]:
    if service in OPERATIONS:
        return OPERATIONS[service]
    methods = METHODS.get(service, ("Handle",))
    return tuple(f"{service.capitalize()}Service/{m}" for m in methods)


class TraceGenerator:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sb = sandbox
        self._cache: dict[tuple[str, int], list[Trace]] = {}
        self._paths: dict[str, list[list[str]]] = {}

    def search(self, service: str | None, start: int, end: int, limit: int,
               errors_only: bool, min_duration_ms: float | None) -> list[Trace]:
        sb = self.sb
        start, end = max(start, sb.start), min(end, sb.end)
        if end <= start or limit <= 0:
            return []
        out: list[Trace] = []
        for b in range((start - sb.start) // BUCKET_S, (end - 1 - sb.start) // BUCKET_S + 1):
            for trace in self.bucket(service, b):
                if not start * 1000 <= trace.root.start_ms < end * 1000:
                    continue
                if errors_only and not any(s.error for s in trace.spans):
                    continue
                if min_duration_ms is not None:
                    spans = [s for s in trace.spans if service in (None, s.service)]
                    if service is None:
                        spans = [trace.root]
                    if max(s.duration_ms for s in spans) < min_duration_ms:
                        continue
                out.append(trace)
        return out[-limit:]

    def bucket(self, service: str | None, b: int) -> list[Trace]:
        key = (service or "*", b)
        if key not in self._cache:
            if len(self._cache) > 512:
                self._cache.clear()
            self._cache[key] = self._generate(service, b)
        return self._cache[key]

    def paths_to(self, service: str) -> list[list[str]]:
        """Every call path from an entry service down to `service`."""
        if service not in self._paths:
            topo = self.sb.topology
            callers = topo.callers(service)
            self._paths[service] = ([[service]] if not callers else
                                    [[*p, service] for c in callers for p in self.paths_to(c)])
        return self._paths[service]

    def _generate(self, service: str | None, b: int) -> list[Trace]:
        sb = self.sb
        scope = service or "*"
        rng = random.Random(sb.scenario.seed * 1_000_003 + zlib.crc32(scope.encode()) * 7919
                            + b * 23)
        lo, hi = sb.index_range(sb.start + b * BUCKET_S, sb.start + (b + 1) * BUCKET_S)
        roots = sb.topology.roots()
        traces = []
        for step in range(lo, hi):
            if service is None:
                path = [rng.choice(roots)]
            else:
                paths = self.paths_to(service)
                path = rng.choice(paths)
            start_ms = float(sb.timestamps[step]) * 1000 + rng.uniform(0, sb.step * 1000)
            trace_id = f"{rng.getrandbits(128):032x}"
            spans: list[Span] = []
            self._span(rng, trace_id, "", path, step, start_ms, spans)
            spans.sort(key=lambda s: s.start_ms)
            traces.append(Trace(trace_id, tuple(spans)))
        return traces

    def _span(self, rng: random.Random, trace_id: str, parent_id: str, path: list[str],
              step: int, start_ms: float, spans: list[Span]) -> tuple[float, bool]:
        """Add the span of path[0] (and its children) to `spans`; return (duration, error)."""
        sb = self.sb
        clean = sb.clean
        name = path[0]
        span_id = f"{rng.getrandbits(64):016x}"
        p50 = float(clean.seen_latency[name][0][step])
        p99 = float(clean.seen_latency[name][2][step])
        sigma = max(math.log(max(p99, p50 * 1.01) / p50) / Z99, 0.05)
        drawn = p50 * math.exp(sigma * rng.gauss(0.0, 1.0))
        sources = clean.error_sources[name]
        own_err = float(clean.seen_errors[name][step]
                        - sum(float(v[step]) for k, v in sources.items() if k)) / 100.0
        own_error = bool(rng.random() < max(own_err, 0.0))
        cursor = start_ms + 0.05 * drawn
        child_error = False
        for callee in sb.topology.dependencies(name):
            forced = len(path) > 1 and path[1] == callee
            if not forced and rng.random() >= sb.topology.call_weight(name, callee):
                continue
            child_path = path[1:] if forced else [callee]
            duration, failed = self._span(rng, trace_id, span_id, child_path, step, cursor,
                                          spans)
            cursor += duration
            child_error = child_error or failed
        total = max(drawn, cursor - start_ms + 0.05 * drawn)
        error = own_error or child_error
        ops = operations(name)
        spans.append(Span(trace_id, span_id, parent_id, name, rng.choice(ops),
                          round(start_ms, 3), round(total, 3), error))
        return total, error
