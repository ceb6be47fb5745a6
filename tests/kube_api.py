"""A loopback stand-in for the Kubernetes API server, and objects shaped like the API's JSON
(the API reference's Pod, Deployment, StatefulSet, DaemonSet, Event, Node,
HorizontalPodAutoscaler v2 and their List wrappers), for pointing the real `kubernetes` client at.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

Json = dict[str, Any]
TOKEN = "test-token-not-a-secret"

LISTS = {
    "pods": ("v1", "PodList"), "events": ("v1", "EventList"), "nodes": ("v1", "NodeList"),
    "deployments": ("apps/v1", "DeploymentList"), "statefulsets": ("apps/v1", "StatefulSetList"),
    "daemonsets": ("apps/v1", "DaemonSetList"),
    "horizontalpodautoscalers": ("autoscaling/v2", "HorizontalPodAutoscalerList"),
}


class KubeApi:
    """Answers GET /api/v1/..., /apis/apps/v1/..., /apis/autoscaling/v2/... from `objects`
    (resource -> items, per namespace) and `logs` ((pod, container, previous) -> text).
    `status` forces an HTTP status with a Status body; `delay_s` makes every answer hang;
    `trickle_s` sends the body a few bytes at a time."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], list[Json]] = {}  # (namespace or "", resource)
        self.logs: dict[tuple[str, str, bool], str] = {}
        self.status: int | None = None
        self.delay_s = 0.0
        self.trickle_s = 0.0  # > 0: the body comes 16 bytes at a time, this far apart
        self.requests: list[tuple[str, str, str]] = []  # (method, path?query, Authorization)
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - the http.server name
                api.requests.append(("GET", self.path, self.headers.get("Authorization", "")))
                if api.delay_s:
                    time.sleep(api.delay_s)
                code, body, kind = api.answer(self.path)
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    if not api.trickle_s:
                        self.wfile.write(body)
                    for i in range(0, len(body) if api.trickle_s else 0, 16):
                        self.wfile.write(body[i:i + 16])  # each piece well within a read timeout
                        self.wfile.flush()
                        time.sleep(api.trickle_s)

            def do_POST(self) -> None:  # noqa: N802 - a read-only client never gets here
                api.requests.append(("POST", self.path, ""))
                self.send_response(405)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> KubeApi:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def put(self, resource: str, namespace: str, *items: Json) -> None:
        self.objects.setdefault((namespace, resource), []).extend(items)

    def answer(self, raw: str) -> tuple[int, bytes, str]:
        if self.status is not None:
            return self.status, _status_body(self.status, "forbidden by the test"), JSON
        url = urlparse(raw)
        parts = url.path.strip("/").split("/")
        # /api/v1/namespaces/{ns}/{resource}[/{name}/log], /apis/{group}/{v}/namespaces/{ns}/{r}
        core = parts[0] == "api"
        rest = parts[2:] if core else parts[3:]
        if rest[:1] == ["nodes"]:
            return self._list("", "nodes")
        if len(rest) >= 3 and rest[0] == "namespaces":
            ns, resource = rest[1], rest[2]
            if len(rest) == 5 and resource == "pods" and rest[4] == "log":
                q = parse_qs(url.query)
                key = (rest[3], q.get("container", [""])[0], q.get("previous") == ["true"])
                if key not in self.logs:
                    return 404, _status_body(404, f"container {key[1]} not found"), JSON
                tail = int(q.get("tailLines", ["0"])[0]) or None
                lines = self.logs[key].splitlines()[-tail:] if tail else self.logs[key]
                text = "\n".join(lines) if isinstance(lines, list) else lines
                return 200, (text + "\n").encode(), "text/plain"
            if len(rest) == 3:
                return self._list(ns, resource)
        return 404, _status_body(404, f"the server could not find {url.path}"), JSON

    def _list(self, namespace: str, resource: str) -> tuple[int, bytes, str]:
        version, kind = LISTS[resource]
        body = {"kind": kind, "apiVersion": version, "metadata": {"resourceVersion": "1"},
                "items": self.objects.get((namespace, resource), [])}
        return 200, json.dumps(body).encode(), JSON


JSON = "application/json"


def _status_body(code: int, message: str) -> bytes:
    reason = {403: "Forbidden", 404: "NotFound", 500: "InternalError"}.get(code, "Unknown")
    return json.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {},
                       "status": "Failure", "message": message, "reason": reason,
                       "code": code}).encode()


def write_kubeconfig(folder: Path, url: str, context: str = "test") -> Path:
    path = folder / "kubeconfig"
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": context,
        "clusters": [{"name": "loopback", "cluster": {"server": url}}],
        "users": [{"name": "reader", "user": {"token": TOKEN}}],
        "contexts": [{"name": context, "context": {"cluster": "loopback", "user": "reader",
                                                    "namespace": "shop"}}],
    }), encoding="utf-8")
    return path


# -- objects shaped like the API reference's

def _meta(name: str, namespace: str, app: str, **extra: Any) -> Json:
    return {"name": name, "namespace": namespace, "uid": f"uid-{name}",
            "creationTimestamp": "2026-12-06T20:00:00Z", "labels": {"app": app}, **extra}


def container_status(name: str, *, ready: bool = True, restarts: int = 0,
                     waiting: tuple[str, str] | None = None,
                     last: tuple[str, int] | None = None, image: str = "") -> Json:
    state: Json = ({"waiting": {"reason": waiting[0], "message": waiting[1]}} if waiting
                   else {"running": {"startedAt": "2026-12-06T21:50:00Z"}})
    last_state: Json = {"terminated": {
        "exitCode": last[1], "reason": last[0], "startedAt": "2026-12-06T21:58:00Z",
        "finishedAt": "2026-12-06T21:59:30Z", "containerID": "containerd://abc"}} if last else {}
    return {"name": name, "state": state, "lastState": last_state, "ready": ready,
            "restartCount": restarts, "image": image or f"registry.local/{name}:1.4.2",
            "imageID": "", "containerID": "containerd://abc", "started": ready}


def pod(name: str, app: str, *statuses: Json, namespace: str = "shop", phase: str = "Running",
        memory_limit: str = "256Mi", node: str = "node-1", readiness: bool = False,
        conditions: list[Json] | None = None, **status: Any) -> Json:
    containers = []
    for cs in statuses or (container_status(app),):
        c: Json = {"name": cs["name"], "image": cs["image"],
                   "resources": {"limits": {"memory": memory_limit, "cpu": "500m"},
                                 "requests": {"memory": "128Mi", "cpu": "100m"}},
                   "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}}}
        if readiness:
            c["readinessProbe"] = {"httpGet": {"path": "/ready", "port": 8080}}
        containers.append(c)
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": _meta(name, namespace, app, ownerReferences=[
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": f"{app}-6f9c",
                 "uid": "rs", "controller": True}]),
            "spec": {"containers": containers, "nodeName": "" if phase == "Pending" else node,
                     "restartPolicy": "Always"},
            "status": {"phase": phase, "conditions": conditions or [
                {"type": "Ready", "status": "True"}, {"type": "PodScheduled", "status": "True"}],
                "containerStatuses": list(statuses or (container_status(app),)),
                "hostIP": "10.0.0.1", "podIP": "10.1.0.5",
                "startTime": "2026-12-06T21:00:00Z", **status}}


def deployment(name: str, replicas: int = 3, *, ready: int | None = None,
               updated: int | None = None, stalled: bool = False, namespace: str = "shop",
               kind: str = "Deployment") -> Json:
    ready = replicas if ready is None else ready
    updated = replicas if updated is None else updated
    conditions = [{"type": "Available", "status": "True" if ready else "False",
                   "reason": "MinimumReplicasAvailable"}]
    if stalled:
        conditions.append({"type": "Progressing", "status": "False",
                           "reason": "ProgressDeadlineExceeded",
                           "message": f'ReplicaSet "{name}-7c4d" has timed out progressing.'})
    else:
        conditions.append({"type": "Progressing", "status": "True",
                           "reason": "NewReplicaSetAvailable"})
    status: Json = {"observedGeneration": 4, "replicas": replicas, "updatedReplicas": updated,
                    "readyReplicas": ready, "availableReplicas": ready,
                    "conditions": conditions}
    if kind == "DaemonSet":
        status = {"desiredNumberScheduled": replicas, "numberReady": ready,
                  "updatedNumberScheduled": updated, "numberAvailable": ready,
                  "observedGeneration": 4, "currentNumberScheduled": replicas,
                  "numberMisscheduled": 0}
    meta = _meta(name, namespace, name, generation=4,
                 annotations={"deployment.kubernetes.io/revision": "7"})
    spec: Json = {"selector": {"matchLabels": {"app": name}},
                  "template": {"metadata": {"labels": {"app": name}},
                               "spec": {"containers": [{"name": name, "image": "x"}]}}}
    if kind != "DaemonSet":
        spec["replicas"] = replicas
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": meta, "spec": spec,
            "status": status}


def event(obj: str, reason: str, message: str, *, kind: str = "Pod", type_: str = "Warning",
          count: int = 1, namespace: str = "shop") -> Json:
    return {"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{obj}.{reason.lower()}", "namespace": namespace},
            "involvedObject": {"kind": kind, "name": obj, "namespace": namespace},
            "reason": reason, "message": message, "type": type_, "count": count,
            "source": {"component": "kubelet"}, "firstTimestamp": "2026-12-06T21:40:00Z",
            "lastTimestamp": "2026-12-06T21:59:00Z"}


def node(name: str, *, ready: bool = True, pressure: str | None = None) -> Json:
    conditions = [{"type": t, "status": "True" if t == pressure else "False",
                   "reason": f"KubeletHas{'Insufficient' if t == pressure else 'Sufficient'}"
                             f"{t.replace('Pressure', '')}"}
                  for t in ("MemoryPressure", "DiskPressure", "PIDPressure")]
    conditions.append({"type": "Ready", "status": "True" if ready else "Unknown",
                       "reason": "KubeletReady" if ready else "NodeStatusUnknown",
                       "message": "kubelet is posting ready status" if ready
                       else "Kubelet stopped posting node status."})
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {}},
            "spec": {}, "status": {"conditions": conditions,
                                   "capacity": {"cpu": "4", "memory": "16Gi"}}}


def hpa(name: str, target: str, *, current: int, max_replicas: int = 10,
        namespace: str = "shop") -> Json:
    at_max = current >= max_replicas
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                        "name": target},
                     "minReplicas": 2, "maxReplicas": max_replicas},
            "status": {"currentReplicas": current, "desiredReplicas": current,
                       "conditions": [{"type": "ScalingLimited",
                                       "status": "True" if at_max else "False",
                                       "reason": "TooManyReplicas" if at_max
                                       else "DesiredWithinRange",
                                       "message": "the desired replica count is more than the "
                                                  "maximum replica count" if at_max else ""}]}}
