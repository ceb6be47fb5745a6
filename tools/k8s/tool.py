"""The `kubernetes_diagnose` tool: read one allow-listed namespace (pods, workloads, events, nodes,
autoscalers, and the previous logs of containers that restarted), run the analyzers, and hand
each diagnosis over as a Finding (kind `k8s_<analyzer>`, `detail` the API's reason) with its
Evidence: the API path asked and every number the answer may quote."""

from __future__ import annotations

from collections import Counter
from typing import Any, ClassVar

from pydantic import BaseModel, Field

from tools.base import BackendError, Evidence, Finding, ToolResult, ToolStatus
from tools.k8s.analyzers import Diagnosis, analyze
from tools.k8s.state import (
    KubernetesSource,
    Snapshot,
    parse_autoscaler,
    parse_event,
    parse_node,
    parse_pod,
    parse_workload,
)

WORKLOADS = {"deployments": "Deployment", "statefulsets": "StatefulSet",
             "daemonsets": "DaemonSet"}
LOG_REASONS = ("CrashLoopBackOff", "OOMKilled", "Error")


class KubernetesParams(BaseModel):
    services: list[str] = Field(default_factory=list,
                                description="only these services' pods and workloads; empty: all")
    namespace: str | None = Field(None, description="an allow-listed namespace; default: the first")
    start: int | None = Field(None, description="unused: a cluster has no history of its state")
    end: int | None = Field(None, description="the moment asked about, unix seconds; a real "
                                              "cluster is read as it is now")


def read_snapshot(source: KubernetesSource, namespace: str, log_lines: int = 20,
                  as_of: int | None = None) -> Snapshot:
    """The namespace as the API shows it now. The pods are required (their read failing raises);
    any other part that fails is noted in `unread` and the analyzers go on without it."""
    snap = Snapshot(namespace)
    items, snap.queries["pods"] = source.list_items("pods", namespace, as_of)
    snap.pods = [parse_pod(i) for i in items]
    for part in ("deployments", "statefulsets", "daemonsets", "events", "nodes", "hpas"):
        try:
            items, snap.queries[part] = source.list_items(part, namespace, as_of)
        except BackendError as exc:
            snap.unread[part] = str(exc)
            continue
        if part in WORKLOADS:
            snap.workloads += [parse_workload(WORKLOADS[part], i) for i in items]
        elif part == "events":
            snap.events = [parse_event(i) for i in items]
        elif part == "nodes":
            snap.nodes = [parse_node(i) for i in items]
        else:
            snap.autoscalers = [parse_autoscaler(i) for i in items]
    for pod in snap.pods:
        for c in pod.containers:
            if c.restarts and (c.reason in LOG_REASONS or c.last_reason in LOG_REASONS):
                try:
                    lines, snap.queries[f"logs:{pod.name}/{c.name}"] = source.logs(
                        namespace, pod.name, c.name, previous=True, tail=log_lines, as_of=as_of)
                except BackendError as exc:
                    snap.unread[f"logs of {pod.name}/{c.name}"] = str(exc)
                    continue
                snap.logs[(pod.name, c.name)] = lines
    return snap


def _relevant(d: Diagnosis, services: list[str]) -> bool:
    if not services or d.service in services:
        return True
    return d.kind == "node" and bool(set(d.values.get("services", [])) & set(services))


class KubernetesDiagnose:
    name: ClassVar[str] = "kubernetes_diagnose"
    description: ClassVar[str] = (
        "Diagnose Kubernetes: CrashLoopBackOff with the last log lines, OOMKilled against the "
        "memory limit, image pull errors, unschedulable pods, failed or unfinished rollouts, "
        "failing probes, evictions, node NotReady/pressure and autoscalers at their maximum.")
    Params: ClassVar[type[BaseModel]] = KubernetesParams
    side_effects: ClassVar[bool] = False

    def __init__(self, source: KubernetesSource, log_lines: int = 20) -> None:
        self.source = source
        self.log_lines = log_lines

    def run(self, params: KubernetesParams) -> ToolResult:
        namespace = params.namespace or self.source.namespaces[0]
        snap = read_snapshot(self.source, namespace, self.log_lines, params.end)
        pods = [p for p in snap.pods if not params.services or p.service in params.services]
        found = [d for d in analyze(snap) if _relevant(d, params.services)]
        evidence = [self._overview(snap, pods)]
        findings = []
        for d in found:
            query = snap.queries.get(d.part, snap.queries["pods"])
            logs = snap.queries.get(f"logs:{d.values.get('pod')}/{d.values.get('container')}")
            ev = Evidence(f"k8s:{d.kind}:{d.object}", self.name, self.source.source,
                          query + (f" ; {logs}" if logs and d.values.get("last_log_lines")
                                   else ""), d.text, dict(d.values))
            evidence.append(ev)
            findings.append(Finding(f"k8s_{d.kind}", d.service, d.text, d.score,
                                    value=_number(d), evidence=[ev.id], detail=d.reason))
        where = f"namespace {namespace}"
        unread = f"; not read: {', '.join(snap.unread)}" if snap.unread else ""
        if not pods and not found:
            return ToolResult(self.name, ToolStatus.NO_DATA,
                              f"no pods in {where}" + (f" for {', '.join(params.services)}"
                                                       if params.services else "") + unread,
                              evidence=evidence, data={"unread": snap.unread})
        counted = f"{len(pods)} pod{'' if len(pods) == 1 else 's'}"
        summary = (f"{len(found)} Kubernetes problem{'' if len(found) == 1 else 's'} in {where} "
                   f"({counted})" if found else f"no Kubernetes problems in {where}: {counted} "
                   "healthy")
        return ToolResult(self.name, ToolStatus.OK, summary + unread, findings, evidence,
                          data={"problems": len(found), "pods": len(pods),
                                "kinds": dict(Counter(d.kind for d in found)),
                                "unread": snap.unread})

    def _overview(self, snap: Snapshot, pods: list[Any]) -> Evidence:
        """Pods per service: how many, how many ready, restarts; the view a person starts with."""
        per: dict[str, dict[str, int]] = {}
        for p in pods:
            row = per.setdefault(p.service, {"pods": 0, "ready": 0, "restarts": 0})
            row["pods"] += 1
            row["ready"] += int(bool(p.containers) and all(c.ready for c in p.containers))
            row["restarts"] += sum(c.restarts for c in p.containers)
        text = "; ".join(f"{s}: {r['ready']}/{r['pods']} ready, {r['restarts']} restarts"
                         for s, r in sorted(per.items())) or "no pods"
        return Evidence(f"k8s:pods:{snap.namespace}", self.name, self.source.source,
                        snap.queries["pods"], text, {"services": per})


def _number(d: Diagnosis) -> float | None:
    for key in ("restarts", "current", "unhealthy_events"):
        if isinstance(d.values.get(key), int):
            return float(d.values[key])
    return None
