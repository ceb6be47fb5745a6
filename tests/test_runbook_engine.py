"""The execution engine through the service: dry run, stop on failure and rollback, timeouts,
redaction and truncation, cancellation, pause for approval, evidence, the real subprocess and
Prometheus seams."""

from __future__ import annotations

import httpx

from tests.runbook_support import make_rig
from tools.runbooks.engine import Engine, Target
from tools.runbooks.plan import RenderedStep
from tools.runbooks.seams import CommandResult, PrometheusReader, SubprocessExecutor, WallClock


def _approve(rig, req, *who):
    for person in who or ("carol", "dan"):
        rig.service.approve(person, req.id, req.plan_hash)


def test_dry_run_shows_every_step_and_runs_nothing(tmp_path):
    rig = make_rig(tmp_path)
    req = rig.service.request("alice", "raise-connection-pool", {"service": "payment"})
    result = rig.service.run("alice", req.id, "k", dry_run=True)
    assert result.status == "dry_run" and not result.ran
    assert [o.status for o in result.outcomes] == ["dry_run"] * 6
    assert result.outcomes[1].detail == ('PUT http://config.shop.internal/v1/services/payment/'
                                         'db-pool {"max_connections": 40}')
    assert result.outcomes[2].detail == "$ kubectl -n shop rollout restart deployment payment"
    assert not rig.ran_anything
    assert rig.service.status(req.id).status == "pending"


def test_failed_verification_stops_and_offers_rollback(tmp_path):
    rig = make_rig(tmp_path)  # a smaller pool does not clear the exhaustion
    req = rig.service.request("alice", "raise-connection-pool",
                              {"service": "payment", "pool_size": 10})
    _approve(rig, req, "carol")
    result = rig.service.run("alice", req.id, "k1")
    assert result.status == "failed" and result.rollback_available
    assert result.outcomes[-1].section == "verification"
    assert result.outcomes[-1].status == "timed_out"
    assert "a rollback is available" in result.message
    assert rig.world.active_faults() == ["connection_pool_exhaustion on payment"]
    back = rig.service.rollback("alice", req.id, "k2")
    assert back.status == "rolled_back" and back.ran
    assert rig.transport.requests[-1].content == b'{"max_connections":20}'
    assert rig.service.rollback("alice", req.id, "k2").ran is False  # same key: nothing
    assert rig.service.status(req.id).status == "rolled_back"


def test_a_failing_step_stops_the_run(tmp_path):
    rig = make_rig(tmp_path)
    req = rig.service.request("alice", "scale-out", {"service": "no-such-svc"})
    _approve(rig, req, "carol")
    result = rig.service.run("alice", req.id, "k")
    assert result.status == "failed"
    assert [o.status for o in result.outcomes] == ["failed"]
    assert "NotFound" in result.outcomes[0].output
    assert len(rig.cli.calls) == 1  # the scale step never ran


class ScriptedExecutor:
    """An Executor that answers from a script and may call back (to cancel mid-run)."""

    def __init__(self, output: str = "", on_call=None) -> None:
        self.output, self.on_call, self.calls = output, on_call, []

    def run(self, argv, timeout_s):
        self.calls.append(argv)
        if self.on_call:
            self.on_call()
        return CommandResult(0, self.output, "")


def test_output_is_redacted_then_truncated_everywhere(tmp_path):
    secret = ("password=hunter2 token: abc123 Authorization: Bearer abcdefghijklmnop "
              "AKIAABCDEFGHIJKLMNOP ")
    executor = ScriptedExecutor(secret + "x" * 10_000)
    rig = make_rig(tmp_path)
    rig.service.target = Target("test", executor, None, WallClock())
    rig.service._steps = Engine(rig.service.target, output_limit=500)
    req = rig.service.request("alice", "restart-deployment", {"service": "cart"})
    _approve(rig, req, "carol")
    result = rig.service.run("alice", req.id, "k")
    out = result.outcomes[0].output
    assert "hunter2" not in out and "abc123" not in out and "AKIA" not in out
    assert "[REDACTED]" in out and "[truncated" in out and len(out) < 600
    stored = rig.service.status(req.id).steps[0].output
    assert stored == out
    assert all("hunter2" not in str(e.details) for e in rig.audit.entries())


def test_cancellation_stops_before_the_next_step(tmp_path):
    rig = make_rig(tmp_path)
    holder = {}
    executor = ScriptedExecutor("ok", on_call=lambda: rig.service.cancel("bob", holder["id"]))
    rig.service.target = Target("test", executor, None, WallClock())
    rig.service._steps = Engine(rig.service.target)
    req = rig.service.request("alice", "restart-deployment", {"service": "cart"})
    holder["id"] = req.id
    _approve(rig, req, "carol")
    result = rig.service.run("alice", req.id, "k")
    assert result.status == "cancelled" and len(executor.calls) == 1
    assert [o.status for o in result.outcomes] == ["ok", "cancelled"]
    assert not rig.service.run("alice", req.id, "k2").ran


def test_pause_for_approval_needs_a_second_go_ahead(tmp_path):
    rig = make_rig(tmp_path, scenario="dependency-down-redis")
    req = rig.service.request("alice", "fail-over-postgres", {"caller": "catalog"})
    _approve(rig, req)
    first = rig.service.run("alice", req.id, "k1")
    assert first.status == "paused" and "approve stage 1" in first.message
    assert [c[3] for c in rig.cli.calls] == ["get"]
    assert rig.service.run("alice", req.id, "k2").status == "paused"  # still no go-ahead
    rig.service.approve("carol", req.id, req.plan_hash, stage=1)
    done = rig.service.run("alice", req.id, "k3")
    assert done.status == "succeeded", done.message
    failovers = [c for c in rig.cli.calls if "patronictl" in c]
    assert failovers == [["kubectl", "-n", "shop", "exec", "postgres-0", "--", "patronictl",
                          "failover", "--candidate", "postgres-1", "--force"]]


def test_results_become_evidence(tmp_path):
    rig = make_rig(tmp_path)
    req = rig.service.request("alice", "raise-connection-pool", {"service": "payment"})
    _approve(rig, req, "carol")
    result = rig.service.run("alice", req.id, "k")
    assert result.status == "succeeded"
    evidence = result.evidence()
    assert evidence[2].query == "$ kubectl -n shop rollout restart deployment payment"
    assert evidence[2].values["status"] == "ok" and evidence[2].tool == "runbook"
    assert evidence[-1].values["value"] < 5


def test_subprocess_executor_never_uses_a_shell_and_times_out():
    ex = SubprocessExecutor(frozenset({"echo", "sleep"}))
    res = ex.run(["echo", "$(id)", ";", "rm"], 5)
    assert res.exit_code == 0 and res.stdout.strip() == "$(id) ; rm"
    assert ex.run(["sh", "-c", "id"], 5).exit_code == 126
    slow = ex.run(["sleep", "5"], 0.2)
    assert slow.timed_out and slow.exit_code == 124


def test_a_step_timeout_is_a_timed_out_outcome():
    target = Target("t", SubprocessExecutor(frozenset({"sleep"})), None, WallClock())
    step = RenderedStep("steps", 0, "sleep", "command", False, 0.2, argv=["sleep", "3"])
    outcome = Engine(target).run_step(step)
    assert outcome.status == "timed_out" and outcome.duration_ms < 2000


def test_prometheus_reader_reads_an_instant_query():
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/v1/query"
        assert request.url.params["query"] == 'opscopilot_sandbox_error_rate{service="cart"}'
        return httpx.Response(200, json={"status": "success", "data": {
            "resultType": "vector",
            "result": [{"metric": {"service": "cart"}, "value": [1.7e9, "0.25"]}]}})

    reader = PrometheusReader("http://prom:9090", transport=httpx.MockTransport(handler))
    assert reader.value('opscopilot_sandbox_error_rate{service="cart"}', 1.7e9) == 0.25


def test_http_step_failure_stops(tmp_path):
    rig = make_rig(tmp_path, scenario="latency-injection-currency")
    req = rig.service.request("alice", "toggle-feature-flag",
                              {"flag": "no-such-flag", "service": "currency"})
    _approve(rig, req, "carol")
    result = rig.service.run("alice", req.id, "k")
    assert result.status == "failed" and result.outcomes[0].exit_code == 404
    assert len(rig.transport.requests) == 1


def test_propose_tool_shows_plans_and_needs_approval(tmp_path):
    from tools.base import ToolRegistry, ToolStatus
    from tools.runbooks.tool import ProposeRunbooks

    rig = make_rig(tmp_path)
    registry = ToolRegistry()
    registry.register(ProposeRunbooks(rig.service.library, rig.service.policy, "sandbox",
                                      rig.world.facts))
    result = registry.run("propose_runbooks", {
        "services": ["payment", "checkout"], "alerts": ["ConnectionPoolExhausted"],
        "metrics": ["connections", "latency_p99"]})
    assert result.status is ToolStatus.NEEDS_APPROVAL
    assert result.data["proposals"][0]["runbook"] == "raise-connection-pool"
    assert "PUT http://config.shop.internal/v1/services/payment/db-pool" in \
        result.evidence[0].summary
    assert not rig.ran_anything
