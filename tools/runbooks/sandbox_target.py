"""The sandbox as a runbook target: a simulated cluster behind the same seams as production.

`SandboxWorld` holds the live (possibly remediated) `Sandbox`, a virtual clock starting at the
scenario's "now", and the cluster state the simulated tools read and change: deployments,
statefulsets, nodes, helm releases, certificates, feature flags and pool settings.
- `SimulatedCli` (an `Executor`) interprets kubectl / helm / cmctl argv lists (simcli.py);
- `ControlPlaneTransport` (an httpx transport) is the flag service, config service and cache
  admin endpoints;
- `SandboxMetrics` (a `MetricsReader`) answers a PromQL subset from the sandbox's series.
The right remediation ends the matching fault at the virtual time it runs (see
tools/sandbox/remediation.py), so checks after it see healthy metrics.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx
import numpy as np

from tools.runbooks.engine import Target
from tools.sandbox.remediation import active_faults, end_faults
from tools.sandbox.simulator import Sandbox

if TYPE_CHECKING:
    from tools.runbooks.simcli import SimulatedCli as SimulatedCliType

NAMESPACE = "shop"
STATEFUL = ("redis", "postgres")
NODES = ("node-1", "node-2", "node-3", "node-4")
# Feature flags of the simulated flag service: (service, fault kind turning it off ends).
FLAGS: dict[str, tuple[str, str | None]] = {
    "currency-live-rates": ("currency", "latency_injection"),
    "recommendation-model-refresh": ("recommendation", "cpu_hog"),
    "checkout-new-pricing": ("checkout", None),
    "catalog-search-v2": ("catalog", None),
    "shipping-carrier-quotes": ("shipping", None),
}


class VirtualClock:
    """Sandbox time: starts at the scenario's now and moves only when something waits."""

    def __init__(self, start: float) -> None:
        self.t = float(start)

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += max(seconds, 0.0)


@dataclass
class Workload:
    name: str
    kind: str  # "deployment" or "statefulset"
    replicas: int = 3
    revision: int = 7
    node: str = NODES[0]
    pool_size: int = 0
    pending_pool_size: int | None = None


@dataclass
class Remediation:
    at: int
    action: str
    service: str
    ended: list[str] = field(default_factory=list)


class SandboxWorld:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.clock = VirtualClock(sandbox.now)
        names = sandbox.topology.names()
        self.workloads: dict[str, Workload] = {}
        for i, name in enumerate(sorted(names)):
            spec = sandbox.topology.services[name]
            kind = "statefulset" if name in STATEFUL else "deployment"
            self.workloads[name] = Workload(name, kind, 2 if kind == "statefulset" else 3,
                                            node=NODES[i % len(NODES)],
                                            pool_size=spec.pool_size)
        self.cordoned: set[str] = set()
        self.flags = {name: True for name in FLAGS}
        self.certificates = {f"{n}-tls": n for n in names}
        self.remediations: list[Remediation] = []

    # -- what proposals may fill parameters from
    def facts(self, service: str) -> dict[str, str]:
        w = self.workloads.get(service)
        if w is None:
            return {}
        out = {"namespace": NAMESPACE, "service": service, "node": w.node,
               "certificate": f"{service}-tls", "release": service, "workload_kind": w.kind,
               "pod": f"{service}-0",
               "memory_ok_mb": str(int(0.6 * self.sandbox.topology.services[service]
                                          .memory_limit_mb))}
        callers = self.sandbox.topology.callers(service)
        if callers:
            out["caller"] = sorted(callers)[0]
        flag = next((f for f, (s, _) in FLAGS.items() if s == service), None)
        if flag:
            out["flag"] = flag
        return out

    # -- remediation
    def remediate(self, action: str, service: str, kinds: tuple[str, ...]) -> list[str]:
        at = int(self.clock.now())
        self.sandbox, ended = end_faults(self.sandbox, service, kinds, at)
        names = [f"{f.kind} on {f.service}" for f in ended]
        self.remediations.append(Remediation(at, action, service, names))
        return names

    def active_faults(self) -> list[str]:
        return [f"{f.kind} on {f.service}"
                for f in active_faults(self.sandbox, int(self.clock.now()))]

    def services_on(self, node: str) -> list[str]:
        return [w.name for w in self.workloads.values() if w.node == node]


class ControlPlaneTransport(httpx.BaseTransport):
    """The flag service (flags.shop.internal), the config service (config.shop.internal) and
    each service's admin endpoint (<service>.shop.internal/admin/...), in process."""

    def __init__(self, world: SandboxWorld) -> None:
        self.world = world
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        host, path, method = request.url.host, request.url.path, request.method
        body = json.loads(request.content) if request.content else {}
        w = self.world
        if host == "flags.shop.internal" and (m := re.fullmatch(r"/api/v1/flags/([^/]+)", path)):
            flag = m.group(1)
            if flag not in w.flags:
                return httpx.Response(404, json={"error": f"flag {flag} not found"})
            if method == "PUT":
                enabled = body.get("enabled")
                if not isinstance(enabled, bool):
                    return httpx.Response(400, json={"error": "enabled must be true or false"})
                w.flags[flag] = enabled
                service, kind = FLAGS[flag]
                if not enabled and kind:
                    w.remediate(f"flag {flag} off", service, (kind,))
            return httpx.Response(200, json={"key": flag, "enabled": w.flags[flag]})
        if host == "config.shop.internal" and (
                m := re.fullmatch(r"/v1/services/([^/]+)/db-pool", path)):
            workload = w.workloads.get(m.group(1))
            if workload is None or workload.pool_size == 0:
                return httpx.Response(404, json={"error": f"{m.group(1)} has no database pool"})
            if method == "PUT":
                size = body.get("max_connections")
                if not isinstance(size, int) or size < 1:
                    return httpx.Response(400, json={"error": "max_connections must be > 0"})
                workload.pending_pool_size = size
            return httpx.Response(200, json={"service": workload.name,
                                             "max_connections": workload.pending_pool_size
                                             or workload.pool_size,
                                             "applied": workload.pending_pool_size is None})
        if (m := re.fullmatch(r"([a-z0-9-]+)\.shop\.internal", host or "")) and \
                m.group(1) in w.workloads and path.startswith("/admin/cache"):
            if path == "/admin/cache/flush" and method == "POST":
                return httpx.Response(200, json={"flushed": True, "service": m.group(1)})
            if path == "/admin/cache/stats":
                return httpx.Response(200, json={"service": m.group(1), "keys": 18234})
        return httpx.Response(404, json={"error": f"no route {method} {host}{path}"})


_SELECTOR = r"opscopilot_sandbox_([a-z0-9_]+)\{service=\"([a-z0-9-]+)\"\}"
_RANGE = re.compile(rf"^(avg|max|min)_over_time\({_SELECTOR}\[(\d+)([smh])\]\)$")
_INSTANT = re.compile(rf"^{_SELECTOR}$")


class SandboxMetrics:
    """A PromQL subset over the live sandbox: `opscopilot_sandbox_<metric>{service="x"}` and
    `avg|max|min_over_time(<that>[N s|m|h])` (the names `export_openmetrics` writes, so the same
    query works on a Prometheus backfilled from the sandbox)."""

    def __init__(self, world: SandboxWorld) -> None:
        self.world = world

    def value(self, query: str, at: float) -> float | None:
        q = query.replace(" ", "")
        sb = self.world.sandbox
        if m := _INSTANT.match(q):
            metric, service = m.groups()
            return sb.value_at(service, metric, at, clean=False)
        if m := _RANGE.match(q):
            fn, metric, service, n, unit = m.groups()
            seconds = int(n) * {"s": 1, "m": 60, "h": 3600}[unit]
            _, values = sb.series(service, metric, int(at) - seconds + 1, int(at) + 1)
            if len(values) == 0:
                return None
            if fn == "avg":
                return float(np.mean(values))
            return float(np.max(values) if fn == "max" else np.min(values))
        raise ValueError(f"the sandbox cannot evaluate {query!r} (it knows "
                         "opscopilot_sandbox_<metric>{service=\"...\"} and avg/max/min_over_time)")


def sandbox_target(world: SandboxWorld) -> tuple[Target, SimulatedCliType,
                                                     ControlPlaneTransport]:
    """The engine's `Target` over a sandbox world (plus its recording CLI and transport)."""
    from tools.runbooks.simcli import SimulatedCli

    cli = SimulatedCli(world)
    transport = ControlPlaneTransport(world)
    return (Target("sandbox", cli, SandboxMetrics(world), world.clock, transport, world.facts),
            cli, transport)
