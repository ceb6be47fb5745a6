"""The simulated shop's service graph: who calls whom, and how much each call weighs.

`default_services()` is the online shop every shipped scenario runs; a scenario may override it.
`Topology` validates the graph (known callees, no cycles) and answers graph questions.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable
from functools import cached_property

from tools.sandbox.errors import ScenarioError
from tools.sandbox.model import ServiceSpec


def default_services() -> list[ServiceSpec]:
    """The 12-service online shop: a web frontend, ten APIs, a cache and a database."""
    return [
        ServiceSpec("frontend", "web", ("cart", "checkout", "catalog", "recommendation", "ad",
                                        "currency", "shipping"),
                    base_rps=120, base_latency_ms=25, cpu_limit_cores=2, memory_limit_mb=1024,
                    team="web"),
        ServiceSpec("cart", "api", ("redis",), base_rps=45, base_latency_ms=8,
                    memory_limit_mb=1024, team="shopping"),
        ServiceSpec("checkout", "api", ("cart", "payment", "currency", "shipping", "email",
                                        "catalog"),
                    base_rps=12, base_latency_ms=30, memory_limit_mb=768, team="shopping"),
        ServiceSpec("payment", "api", ("postgres",), base_rps=12, base_latency_ms=40,
                    memory_limit_mb=768, pool_size=20, team="payments"),
        ServiceSpec("currency", "api", (), base_rps=150, base_latency_ms=5, memory_limit_mb=256,
                    team="payments"),
        ServiceSpec("shipping", "api", (), base_rps=30, base_latency_ms=15, memory_limit_mb=384,
                    team="fulfilment"),
        ServiceSpec("email", "api", (), base_rps=12, base_latency_ms=50, memory_limit_mb=384,
                    team="fulfilment"),
        ServiceSpec("catalog", "api", ("postgres",), base_rps=200, base_latency_ms=12,
                    memory_limit_mb=1024, pool_size=40, team="discovery"),
        ServiceSpec("recommendation", "api", ("catalog",), base_rps=80, base_latency_ms=30,
                    cpu_limit_cores=2, memory_limit_mb=1536, team="discovery"),
        ServiceSpec("ad", "api", (), base_rps=100, base_latency_ms=10, memory_limit_mb=512,
                    team="web"),
        ServiceSpec("redis", "cache", (), base_rps=400, base_latency_ms=1, memory_limit_mb=2048,
                    team="platform"),
        ServiceSpec("postgres", "database", (), base_rps=260, base_latency_ms=4,
                    cpu_limit_cores=4, memory_limit_mb=4096, has_disk=True, team="platform"),
    ]


def stable_fraction(*parts: object) -> float:
    """A number in [0, 1) fixed by its arguments, the same in every process (unlike hash())."""
    return zlib.crc32("/".join(map(str, parts)).encode()) / 2**32


class Topology:
    """A validated, acyclic service graph."""

    def __init__(self, services: Iterable[ServiceSpec], source: str = "topology") -> None:
        self.services: dict[str, ServiceSpec] = {}
        for i, spec in enumerate(services):
            if spec.name in self.services:
                raise ScenarioError(f"{source}: services[{i}].name {spec.name!r} is listed twice")
            self.services[spec.name] = spec
        if not self.services:
            raise ScenarioError(f"{source}: services is empty (list at least one service)")
        for i, spec in enumerate(self.services.values()):
            for callee in spec.calls:
                if callee not in self.services:
                    raise ScenarioError(
                        f"{source}: services[{i}].calls {callee!r} is not a service "
                        f"(choose one of: {', '.join(self.services)})")
        self._check_acyclic(source)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Topology) and self.services == other.services

    def __hash__(self) -> int:
        return hash(tuple(self.services.values()))

    def __repr__(self) -> str:
        return f"Topology({', '.join(self.services)})"

    def _check_acyclic(self, source: str) -> None:
        state: dict[str, int] = {}  # 1 visiting, 2 done

        def visit(name: str, path: list[str]) -> None:
            if state.get(name) == 2:
                return
            if state.get(name) == 1:
                cycle = " -> ".join([*path[path.index(name):], name])
                raise ScenarioError(f"{source}: services calls form a cycle ({cycle}); "
                                    "remove one of those calls")
            state[name] = 1
            for callee in self.services[name].calls:
                visit(callee, [*path, name])
            state[name] = 2

        for name in self.services:
            visit(name, [])

    def names(self) -> list[str]:
        return list(self.services)

    def dependencies(self, service: str) -> tuple[str, ...]:
        """Direct callees of `service`."""
        return self.services[service].calls

    def callers(self, service: str) -> tuple[str, ...]:
        """Services that call `service` directly."""
        self.services[service]  # noqa: B018 - KeyError for an unknown service
        return tuple(s.name for s in self.services.values() if service in s.calls)

    def upstream(self, service: str) -> tuple[str, ...]:
        """Every service whose requests can reach `service` (transitive callers)."""
        return self._closure(service, self.callers)

    def downstream(self, service: str) -> tuple[str, ...]:
        """Every service `service` depends on, directly or not (transitive callees)."""
        return self._closure(service, self.dependencies)

    def _closure(self, service: str, step: Callable[[str], tuple[str, ...]]) -> tuple[str, ...]:
        seen: list[str] = []
        todo = list(step(service))
        while todo:
            name = todo.pop(0)
            if name not in seen:
                seen.append(name)
                todo.extend(step(name))
        return tuple(seen)

    @cached_property
    def order(self) -> tuple[str, ...]:
        """Services with every callee before its callers (the order latency adds up in)."""
        done: list[str] = []

        def visit(name: str) -> None:
            if name in done:
                return
            for callee in self.services[name].calls:
                visit(callee)
            done.append(name)

        for name in self.services:
            visit(name)
        return tuple(done)

    def call_weight(self, caller: str, callee: str) -> float:
        """Share of the caller's requests that wait on `callee` and fail when it fails.

        One callee carries all of it; a wide fan-out (a web frontend) spreads it.
        """
        n = len(self.services[caller].calls)
        return min(1.0, 2.0 / n) if n else 0.0

    def roots(self) -> tuple[str, ...]:
        """Entry services: nobody calls them."""
        return tuple(s for s in self.services if not self.callers(s))
