"""Sandbox fault cases for the benchmark and the tests: a scenario per (seed, fault kind), on the
shop or on a random service graph, turned into the engine's input with its ground truth.

Seeds decide everything (fault time, service, intensity, graph), so a seed range not used while
tuning is a fair test set. Quiet cases have no fault and a random onset hint.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tools.catalog import FAULT_KINDS
from tools.rca.graph import Graph
from tools.rca.model import ChangeRecord, RcaInput
from tools.sandbox.model import ServiceSpec
from tools.sandbox.scenario import Fault, Scenario
from tools.sandbox.simulator import Sandbox, simulate
from tools.sandbox.topology import Topology, default_services

DAY = 86400
ORIGIN = 1_795_132_800  # 2026-11-20T00:00:00Z, as the shipped scenarios
HISTORY_S = 2 * 3600  # data before the fault
AFTER_S = 20 * 60  # data after it


@dataclass
class Case:
    name: str
    kind: str  # a fault kind, or "quiet"
    service: str | None  # the culprit (None for quiet)
    onset: int  # the true onset (quiet: a random time)
    sandbox: Sandbox
    graph: Graph

    def rca_input(self, onset_delay_s: int = 0, window: tuple[int, int] | None = None,
                  with_changes: bool = True) -> RcaInput:
        sb = self.sandbox
        lo, hi = window or (sb.start, sb.end)
        mask = (sb.timestamps >= lo) & (sb.timestamps < hi)
        signals = {(s, m): v[mask] for s, ms in sb.observed.items() for m, v in ms.items()}
        changes = [ChangeRecord(e.ts, e.service, e.kind, e.description)
                   for e in sb.events(lo, hi)] if with_changes else []
        return RcaInput(sb.timestamps[mask], signals, self.onset + onset_delay_s, self.graph,
                        changes)


def random_services(rng: np.random.Generator, n: int) -> list[ServiceSpec]:
    """A layered, acyclic call graph of `n` services: a web entry, APIs, caches and databases."""
    names = [f"svc{i:03d}" for i in range(n)]
    layers = max(3, int(round(np.log2(n))))
    layer = np.sort(rng.integers(1, layers, size=n))
    layer[0] = 0
    specs = []
    for i, name in enumerate(names):
        lower = [j for j in range(n) if layer[j] > layer[i]]
        k = min(len(lower), int(rng.integers(1, 4))) if lower and layer[i] < layers - 1 else 0
        calls = tuple(names[j] for j in rng.choice(lower, size=k, replace=False)) if k else ()
        leaf = not calls
        kind = "web" if i == 0 else ("database" if leaf and rng.random() < 0.3 else "api")
        specs.append(ServiceSpec(
            name, kind, calls, base_rps=float(rng.uniform(10, 300)),
            base_latency_ms=float(rng.uniform(2, 60)), cpu_limit_cores=float(rng.choice([1, 2])),
            memory_limit_mb=float(rng.choice([256, 512, 1024, 2048])),
            pool_size=int(rng.choice([0, 0, 20, 40])), has_disk=kind == "database"))
    return specs


def _eligible(topology: Topology, kind: str) -> list[str]:
    specs = topology.services.values()
    if kind == "disk_full":
        return [s.name for s in specs if s.has_disk]
    if kind == "connection_pool_exhaustion":
        return [s.name for s in specs if s.pool_size > 0]
    return [s.name for s in specs]


def make_case(seed: int, kind: str, n_services: int | None = None,
              intensity: tuple[float, float] = (0.7, 1.5)) -> Case | None:
    """One case; `n_services` None means the shop's own graph; the fault's intensity is drawn
    from `intensity`. None when no service fits the fault kind."""
    rng = np.random.default_rng([seed, FAULT_KINDS.index(kind) if kind in FAULT_KINDS else 99,
                                 n_services or 0])
    specs = default_services() if n_services is None else random_services(rng, n_services)
    topology = Topology(specs, f"case {seed}")
    start = ORIGIN + int(rng.integers(0, 6)) * DAY + int(rng.integers(0, DAY // 60)) * 60
    onset = start + HISTORY_S
    faults: tuple[Fault, ...] = ()
    service = None
    if kind != "quiet":
        options = _eligible(topology, kind)
        if not options:
            return None
        service = options[int(rng.integers(len(options)))]
        faults = (Fault(service, kind, onset, onset + 3600, float(rng.uniform(*intensity))),)
    scenario = Scenario(f"{kind}-{seed}", "", seed, start, onset + AFTER_S, 15,
                        onset + AFTER_S, topology, faults)
    graph = {s.name: list(s.calls) for s in specs}
    return Case(scenario.name, kind, service, onset, simulate(scenario), graph)
