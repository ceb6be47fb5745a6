"""Read-only Kubernetes reads through the official `kubernetes` client: pods, workloads, events,
nodes, autoscalers and container logs of the allow-listed namespaces, as the API's own JSON.

The client is built from a kubeconfig (file and context) or the pod's service account. Each read
has the settings' timeout for its whole body and no retries of its own (urllib3's default would
multiply a hanging server's cost), and goes through the API server's circuit breaker and the
answer's memory (tools/backends/health.py), like the HTTP backends: a server that failed once is
not asked again in the same answer. A 4xx (403 from RBAC, 404) is the server's verdict on the
request: a `RequestRejected`, the server counts as up. Only `get`/`list` calls are made;
docs/kubernetes.md has the ClusterRole they need.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tools.backends.health import Breaker, failed_in_this_answer, remember_failure
from tools.backends.http import MAX_BODY_BYTES, RequestRejected, plain_reason
from tools.base import BackendError, BackendTimeout

SYSTEM = "Kubernetes"
KINDS = ("pods", "deployments", "statefulsets", "daemonsets", "events", "nodes", "hpas")
T = TypeVar("T")


class NamespaceNotAllowed(BackendError):
    """A namespace outside the allow-list: refused before anything is asked."""


@dataclass(frozen=True)
class KubernetesConfig:
    """Where the API server is and how to reach it (infra.settings.KubernetesSettings)."""

    namespaces: tuple[str, ...] = ("default",)
    kubeconfig: str | None = None
    context: str | None = None
    in_cluster: bool = False
    timeout_s: float = 5.0


def api_client(config: KubernetesConfig) -> Any:
    """A `kubernetes.client.ApiClient` for `config`; a bad kubeconfig is one BackendError line."""
    from kubernetes import client
    from kubernetes import config as kube_config
    from kubernetes.config.config_exception import ConfigException

    configuration = client.Configuration()
    try:
        if config.in_cluster:
            kube_config.load_incluster_config(client_configuration=configuration)
        else:
            kube_config.load_kube_config(config_file=config.kubeconfig, context=config.context,
                                         client_configuration=configuration)
    except (ConfigException, OSError, ValueError, TypeError) as exc:
        where = "in-cluster service account" if config.in_cluster else (
            f"kubeconfig {config.kubeconfig or '~/.kube/config'}"
            + (f" context {config.context!r}" if config.context else ""))
        raise BackendError(f"{SYSTEM}: cannot use the {where}: {plain_reason(exc)}") from None
    configuration.retries = False  # one try per read: the timeout is the whole budget
    return client.ApiClient(configuration)


@dataclass
class KubernetesBackend:
    """The API reads the Kubernetes tool stands on; `list_items` and `logs` return API JSON."""

    api: Any  # kubernetes.client.ApiClient
    namespaces: tuple[str, ...] = ("default",)
    timeout_s: float = 5.0
    breaker: Breaker = field(default_factory=Breaker)
    source: str = "kubernetes"

    def __post_init__(self) -> None:
        from kubernetes import client

        self.url = str(self.api.configuration.host).rstrip("/")
        if not self.breaker.url:
            self.breaker.system, self.breaker.url = SYSTEM, self.url
        self._core = client.CoreV1Api(self.api)
        self._apps = client.AppsV1Api(self.api)
        self._autoscaling = client.AutoscalingV2Api(self.api)

    @classmethod
    def from_config(cls, config: KubernetesConfig, breaker: Breaker | None = None
                    ) -> KubernetesBackend:
        return cls(api_client(config), config.namespaces, config.timeout_s,
                   breaker or Breaker())

    def check_namespace(self, namespace: str) -> None:
        if namespace not in self.namespaces:
            raise NamespaceNotAllowed(
                f"{SYSTEM}: namespace {namespace!r} is not in the allow-list "
                f"({', '.join(self.namespaces)}; OPSCOPILOT_KUBERNETES__NAMESPACES)")

    def list_items(self, kind: str, namespace: str | None = None,
                   as_of: int | None = None) -> tuple[list[dict[str, Any]], str]:
        """The items of one list call and its API path; `nodes` ignore the namespace. The
        cluster is read as it is now: `as_of` is ignored."""
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; kinds are {', '.join(KINDS)}")
        if kind == "nodes":
            return self._items(self._core.list_node, "/api/v1/nodes"), "/api/v1/nodes"
        ns = namespace or self.namespaces[0]
        self.check_namespace(ns)
        calls: dict[str, tuple[Callable[..., Any], str]] = {
            "pods": (self._core.list_namespaced_pod, f"/api/v1/namespaces/{ns}/pods"),
            "events": (self._core.list_namespaced_event, f"/api/v1/namespaces/{ns}/events"),
            "deployments": (self._apps.list_namespaced_deployment,
                            f"/apis/apps/v1/namespaces/{ns}/deployments"),
            "statefulsets": (self._apps.list_namespaced_stateful_set,
                             f"/apis/apps/v1/namespaces/{ns}/statefulsets"),
            "daemonsets": (self._apps.list_namespaced_daemon_set,
                           f"/apis/apps/v1/namespaces/{ns}/daemonsets"),
            "hpas": (self._autoscaling.list_namespaced_horizontal_pod_autoscaler,
                     f"/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers"),
        }
        call, path = calls[kind]
        return self._items(call, path, ns), path

    def logs(self, namespace: str, pod: str, container: str, previous: bool = False,
             tail: int = 20, as_of: int | None = None) -> tuple[list[str], str]:
        """The last `tail` lines of a container's log (`previous`: the run before the restart)."""
        self.check_namespace(namespace)
        path = (f"/api/v1/namespaces/{namespace}/pods/{pod}/log?container={container}"
                f"&tailLines={tail}" + ("&previous=true" if previous else ""))
        data = self._guarded(lambda: self._whole(lambda: self._core.read_namespaced_pod_log(
            pod, namespace, container=container, previous=previous, tail_lines=tail,
            _preload_content=False, _request_timeout=self.timeout_s)), path)
        text = data.decode("utf-8", "replace")
        return [line for line in text.splitlines() if line.strip()], path

    def _items(self, call: Callable[..., Any], path: str,
               namespace: str | None = None) -> list[dict[str, Any]]:
        args = (namespace,) if namespace is not None else ()
        data = self._guarded(lambda: self._whole(lambda: call(
            *args, _preload_content=False, _request_timeout=self.timeout_s)), path)
        try:
            body = json.loads(data)
            items = body["items"]
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError):
            error = BackendError(f"{SYSTEM} at {self.url} returned a malformed body for {path}")
            self.breaker.failed(error)
            remember_failure(self.breaker, error)
            raise error from None
        if not isinstance(items, list):
            return []
        return [i for i in items if isinstance(i, dict)]

    def _whole(self, request: Callable[[], Any]) -> bytes:
        """The body of `request`'s response, all of it within the timeout: a server trickling
        bytes would otherwise reset the socket's per-read timeout forever."""
        deadline = time.monotonic() + self.timeout_s
        response = request()
        chunks, size = [], 0
        try:
            while chunk := response.read1(2**16):  # what has arrived, without waiting for more
                chunks.append(chunk)
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    raise BackendError(f"{SYSTEM} at {self.url} sent more than "
                                       f"{MAX_BODY_BYTES // 2**20} MiB")
                if time.monotonic() > deadline:
                    raise BackendTimeout(f"{SYSTEM} at {self.url} did not answer within "
                                         f"{self.timeout_s:g} s")
        except BaseException:
            response.close()  # not drained: the rest of a trickling body is not waited for
            raise
        response.release_conn()
        return b"".join(chunks)

    def _guarded(self, read: Callable[[], T], path: str) -> T:
        """One read through the breaker, its failures turned into one BackendError line."""
        earlier = failed_in_this_answer(self.breaker)
        if earlier is not None:
            raise type(earlier)(str(earlier))
        try:
            self.breaker.admit()
        except BackendError as exc:
            remember_failure(self.breaker, exc)
            raise
        try:
            result = read()
        except Exception as exc:  # noqa: BLE001 - sorted into the server's or the request's fault
            error = exc if isinstance(exc, BackendError) else self._error(exc, path)
            if error is None:
                self.breaker.released()
                raise
            if isinstance(error, RequestRejected):
                self.breaker.succeeded()
            else:
                self.breaker.failed(error)
                remember_failure(self.breaker, error)
            raise error from None
        self.breaker.succeeded()
        return result

    def _error(self, exc: Exception, path: str) -> BackendError | None:
        import urllib3.exceptions as u3
        from kubernetes.client.exceptions import ApiException

        where = f"{SYSTEM} at {self.url}"
        if isinstance(exc, ApiException):
            status = int(exc.status or 0)
            if status == 0:  # the client's own wrapping of a transport error
                return BackendError(f"{where} is unreachable: {plain_reason(exc)}")
            message = _api_message(exc.body) or str(exc.reason or "")
            if 400 <= status < 500:
                verdict = "forbade" if status == 403 else "rejected"
                hint = " (RBAC: see docs/kubernetes.md for the ClusterRole)" if status in (
                    401, 403) else ""
                return RequestRejected(f"{where} {verdict} GET {path} (HTTP {status}): "
                                       f"{message}{hint}")
            return BackendError(f"{where} answered HTTP {status} to GET {path}: {message}")
        reason = exc.reason if isinstance(exc, u3.MaxRetryError) and exc.reason else exc
        if isinstance(reason, u3.NewConnectionError):  # a ConnectTimeoutError in urllib3 2
            why = str(reason).rsplit("new connection: ", 1)[-1]  # "[Errno 111] Connection ..."
            return BackendError(f"{where} is unreachable: {plain_reason(OSError(why))}")
        if isinstance(reason, u3.TimeoutError):
            return BackendTimeout(f"{where} did not answer within {self.timeout_s:g} s")
        if isinstance(reason, u3.HTTPError | OSError):
            return BackendError(f"{where} is unreachable: {plain_reason(reason)}")
        return None


def _api_message(body: Any) -> str:
    """The `message` of a Kubernetes `Status` body, else the start of the body."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not body:
        return ""
    try:
        parsed = json.loads(body)
    except (json.JSONDecodeError, TypeError):
        return " ".join(str(body).split())[:200]
    if isinstance(parsed, dict) and parsed.get("message"):
        return str(parsed["message"])[:300]
    return " ".join(str(body).split())[:200]
