"""`opscopilot runbook ...` and `opscopilot audit ...` end to end, on a fresh state database."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, update
from typer.testing import CliRunner

from bot.cli import app
from infra.audit import AuditRow
from tools.runbooks.policy import Policy

POLICY = """
groups: {sre: [bob, carol], oncall: [alice]}
rules:
  - {runbooks: ["*"], risks: [low, high], requesters: [group:oncall], approvers: [group:sre],
     min_approvals: 1}
"""


@pytest.fixture
def cli(tmp_path, monkeypatch):
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    Policy.load(policy)
    url = f"sqlite:///{tmp_path / 'state.db'}"
    monkeypatch.setenv("OPSCOPILOT_DATABASE_URL", url)
    monkeypatch.setenv("OPSCOPILOT_RUNBOOKS__POLICY_FILE", str(policy))
    monkeypatch.setenv("OPSCOPILOT_SANDBOX__SCENARIO", "pool-exhaustion-payment")
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, list(args))

    invoke.url = url  # type: ignore[attr-defined]
    return invoke


def test_list_show_and_plan(cli):
    listed = cli("runbook", "list", "--json")
    assert listed.exit_code == 0 and len(json.loads(listed.stdout)) >= 10
    assert '"risk": "high"' in cli("runbook", "show", "drain-node", "--json").stdout
    plan = cli("runbook", "plan", "drain-node", "-p", "node=node-2", "-p", "service=shipping")
    assert plan.exit_code == 0
    assert "$ kubectl drain node-2 --ignore-daemonsets --delete-emptydir-data" in plan.stdout
    assert "approvals: 2 distinct approval(s) from: bob, carol" in plan.stdout


def test_bad_input_is_one_line_and_exit_2(cli):
    for args in (["runbook", "plan", "drain-node", "-p", "node=$(reboot)", "-p", "service=x1"],
                 ["runbook", "plan", "nope"], ["runbook", "plan", "drain-node", "-p", "node"],
                 ["runbook", "approve", "missing-id", "--as", "bob"]):
        result = cli(*args)
        assert result.exit_code == 2, result.output
        assert result.output.startswith("error:") and "Traceback" not in result.output


def test_request_approve_run_status_and_audit(cli):
    req = json.loads(cli("runbook", "request", "raise-connection-pool", "-p", "service=payment",
                         "--as", "alice", "--json").stdout)
    assert req["status"] == "pending"
    refused = cli("runbook", "run", req["id"], "--as", "alice")
    assert refused.exit_code == 2 and "needs 1 valid approval" in refused.output
    wrong_hash = cli("runbook", "approve", req["id"], "--as", "bob", "--plan-hash", "sha256:0")
    assert wrong_hash.exit_code == 2 and "plan changed" in wrong_hash.output
    ok = cli("runbook", "approve", req["id"], "--as", "bob", "--plan-hash", req["plan_hash"])
    assert ok.exit_code == 0 and "status: approved" in ok.stdout
    dry = cli("runbook", "run", req["id"], "--as", "alice", "--dry-run")
    assert dry.exit_code == 0 and "[dry_run] PUT http://config.shop.internal" in dry.stdout
    ran = cli("runbook", "run", req["id"], "--as", "alice", "--key", "click-1")
    assert ran.exit_code == 0 and "succeeded" in ran.stdout, ran.output
    again = cli("runbook", "run", req["id"], "--as", "alice", "--key", "click-1")
    assert "nothing ran" in again.stdout
    status = json.loads(cli("runbook", "status", req["id"], "--json").stdout)
    assert status["status"] == "succeeded" and len(status["steps"]) == 6
    assert req["id"] in cli("runbook", "status").stdout
    shown = cli("audit", "show", "--subject", f"request:{req['id']}", "--json")
    actions = [e["action"] for e in json.loads(shown.stdout)]
    assert actions[:2] == ["proposal", "run_refused"] and "execution_finished" in actions
    verified = cli("audit", "verify")
    assert verified.exit_code == 0 and "chain intact" in verified.stdout
    with create_engine(cli.url).begin() as conn:
        conn.execute(update(AuditRow).where(AuditRow.seq == 2).values(actor="mallory"))
    tampered = cli("audit", "verify")
    assert tampered.exit_code == 1 and "FAIL entry 2 " in tampered.stdout
