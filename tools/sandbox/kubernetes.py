"""The sandbox shop as a Kubernetes namespace: a Deployment (a StatefulSet for the cache and the
database) and its pods per service, nodes, events and container logs, as the Kubernetes API's
JSON at the scenario's "now", served through the same seam as the real cluster
(tools/k8s/state.py `KubernetesSource`).

The faults show as a cluster shows them: a memory leak OOM-kills the service's containers at each
restart the simulator counts (against the service's memory limit), a bad deploy's new ReplicaSet
crashloops and its rollout stalls past the progress deadline, a dependency that is down fails its
readiness probe.
"""

from __future__ import annotations

import zlib
from datetime import UTC, datetime
from typing import Any

from tools.base import BackendError
from tools.sandbox.faults import RESTART_S, restart_times
from tools.sandbox.model import ServiceSpec
from tools.sandbox.signals import baseline
from tools.sandbox.simulator import Sandbox

Json = dict[str, Any]
NAMESPACE = "shop"
REPLICAS = 2
NODES = ("sandbox-node-1", "sandbox-node-2", "sandbox-node-3")
PROGRESS_DEADLINE_S = 600  # the Deployment default


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _hash(*parts: str) -> str:
    return f"{zlib.crc32('/'.join(parts).encode()):08x}"[:5]


class SandboxKubernetes:
    """`KubernetesSource` over a Sandbox: one namespace, `shop`."""

    source = "sandbox"
    namespaces: tuple[str, ...] = (NAMESPACE,)

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self._now = sandbox.now  # the moment being built
        self._logs: dict[tuple[str, str], list[str]] = {}  # its previous containers' lines
        self._views: dict[int, tuple[dict[str, list[Json]], dict[tuple[str, str], list[str]]]] = {}

    def _view(self, as_of: int | None
              ) -> tuple[dict[str, list[Json]], dict[tuple[str, str], list[str]]]:
        """The namespace at `as_of` (default: the scenario's now), built once per moment."""
        now = min(max(int(as_of), self.sandbox.start), self.sandbox.end - 1) \
            if as_of is not None else self.sandbox.now
        if now not in self._views:
            self._now, self._logs = now, {}
            self._views[now] = (self._build(), self._logs)
        return self._views[now]

    def list_items(self, kind: str, namespace: str | None = None,
                   as_of: int | None = None) -> tuple[list[Json], str]:
        ns = namespace or NAMESPACE
        if ns != NAMESPACE:
            raise BackendError(f"Kubernetes: namespace {ns!r} is not in the allow-list "
                               f"({NAMESPACE}; the sandbox has one)")
        objects, _ = self._view(as_of)
        path = "/api/v1/nodes" if kind == "nodes" else (
            f"/api/v1/namespaces/{ns}/{kind}" if kind in ("pods", "events")
            else f"/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers"
            if kind == "hpas" else f"/apis/apps/v1/namespaces/{ns}/{kind}")
        return list(objects.get(kind, [])), f"sandbox {path}"

    def logs(self, namespace: str, pod: str, container: str, previous: bool = False,
             tail: int = 20, as_of: int | None = None) -> tuple[list[str], str]:
        _, logs = self._view(as_of)
        lines = logs.get((pod, container), []) if previous else []
        return lines[-tail:], (f"sandbox /api/v1/namespaces/{namespace}/pods/{pod}/log"
                               f"?container={container}&previous={str(previous).lower()}")

    # -- the namespace at "now"

    def _build(self) -> dict[str, list[Json]]:
        sb = self.sandbox
        objects: dict[str, list[Json]] = {"pods": [], "events": [], "deployments": [],
                                          "statefulsets": [], "daemonsets": [], "hpas": []}
        objects["nodes"] = [_node(n) for n in NODES]
        faults = {f.service: f for f in sb.scenario.faults if f.start <= self._now < f.end}
        for n, spec in enumerate(sb.topology.services.values()):
            fault = faults.get(spec.name)
            kind = "StatefulSet" if spec.kind in ("cache", "database") else "Deployment"
            rs = _hash(spec.name, "stable")
            pods = [self._pod(spec, f"{spec.name}-{rs}-{_hash(spec.name, str(i))}",
                              NODES[(n + i) % len(NODES)], fault, objects["events"])
                    for i in range(REPLICAS)]
            workload = _workload(kind, spec, REPLICAS, sum(_ready(p) for p in pods), REPLICAS)
            if fault is not None and fault.kind == "bad_deploy" and kind == "Deployment":
                pods, workload = self._bad_rollout(spec, pods, fault.start, objects["events"])
            objects["pods"] += pods
            objects["deployments" if kind == "Deployment" else "statefulsets"].append(workload)
        return objects

    def _pod(self, spec: ServiceSpec, name: str, node: str, fault: Any,
             events: list[Json]) -> Json:
        sb = self.sandbox
        status: Json = {"name": spec.name, "ready": True, "restartCount": 0,
                        "state": {"running": {"startedAt": _iso(sb.start)}}, "lastState": {},
                        "image": f"registry.local/shop/{spec.name}:stable"}
        if fault is not None and fault.kind == "memory_leak":
            base_mb = baseline(spec, sb.scenario.seed).memory
            kills = restart_times(spec, base_mb, fault.start, min(self._now, fault.end) + 1,
                                  fault.intensity)
            if kills:
                last = kills[-1]
                status["restartCount"] = len(kills)
                status["lastState"] = {"terminated": {
                    "reason": "OOMKilled", "exitCode": 137, "startedAt": _iso(fault.start),
                    "finishedAt": _iso(last)}}
                if self._now - last < RESTART_S:
                    status["ready"] = False
                    status["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message":
                                       f"back-off 10s restarting failed container={spec.name} "
                                       f"pod={name}"}}
                else:
                    status["state"] = {"running": {"startedAt": _iso(last + RESTART_S)}}
                self._logs[(name, spec.name)] = self._lines(spec.name, last)
                events.append(_event(name, "BackOff", "Back-off restarting failed container "
                                     f"{spec.name} in pod {name}", len(kills), last))
        elif fault is not None and fault.kind == "dependency_down":
            status["ready"] = False
            events.append(_event(name, "Unhealthy", "Readiness probe failed: dial tcp "
                                 f"{spec.name}:6379: connect: connection refused",
                                 max(1, (self._now - fault.start) // 10), self._now))
        return _pod_json(spec, name, node, status)

    def _bad_rollout(self, spec: ServiceSpec, old: list[Json], at: int,
                     events: list[Json]) -> tuple[list[Json], Json]:
        """The new ReplicaSet's first pod crashloops; the old pods keep serving."""
        name = f"{spec.name}-{_hash(spec.name, 'next')}-{_hash(spec.name, 'next', '0')}"
        restarts = max(1, min((self._now - at) // 60, 30))
        status = {"name": spec.name, "ready": False, "restartCount": restarts,
                  "image": f"registry.local/shop/{spec.name}:next",
                  "state": {"waiting": {"reason": "CrashLoopBackOff", "message":
                            f"back-off 5m0s restarting failed container={spec.name} pod={name}"}},
                  "lastState": {"terminated": {"reason": "Error", "exitCode": 2,
                                               "startedAt": _iso(self._now - 40),
                                               "finishedAt": _iso(self._now - 30)}}}
        self._logs[(name, spec.name)] = self._lines(spec.name, self._now - 30)
        events.append(_event(name, "BackOff", f"Back-off restarting failed container "
                             f"{spec.name} in pod {name}", restarts, self._now - 30))
        new = _pod_json(spec, name, NODES[0], status, rs=_hash(spec.name, "next"))
        pods = old[:1] + [new]
        workload = _workload("Deployment", spec, REPLICAS, 1, 1, revision="8",
                             stalled=self._now - at >= PROGRESS_DEADLINE_S,
                             rs=_hash(spec.name, "next"))
        return pods, workload

    def _lines(self, service: str, until: int) -> list[str]:
        """The service's log lines before `until`, as the previous container printed them."""
        records = self.sandbox.logs(service, until - 600, until, level="WARN", limit=20)
        return [f"{_iso(r.ts)} {r.level} {r.message}" for r in records]


def _ready(pod: Json) -> bool:
    return all(c["ready"] for c in pod["status"]["containerStatuses"])


def _pod_json(spec: ServiceSpec, name: str, node: str, status: Json, rs: str = "") -> Json:
    ready = "True" if status["ready"] else "False"
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": NAMESPACE,
                         "labels": {"app": spec.name, "pod-template-hash": rs}},
            "spec": {"nodeName": node, "containers": [{
                "name": spec.name, "image": status["image"],
                "resources": {"limits": {"memory": f"{spec.memory_limit_mb:.0f}Mi",
                                         "cpu": f"{spec.cpu_limit_cores:g}"}},
                "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
                "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}}}]},
            "status": {"phase": "Running", "containerStatuses": [status],
                       "conditions": [{"type": "PodScheduled", "status": "True"},
                                      {"type": "Ready", "status": ready}]}}


def _workload(kind: str, spec: ServiceSpec, desired: int, ready: int, updated: int,
              revision: str = "7", stalled: bool = False, rs: str = "") -> Json:
    conditions = [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                   "message": f'ReplicaSet "{spec.name}-{rs}" has timed out progressing.'}
                  ] if stalled else []
    return {"apiVersion": "apps/v1", "kind": kind,
            "metadata": {"name": spec.name, "namespace": NAMESPACE, "generation": 3,
                         "labels": {"app": spec.name},
                         "annotations": {"deployment.kubernetes.io/revision": revision}},
            "spec": {"replicas": desired},
            "status": {"observedGeneration": 3, "replicas": desired, "readyReplicas": ready,
                       "updatedReplicas": updated, "availableReplicas": ready,
                       "conditions": conditions}}


def _event(pod: str, reason: str, message: str, count: int, at: float) -> Json:
    return {"metadata": {"name": f"{pod}.{reason.lower()}", "namespace": NAMESPACE},
            "involvedObject": {"kind": "Pod", "name": pod, "namespace": NAMESPACE},
            "type": "Warning", "reason": reason, "message": message, "count": int(count),
            "lastTimestamp": _iso(at)}


def _node(name: str) -> Json:
    return {"metadata": {"name": name}, "spec": {},
            "status": {"conditions": [{"type": "Ready", "status": "True",
                                       "reason": "KubeletReady"}]}}
