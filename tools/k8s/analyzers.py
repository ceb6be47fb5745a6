"""Deterministic Kubernetes analyzers, k8sgpt-style: each a pure function from a `Snapshot` to
the `Diagnosis`es it sees, with the numbers and the API's own words that show it.

crashloop       a container in CrashLoopBackOff, with its last exit and last log lines
oom_killed      a container killed for memory, against its memory limit
image_pull      ErrImagePull / ImagePullBackOff / InvalidImageName, with the image
unschedulable   a Pending pod the scheduler cannot place, with the scheduler's reason
rollout         a Deployment/StatefulSet/DaemonSet whose rollout failed or has not finished
probe_failing   liveness/readiness probes failing (Unhealthy events, unready containers)
evicted         pods the kubelet evicted, with the resource it ran short of
node            a node NotReady or under memory/disk/PID pressure
hpa_at_max      an autoscaler that wants more replicas than its maximum allows
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tools.k8s.state import Pod, Snapshot

IMAGE_PULL = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull")
LOG_LINES_SHOWN = 5


@dataclass(frozen=True)
class Diagnosis:
    kind: str  # one of the analyzers above
    service: str
    object: str  # "pod/cart-6f9c-x2x7p", "deployment/cart", "node/n1"
    reason: str  # the API's word for it: CrashLoopBackOff, OOMKilled, ProgressDeadlineExceeded
    text: str  # one sentence, every number in `values`
    score: float  # 0..1
    part: str  # which read it rests on: pods, events, deployments, nodes, hpas
    values: dict[str, Any] = field(default_factory=dict)


def mib(size: float | None) -> str:
    return "unset" if size is None else f"{size / 2**20:.0f} MiB"


def _last_lines(snapshot: Snapshot, pod: Pod, container: str) -> list[str]:
    return snapshot.logs.get((pod.name, container), [])[-LOG_LINES_SHOWN:]


def crashloop(snapshot: Snapshot) -> list[Diagnosis]:
    found = []
    for pod in snapshot.pods:
        for c in pod.containers:
            if c.reason != "CrashLoopBackOff":
                continue
            lines = _last_lines(snapshot, pod, c.name)
            last = (f"; last exit {c.last_reason} (code {c.last_exit_code})"
                    if c.last_reason else "")
            said = f"; last log line: \"{lines[-1]}\"" if lines else ""
            found.append(Diagnosis(
                "crashloop", pod.service, f"pod/{pod.name}", c.reason,
                f"container {c.name} of pod {pod.name} is in CrashLoopBackOff after "
                f"{c.restarts} restarts{last}{said}", 0.9, "pods",
                {"pod": pod.name, "container": c.name, "restarts": c.restarts,
                 "last_reason": c.last_reason, "exit_code": c.last_exit_code,
                 "last_log_lines": lines}))
    return found


def oom_killed(snapshot: Snapshot) -> list[Diagnosis]:
    found = []
    for pod in snapshot.pods:
        for c in pod.containers:
            if "OOMKilled" not in (c.last_reason, c.reason if c.state == "terminated" else ""):
                continue
            limit = (f"against its memory limit of {mib(c.memory_limit)}" if c.memory_limit
                     else "with no memory limit set (the node ran out of memory)")
            lines = _last_lines(snapshot, pod, c.name)
            said = f"; last log line: \"{lines[-1]}\"" if lines else ""
            found.append(Diagnosis(
                "oom_killed", pod.service, f"pod/{pod.name}", "OOMKilled",
                f"container {c.name} of pod {pod.name} was OOMKilled {limit}; "
                f"{c.restarts} restarts{said}", 0.95, "pods",
                {"pod": pod.name, "container": c.name, "memory_limit": mib(c.memory_limit),
                 "memory_request": mib(c.memory_request), "restarts": c.restarts,
                 "exit_code": c.last_exit_code, "last_log_lines": lines}))
    return found


def image_pull(snapshot: Snapshot) -> list[Diagnosis]:
    found = []
    for pod in snapshot.pods:
        for c in pod.containers:
            if c.reason not in IMAGE_PULL:
                continue
            found.append(Diagnosis(
                "image_pull", pod.service, f"pod/{pod.name}", c.reason,
                f"container {c.name} of pod {pod.name} cannot pull image {c.image}: {c.reason}"
                + (f" ({c.message})" if c.message else ""), 0.9, "pods",
                {"pod": pod.name, "container": c.name, "image": c.image,
                 "message": c.message}))
    return found


def unschedulable(snapshot: Snapshot) -> list[Diagnosis]:
    latest = {e.name: e for e in sorted(snapshot.events, key=lambda e: e.last_seen or 0)
              if e.reason == "FailedScheduling"}
    found = []
    for pod in snapshot.pods:
        if pod.phase != "Pending":
            continue
        why = pod.unscheduled or (latest[pod.name].message if pod.name in latest else "")
        if not why:
            continue
        found.append(Diagnosis(
            "unschedulable", pod.service, f"pod/{pod.name}", "FailedScheduling",
            f"pod {pod.name} is Pending: the scheduler cannot place it: {why}", 0.85, "pods",
            {"pod": pod.name, "scheduler": why}))
    return found


def rollout(snapshot: Snapshot) -> list[Diagnosis]:
    found = []
    for w in snapshot.workloads:
        progress = {"desired": w.desired, "updated": w.updated, "ready": w.ready,
                    "available": w.available, "revision": w.revision}
        where = f"{w.kind.lower()}/{w.name}"
        counts = f"{w.updated}/{w.desired} updated, {w.ready}/{w.desired} ready"
        if w.stalled:
            found.append(Diagnosis(
                "rollout", w.service, where, w.stalled_reason or "RolloutStalled",
                f"the rollout of {w.kind} {w.name} failed ({w.stalled_reason}): {counts}; "
                f"{w.stalled}", 0.85, f"{w.kind.lower()}s", progress))
        elif w.desired and (w.updated < w.desired or w.observed_generation < w.generation):
            # New pods not all out yet; unready pods of a finished rollout are the pod
            # analyzers' to explain.
            found.append(Diagnosis(
                "rollout", w.service, where, "RolloutInProgress",
                f"the rollout of {w.kind} {w.name} has not finished: {counts}", 0.6,
                f"{w.kind.lower()}s", progress))
    return found


def probe_failing(snapshot: Snapshot) -> list[Diagnosis]:
    by_pod: dict[str, list[str]] = {}
    counts: dict[str, int] = {}
    for e in snapshot.events:
        if e.reason == "Unhealthy" and e.kind == "Pod":
            by_pod.setdefault(e.name, []).append(e.message)
            counts[e.name] = counts.get(e.name, 0) + e.count
    found = []
    for pod in snapshot.pods:
        messages = by_pod.get(pod.name, [])
        unready = [c.name for c in pod.containers
                   if c.state == "running" and c.readiness and not c.ready]
        if not messages and not unready:
            continue
        said = f": {messages[-1]}" if messages else ""
        found.append(Diagnosis(
            "probe_failing", pod.service, f"pod/{pod.name}", "Unhealthy",
            f"probes of pod {pod.name} are failing ({counts.get(pod.name, 0)} Unhealthy events"
            + (f", not ready: {', '.join(unready)}" if unready else "") + f"){said}", 0.7,
            "events", {"pod": pod.name, "unhealthy_events": counts.get(pod.name, 0),
                       "not_ready": unready, "message": messages[-1] if messages else ""}))
    return found


def evicted(snapshot: Snapshot) -> list[Diagnosis]:
    return [Diagnosis("evicted", pod.service, f"pod/{pod.name}", "Evicted",
                      f"pod {pod.name} was evicted from node {pod.node or '?'}: {pod.message}",
                      0.75, "pods", {"pod": pod.name, "node": pod.node, "message": pod.message})
            for pod in snapshot.pods if pod.reason == "Evicted"]


def node(snapshot: Snapshot) -> list[Diagnosis]:
    found = []
    for n in snapshot.nodes:
        pods = sorted({p.service for p in snapshot.pods if p.node == n.name})
        values = {"node": n.name, "services": pods, "pressures": list(n.pressures)}
        if not n.ready:
            found.append(Diagnosis("node", f"node/{n.name}", f"node/{n.name}", "NotReady",
                                   f"node {n.name} is NotReady: {n.ready_reason}", 0.9, "nodes",
                                   values))
        elif n.pressures:
            found.append(Diagnosis("node", f"node/{n.name}", f"node/{n.name}", n.pressures[0],
                                   f"node {n.name} is under {', '.join(n.pressures)}", 0.7,
                                   "nodes", values))
    return found


def hpa_at_max(snapshot: Snapshot) -> list[Diagnosis]:
    services = {w.name: w.service for w in snapshot.workloads}
    return [Diagnosis(
        "hpa_at_max", services.get(a.target, a.target), f"hpa/{a.name}", "ScalingLimited",
        f"autoscaler {a.name} is at its maximum of {a.max_replicas} replicas for {a.target} "
        f"(wants {a.desired})" + (f": {a.limited}" if a.limited else ""), 0.7, "hpas",
        {"target": a.target, "current": a.current, "desired": a.desired,
         "max": a.max_replicas})
        for a in snapshot.autoscalers
        if a.current >= a.max_replicas and (a.desired >= a.max_replicas or a.limited)]


ANALYZERS: tuple[Callable[[Snapshot], list[Diagnosis]], ...] = (
    oom_killed, crashloop, image_pull, unschedulable, rollout, probe_failing, evicted, node,
    hpa_at_max)


def analyze(snapshot: Snapshot) -> list[Diagnosis]:
    """Every analyzer's diagnoses, most severe first."""
    found = [d for analyzer in ANALYZERS for d in analyzer(snapshot)]
    return sorted(found, key=lambda d: -d.score)
