"""The Kubernetes backend and analyzers through the real `kubernetes` client, pointed by a
kubeconfig in tmp at a loopback server that answers with the API's JSON shapes."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.kube_api import (
    TOKEN,
    KubeApi,
    container_status,
    deployment,
    event,
    hpa,
    node,
    pod,
    write_kubeconfig,
)
from tools.backends.health import Breaker
from tools.backends.kubernetes import KubernetesBackend, KubernetesConfig
from tools.base import BackendError, ToolRegistry, ToolResult, ToolStatus
from tools.k8s.tool import KubernetesDiagnose

CRASH_LOG = ("2026-12-06T21:59:28Z INFO starting cart on :8080\n"
             "2026-12-06T21:59:29Z INFO cache warmed: 120000 carts\n"
             "2026-12-06T21:59:30Z ERROR java.lang.OutOfMemoryError: Java heap space")


@pytest.fixture
def api() -> Iterator[KubeApi]:
    with KubeApi() as server:
        server.put("nodes", "", node("node-1"))
        yield server


def backend_for(url: str, tmp_path: Path, timeout_s: float = 2.0,
                namespaces: tuple[str, ...] = ("shop",)) -> KubernetesBackend:
    config = KubernetesConfig(namespaces, str(write_kubeconfig(tmp_path, url)), "test",
                              timeout_s=timeout_s)
    return KubernetesBackend.from_config(config, Breaker(cooldown_s=30))


def diagnose(api: KubeApi, tmp_path: Path, **args: Any) -> ToolResult:
    registry = ToolRegistry()
    registry.register(KubernetesDiagnose(backend_for(api.url, tmp_path)))
    return registry.run("kubernetes_diagnose", args)


def kinds(result: ToolResult) -> set[str]:
    return {f.kind for f in result.findings}


def test_reads_through_the_client_with_the_kubeconfig_token_and_only_gets(
        api: KubeApi, tmp_path: Path) -> None:
    api.put("pods", "shop", pod("cart-6f9c-x2x7p", "cart"), pod("payment-1", "payment"))
    api.put("deployments", "shop", deployment("cart"), deployment("payment"))
    result = diagnose(api, tmp_path)
    assert result.status is ToolStatus.OK, result.summary
    assert result.summary == "no Kubernetes problems in namespace shop: 2 pods healthy"
    assert result.findings == []
    overview = result.evidence[0]
    assert overview.query == "/api/v1/namespaces/shop/pods"
    assert overview.values["services"]["cart"] == {"pods": 1, "ready": 1, "restarts": 0}
    assert {m for m, _, _ in api.requests} == {"GET"}
    assert all(auth == f"Bearer {TOKEN}" for _, _, auth in api.requests)
    paths = {p.split("?")[0] for _, p, _ in api.requests}
    assert {"/api/v1/namespaces/shop/pods", "/apis/apps/v1/namespaces/shop/deployments",
            "/apis/apps/v1/namespaces/shop/statefulsets", "/api/v1/namespaces/shop/events",
            "/api/v1/nodes", "/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers",
            } <= paths


def test_crashloop_with_oomkilled_against_the_limit_and_the_last_log_lines(
        api: KubeApi, tmp_path: Path) -> None:
    api.put("pods", "shop", pod("cart-6f9c-x2x7p", "cart", container_status(
        "cart", ready=False, restarts=7, waiting=("CrashLoopBackOff", "back-off 5m0s"),
        last=("OOMKilled", 137))), pod("payment-1", "payment"))
    api.logs[("cart-6f9c-x2x7p", "cart", True)] = CRASH_LOG
    result = diagnose(api, tmp_path, services=["cart"])
    assert kinds(result) == {"k8s_oom_killed", "k8s_crashloop"}
    oom = result.findings[0]
    assert oom.kind == "k8s_oom_killed" and oom.detail == "OOMKilled" and oom.service == "cart"
    assert "memory limit of 256 MiB" in oom.text and "7 restarts" in oom.text
    ev = {e.id: e for e in result.evidence}[oom.evidence[0]]
    assert ev.values["memory_limit"] == "256 MiB" and ev.values["exit_code"] == 137
    assert ev.values["last_log_lines"][-1].endswith("OutOfMemoryError: Java heap space")
    crash = result.findings[1]
    assert crash.detail == "CrashLoopBackOff" and crash.value == 7
    assert "OutOfMemoryError" in crash.text
    log_asked = [p for _, p, _ in api.requests if p.split("?")[0].endswith("/log")]
    assert log_asked and "previous=true" in log_asked[0]
    assert result.data["pods"] == 1  # the payment pod is not in the question's scope


def test_healthy_restarted_container_is_no_crashloop_nor_oom(api: KubeApi,
                                                             tmp_path: Path) -> None:
    api.put("pods", "shop", pod("cart-1", "cart", container_status("cart", restarts=1)))
    assert kinds(diagnose(api, tmp_path)) == set()


@pytest.mark.parametrize(("objects", "kind", "words"), [
    ({"pods": [pod("web-1", "web", container_status(
        "web", ready=False, waiting=("ImagePullBackOff", 'Back-off pulling image "web:9.9"'),
        image="registry.local/web:9.9"))]},
     "k8s_image_pull", ["cannot pull image registry.local/web:9.9", "ImagePullBackOff"]),
    ({"pods": [pod("web-2", "web", phase="Pending", conditions=[
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
         "message": "0/3 nodes are available: 3 Insufficient memory."}])]},
     "k8s_unschedulable", ["0/3 nodes are available: 3 Insufficient memory."]),
    ({"pods": [pod("web-3", "web", phase="Pending")],
      "events": [event("web-3", "FailedScheduling",
                       "0/3 nodes are available: 1 node(s) had untolerated taint.")]},
     "k8s_unschedulable", ["had untolerated taint"]),
    ({"deployments": [deployment("web", 3, ready=1, updated=1, stalled=True)]},
     "k8s_rollout", ["failed (ProgressDeadlineExceeded)", "1/3 updated, 1/3 ready"]),
    ({"daemonsets": [deployment("agent", 4, ready=2, updated=2, kind="DaemonSet")]},
     "k8s_rollout", ["DaemonSet agent has not finished", "2/4 updated"]),
    ({"pods": [pod("web-4", "web", container_status("web", ready=False), readiness=True)],
      "events": [event("web-4", "Unhealthy",
                       "Readiness probe failed: HTTP probe failed with statuscode: 503",
                       count=12)]},
     "k8s_probe_failing", ["12 Unhealthy events", "not ready: web", "statuscode: 503"]),
    ({"pods": [pod("web-5", "web", phase="Failed", reason="Evicted",
                   message="The node was low on resource: memory.")]},
     "k8s_evicted", ["evicted from node node-1", "low on resource: memory"]),
    ({"nodes": [node("node-2", ready=False)], "pods": [pod("web-6", "web", node="node-2")]},
     "k8s_node", ["node node-2 is NotReady", "Kubelet stopped posting"]),
    ({"nodes": [node("node-3", pressure="MemoryPressure")]},
     "k8s_node", ["node node-3 is under MemoryPressure"]),
    ({"deployments": [deployment("web", 10)],
      "horizontalpodautoscalers": [hpa("web", "web", current=10)]},
     "k8s_hpa_at_max", ["maximum of 10 replicas for web", "more than the maximum"]),
])
def test_each_analyzer_names_the_problem(api: KubeApi, tmp_path: Path,
                                         objects: dict[str, list[Any]], kind: str,
                                         words: list[str]) -> None:
    for resource, items in objects.items():
        api.put(resource, "" if resource == "nodes" else "shop", *items)
    result = diagnose(api, tmp_path)
    assert result.status is ToolStatus.OK
    found = [f for f in result.findings if f.kind == kind]
    assert len(found) == 1, (result.summary, [f.text for f in result.findings])
    for w in words:
        assert w in found[0].text
    ev = {e.id: e for e in result.evidence}[found[0].evidence[0]]
    assert ev.query.startswith(("/api/v1/", "/apis/"))
    assert ev.summary == found[0].text


@pytest.mark.parametrize("objects", [
    {"pods": [pod("web-1", "web", container_status("web"))]},
    {"pods": [pod("web-2", "web", phase="Pending")]},  # just created: no scheduler verdict yet
    {"deployments": [deployment("web", 3)], "daemonsets": [
        deployment("agent", 4, kind="DaemonSet")]},
    {"pods": [pod("web-4", "web", readiness=True)],
     "events": [event("web-4", "Pulled", "Successfully pulled image", type_="Normal")]},
    {"nodes": [node("node-2")]},
    {"deployments": [deployment("web", 4)],
     "horizontalpodautoscalers": [hpa("web", "web", current=4)]},
])
def test_healthy_namespaces_have_no_findings(api: KubeApi, tmp_path: Path,
                                             objects: dict[str, list[Any]]) -> None:
    for resource, items in objects.items():
        api.put(resource, "" if resource == "nodes" else "shop", *items)
    result = diagnose(api, tmp_path)
    assert result.findings == [], [f.text for f in result.findings]


def test_a_namespace_outside_the_allow_list_is_refused_before_asking(
        api: KubeApi, tmp_path: Path) -> None:
    result = diagnose(api, tmp_path, namespace="kube-system")
    assert result.status is ToolStatus.ERROR
    assert result.summary == ("Kubernetes: namespace 'kube-system' is not in the allow-list "
                              "(shop; OPSCOPILOT_KUBERNETES__NAMESPACES)")
    assert api.requests == []


def test_rbac_403_is_one_line_naming_the_role(api: KubeApi, tmp_path: Path) -> None:
    api.status = 403
    result = diagnose(api, tmp_path)
    assert result.status is ToolStatus.ERROR
    assert result.summary.startswith(f"Kubernetes at {api.url} forbade GET "
                                     "/api/v1/namespaces/shop/pods (HTTP 403): forbidden by")
    assert "docs/kubernetes.md" in result.summary and "\n" not in result.summary


def test_api_5xx_names_the_source(api: KubeApi, tmp_path: Path) -> None:
    api.status = 500
    result = diagnose(api, tmp_path)
    assert result.status is ToolStatus.ERROR
    assert result.summary.startswith(f"Kubernetes at {api.url} answered HTTP 500")


def test_api_down_is_named_at_once_and_the_breaker_holds(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    backend = backend_for(f"http://127.0.0.1:{port}", tmp_path)
    registry = ToolRegistry()
    registry.register(KubernetesDiagnose(backend))
    started = time.monotonic()
    first = registry.run("kubernetes_diagnose", {})
    assert first.status is ToolStatus.ERROR
    assert first.summary == f"Kubernetes at http://127.0.0.1:{port} is unreachable: " \
                            "connection refused"
    second = registry.run("kubernetes_diagnose", {})
    assert "not asked again" in second.summary
    assert time.monotonic() - started < 2
    assert backend.breaker.health().state.value == "open"


def test_api_hanging_is_a_timeout_within_the_budget(api: KubeApi, tmp_path: Path) -> None:
    api.delay_s = 3.0
    registry = ToolRegistry()
    registry.register(KubernetesDiagnose(backend_for(api.url, tmp_path, timeout_s=0.5)))
    started = time.monotonic()
    result = registry.run("kubernetes_diagnose", {})
    assert time.monotonic() - started < 1.5
    assert result.status is ToolStatus.ERROR
    assert result.summary == f"Kubernetes at {api.url} did not answer within 0.5 s"


def test_a_body_trickling_in_is_cut_at_the_timeout(api: KubeApi, tmp_path: Path) -> None:
    api.put("pods", "shop", *(pod(f"cart-{i}", "cart") for i in range(5)))
    api.trickle_s = 0.1  # every piece comes well within a per-read timeout, the whole never
    backend = backend_for(api.url, tmp_path, timeout_s=0.5)
    started = time.monotonic()
    with pytest.raises(BackendError, match=r"did not answer within 0\.5 s$"):
        backend.list_items("pods", "shop")
    assert time.monotonic() - started < 1.5
    assert backend.breaker.health().state.value == "open"


def test_a_bad_kubeconfig_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(BackendError, match=r"^Kubernetes: cannot use the kubeconfig .*nope"):
        KubernetesBackend.from_config(KubernetesConfig(kubeconfig=str(missing)))
    config = write_kubeconfig(tmp_path, "http://127.0.0.1:1")
    with pytest.raises(BackendError, match="context 'other'"):
        KubernetesBackend.from_config(KubernetesConfig(kubeconfig=str(config), context="other"))


def test_settings_read_the_kubernetes_section(monkeypatch: pytest.MonkeyPatch) -> None:
    from infra.settings import SettingsError, load_settings

    monkeypatch.setenv("OPSCOPILOT_KUBERNETES__ENABLED", "true")
    monkeypatch.setenv("OPSCOPILOT_KUBERNETES__NAMESPACES", '["shop", "payments"]')
    monkeypatch.setenv("OPSCOPILOT_KUBERNETES__CONTEXT", "prod")
    k = load_settings().kubernetes
    assert (k.enabled, k.namespaces, k.context, k.timeout_s) == (
        True, ["shop", "payments"], "prod", 5.0)
    monkeypatch.setenv("OPSCOPILOT_KUBERNETES__NAMESPACES", "[]")
    with pytest.raises(SettingsError, match="OPSCOPILOT_KUBERNETES__NAMESPACES"):
        load_settings()


def test_the_runtime_wires_the_cluster_from_settings(api: KubeApi, tmp_path: Path) -> None:
    from bot.app import build_backends, build_registry, kubernetes_source
    from infra.settings import SettingsError, load_settings

    api.put("pods", "shop", pod("cart-1", "cart"))
    config = write_kubeconfig(tmp_path, api.url)
    settings = load_settings(kubernetes={"enabled": True, "kubeconfig": str(config),
                                         "namespaces": ["shop"], "timeout_s": 1})
    backends, _ = build_backends(settings, "quiet")
    source = kubernetes_source(settings, backends)
    registry = build_registry(backends, kubernetes=source)
    result = registry.run("kubernetes_diagnose", {"services": ["cart"]})
    assert result.summary == "no Kubernetes problems in namespace shop: 1 pod healthy"
    assert [h.line() for h in backends.health.states()] == [f"Kubernetes at {api.url}: ok"]
    off = load_settings()
    assert kubernetes_source(off, backends) is None
    bad = load_settings(kubernetes={"enabled": True, "kubeconfig": str(tmp_path / "missing")})
    with pytest.raises(SettingsError, match="OPSCOPILOT_KUBERNETES__KUBECONFIG"):
        kubernetes_source(bad, backends)


def test_status_reads_the_cluster_once(api: KubeApi, tmp_path: Path) -> None:
    from bot.status import _kubernetes
    from infra.settings import load_settings
    from tools.backends.probe import ProbeState

    api.put("pods", "shop", pod("cart-1", "cart"))
    config = write_kubeconfig(tmp_path, api.url)
    on = load_settings(kubernetes={"enabled": True, "kubeconfig": str(config),
                                   "namespaces": ["shop"]})
    probe = _kubernetes(on)
    assert (probe.state, probe.detail) == (ProbeState.OK,
                                           f"{api.url}: 1 pods in shop (allowed: shop)")
    api.status = 403
    probe = _kubernetes(on)
    assert probe.state is ProbeState.FAILED and "HTTP 403" in probe.detail
    assert _kubernetes(load_settings()).state is ProbeState.MISSING
