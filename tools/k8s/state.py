"""What a namespace looks like to the analyzers: pods, workloads, events, nodes and autoscalers
as small typed records, parsed from the Kubernetes API's JSON (the real API through
tools/backends/kubernetes.py, or the sandbox's view of its shop), and the seam both serve.

Only the fields the analyzers read are kept; a missing field is a default, never an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

Json = dict[str, Any]
SERVICE_LABELS = ("app.kubernetes.io/name", "app", "k8s-app", "service")
_QUANTITY = re.compile(r"^([0-9.]+)([a-zA-Z]*)$")
_UNITS = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "Ki": 2**10, "Mi": 2**20,
          "Gi": 2**30, "Ti": 2**40, "m": 1e-3}


class KubernetesSource(Protocol):
    """The reads the Kubernetes tool stands on: one list call's items (the API's JSON) and one
    container's log lines, each with the API path asked, so a person can ask it again.

    `as_of` is the moment the question is about: a real cluster can only be read as it is now
    and ignores it; the sandbox, a simulation, shows its shop at that moment."""

    source: str
    namespaces: tuple[str, ...]

    def list_items(self, kind: str, namespace: str | None = None,
                   as_of: int | None = None) -> tuple[list[Json], str]: ...

    def logs(self, namespace: str, pod: str, container: str, previous: bool = False,
             tail: int = 20, as_of: int | None = None) -> tuple[list[str], str]: ...


def quantity_bytes(text: str | None) -> float | None:
    """A resource quantity ("256Mi", "1G", "512000") in bytes (or cores for CPU); None if unset."""
    if not text:
        return None
    m = _QUANTITY.match(str(text).strip())
    if not m or m.group(2) not in _UNITS:
        return None
    return float(m.group(1)) * _UNITS[m.group(2)]


def timestamp(text: str | None) -> int | None:
    """An RFC 3339 API timestamp in unix seconds."""
    if not text:
        return None
    try:
        return int(datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None


def service_of(meta: Json, fallback: str) -> str:
    labels = meta.get("labels") or {}
    return next((str(labels[k]) for k in SERVICE_LABELS if labels.get(k)), fallback)


@dataclass(frozen=True)
class Container:
    name: str
    image: str = ""
    ready: bool = True
    restarts: int = 0
    state: str = "running"  # running, waiting, terminated
    reason: str = ""  # the current state's reason: CrashLoopBackOff, ImagePullBackOff, ...
    message: str = ""
    last_reason: str = ""  # the last termination's reason: OOMKilled, Error, ...
    last_exit_code: int | None = None
    last_finished: int | None = None
    memory_limit: float | None = None  # bytes
    memory_request: float | None = None
    liveness: bool = False  # has a liveness probe
    readiness: bool = False


@dataclass(frozen=True)
class Pod:
    namespace: str
    name: str
    service: str
    phase: str = "Running"
    node: str = ""
    reason: str = ""  # the pod's own reason: Evicted, ...
    message: str = ""
    unscheduled: str = ""  # the PodScheduled=False condition's message (the scheduler's reason)
    containers: tuple[Container, ...] = ()


@dataclass(frozen=True)
class Workload:
    kind: str  # Deployment, StatefulSet, DaemonSet
    namespace: str
    name: str
    service: str
    desired: int = 0
    ready: int = 0
    updated: int = 0
    available: int = 0
    generation: int = 0
    observed_generation: int = 0
    revision: str = ""
    stalled: str = ""  # Progressing=False (ProgressDeadlineExceeded) or ReplicaFailure: message
    stalled_reason: str = ""


@dataclass(frozen=True)
class Event:
    namespace: str
    kind: str  # the involved object's kind
    name: str  # the involved object's name
    type: str  # Normal, Warning
    reason: str
    message: str
    count: int = 1
    last_seen: int | None = None


@dataclass(frozen=True)
class Node:
    name: str
    ready: bool = True
    ready_reason: str = ""
    pressures: tuple[str, ...] = ()  # MemoryPressure, DiskPressure, PIDPressure true
    unschedulable: bool = False


@dataclass(frozen=True)
class Autoscaler:
    namespace: str
    name: str
    target: str  # the scaled workload's name
    current: int = 0
    desired: int = 0
    min_replicas: int = 1
    max_replicas: int = 1
    limited: str = ""  # ScalingLimited=True condition's message


@dataclass
class Snapshot:
    """One namespace at one moment, with the API paths each part came from."""

    namespace: str
    pods: list[Pod] = field(default_factory=list)
    workloads: list[Workload] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    autoscalers: list[Autoscaler] = field(default_factory=list)
    logs: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (pod, container)
    queries: dict[str, str] = field(default_factory=dict)  # part -> API path
    unread: dict[str, str] = field(default_factory=dict)  # part -> why it could not be read


def _state(status: Json) -> tuple[str, Json]:
    for name in ("waiting", "terminated", "running"):
        if isinstance(status.get(name), dict):
            return name, status[name]
    return "running", {}


def parse_pod(item: Json) -> Pod:
    meta, spec, status = (item.get(k) or {} for k in ("metadata", "spec", "status"))
    specs = {c.get("name"): c for c in spec.get("containers") or []}
    containers = []
    for cs in status.get("containerStatuses") or []:
        name = str(cs.get("name", ""))
        state, detail = _state(cs.get("state") or {})
        _, last = _state(cs.get("lastState") or {})
        limits = ((specs.get(name) or {}).get("resources") or {})
        containers.append(Container(
            name, str(cs.get("image", "")), bool(cs.get("ready", False)),
            int(cs.get("restartCount", 0) or 0), state, str(detail.get("reason", "")),
            str(detail.get("message", "")), str(last.get("reason", "")),
            last.get("exitCode"), timestamp(last.get("finishedAt")),
            quantity_bytes((limits.get("limits") or {}).get("memory")),
            quantity_bytes((limits.get("requests") or {}).get("memory")),
            "livenessProbe" in (specs.get(name) or {}),
            "readinessProbe" in (specs.get(name) or {})))
    unscheduled = next((str(c.get("message") or c.get("reason") or "")
                        for c in status.get("conditions") or []
                        if c.get("type") == "PodScheduled" and c.get("status") == "False"), "")
    name = str(meta.get("name", ""))
    return Pod(str(meta.get("namespace", "")), name, service_of(meta, name),
               str(status.get("phase", "Unknown")), str(spec.get("nodeName", "")),
               str(status.get("reason", "")), str(status.get("message", "")), unscheduled,
               tuple(containers))


def parse_workload(kind: str, item: Json) -> Workload:
    meta, spec, status = (item.get(k) or {} for k in ("metadata", "spec", "status"))
    name = str(meta.get("name", ""))
    if kind == "DaemonSet":
        desired, ready = status.get("desiredNumberScheduled", 0), status.get("numberReady", 0)
        updated = status.get("updatedNumberScheduled", 0)
        available = status.get("numberAvailable", 0)
    else:
        desired = spec.get("replicas", 1)
        ready, updated = status.get("readyReplicas", 0), status.get("updatedReplicas", 0)
        available = status.get("availableReplicas", ready if kind == "StatefulSet" else 0)
    stalled, why = "", ""
    for c in status.get("conditions") or []:
        if (c.get("type") == "Progressing" and c.get("status") == "False") or (
                c.get("type") == "ReplicaFailure" and c.get("status") == "True"):
            stalled, why = str(c.get("message", "")), str(c.get("reason", ""))
    annotations = meta.get("annotations") or {}
    return Workload(kind, str(meta.get("namespace", "")), name, service_of(meta, name),
                    int(desired or 0), int(ready or 0), int(updated or 0), int(available or 0),
                    int(meta.get("generation", 0) or 0),
                    int(status.get("observedGeneration", 0) or 0),
                    str(annotations.get("deployment.kubernetes.io/revision", "")), stalled, why)


def parse_event(item: Json) -> Event:
    meta, obj = item.get("metadata") or {}, item.get("involvedObject") or {}
    seen = item.get("lastTimestamp") or item.get("eventTime") or item.get("firstTimestamp")
    return Event(str(meta.get("namespace", obj.get("namespace", ""))), str(obj.get("kind", "")),
                 str(obj.get("name", "")), str(item.get("type", "Normal")),
                 str(item.get("reason", "")), " ".join(str(item.get("message", "")).split()),
                 int(item.get("count", 1) or 1), timestamp(seen))


def parse_node(item: Json) -> Node:
    meta, spec, status = (item.get(k) or {} for k in ("metadata", "spec", "status"))
    ready, reason, pressures = True, "", []
    for c in status.get("conditions") or []:
        if c.get("type") == "Ready":
            ready = c.get("status") == "True"
            reason = str(c.get("message") or c.get("reason") or "")
        elif str(c.get("type", "")).endswith("Pressure") and c.get("status") == "True":
            pressures.append(str(c["type"]))
    return Node(str(meta.get("name", "")), ready, reason, tuple(pressures),
                bool(spec.get("unschedulable", False)))


def parse_autoscaler(item: Json) -> Autoscaler:
    meta, spec, status = (item.get(k) or {} for k in ("metadata", "spec", "status"))
    limited = next((str(c.get("message", "")) for c in status.get("conditions") or []
                    if c.get("type") == "ScalingLimited" and c.get("status") == "True"), "")
    return Autoscaler(str(meta.get("namespace", "")), str(meta.get("name", "")),
                      str((spec.get("scaleTargetRef") or {}).get("name", "")),
                      int(status.get("currentReplicas", 0) or 0),
                      int(status.get("desiredReplicas", 0) or 0),
                      int(spec.get("minReplicas", 1) or 1), int(spec.get("maxReplicas", 1) or 1),
                      limited)
