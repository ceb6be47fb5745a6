"""The sandbox shop's Kubernetes view, through the same tool and, end to end, the copilot."""

from __future__ import annotations

import pytest

from bot.answer import Question
from tools.base import ToolRegistry, ToolResult, ToolStatus
from tools.k8s.tool import KubernetesDiagnose
from tools.sandbox.kubernetes import SandboxKubernetes
from tools.sandbox.simulator import load_sandbox


def diagnose(scenario: str, **args: object) -> ToolResult:
    registry = ToolRegistry()
    registry.register(KubernetesDiagnose(SandboxKubernetes(load_sandbox(scenario))))
    return registry.run("kubernetes_diagnose", args)


def test_quiet_shop_is_healthy_pods_per_service() -> None:
    result = diagnose("quiet")
    assert result.status is ToolStatus.OK and result.findings == []
    per = result.evidence[0].values["services"]
    assert per["cart"] == {"pods": 2, "ready": 2, "restarts": 0} and len(per) == 12


def test_bad_deploy_crashloops_the_new_replicaset_and_the_rollout_stalls() -> None:
    result = diagnose("bad-deploy-checkout", services=["checkout"])
    assert [f.kind for f in result.findings] == ["k8s_crashloop", "k8s_rollout"]
    crash, rollout = result.findings
    assert crash.service == "checkout" and crash.detail == "CrashLoopBackOff"
    assert "nil pointer dereference" in crash.text  # the previous container's last line
    assert rollout.detail == "ProgressDeadlineExceeded" and "1/2 updated" in rollout.text
    sb = load_sandbox("bad-deploy-checkout")
    early = diagnose("bad-deploy-checkout", services=["checkout"], end=sb.now - 300)
    assert [f.detail for f in early.findings] == ["CrashLoopBackOff", "RolloutInProgress"]


def test_memory_leak_is_oomkilled_against_the_limit_once_the_heap_is_full() -> None:
    sb = load_sandbox("memory-leak-cart")
    assert diagnose("memory-leak-cart", services=["cart"]).findings == []  # 781 of 1024 MB
    result = diagnose("memory-leak-cart", services=["cart"], end=sb.now + 1200)
    oom = next(f for f in result.findings if f.kind == "k8s_oom_killed")
    assert "against its memory limit of 1024 MiB; 2 restarts" in oom.text
    ev = {e.id: e for e in result.evidence}[oom.evidence[0]]
    assert ev.values["restarts"] == 2 and ev.values["exit_code"] == 137
    assert "heap 1006 MB of 1024 MB" in ev.values["last_log_lines"][-1]  # GC at the limit


def test_other_namespaces_are_refused() -> None:
    result = diagnose("quiet", namespace="kube-system")
    assert result.status is ToolStatus.ERROR and "not in the allow-list" in result.summary


@pytest.mark.slow
def test_why_is_checkout_crashlooping_routes_to_the_kubernetes_tool(runtime_for) -> None:
    runtime = runtime_for("bad-deploy-checkout")
    answer = runtime.copilot.answer(Question("why is the checkout pod crashlooping?",
                                             runtime.default_now()))
    assert answer.intent == "kubernetes" and answer.tools == ["kubernetes_diagnose"]
    assert "CrashLoopBackOff" in answer.summary and "checkout" in answer.summary
    assert any(e.id.startswith("k8s:crashloop:") for e in answer.evidence)
