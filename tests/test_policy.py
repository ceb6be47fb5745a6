"""The approval policy: deny by default, two distinct approvers for high, no self-approval for
high, expiry, read-only without approval, and the shipped example."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.runbook_support import make_rig
from tools.runbooks.errors import NotAllowed, PolicyError
from tools.runbooks.policy import DEFAULT_POLICY, Policy, PolicyModel

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "policy.example.yaml"


def test_embedded_default_denies_everything():
    policy = Policy.load(DEFAULT_POLICY)
    for risk in ("read-only", "low", "high"):
        assert not policy.may_request("alice", "restart-deployment", risk)
        assert policy.may_approve("bob", "restart-deployment", risk, "alice") is not None


def test_example_policy_is_valid_and_means_what_it_says():
    policy = Policy.load(EXAMPLE)
    assert policy.ttl_s == 30 * 60
    assert policy.may_request("dave", "restart-deployment", "low")
    assert not policy.may_request("mallory", "restart-deployment", "low")
    high = policy.requirement("fail-over-postgres", "high")
    assert high.approvals == 2 and not high.allow_self_approval
    assert policy.may_approve("alice", "fail-over-postgres", "high", "alice") is not None
    assert policy.may_approve("bob", "fail-over-postgres", "high", "alice") is None
    assert policy.requirement("check-service-health", "read-only").approvals == 0


def test_high_needs_two_whatever_the_policy_says():
    model = PolicyModel.model_validate({"rules": [
        {"risks": ["high"], "requesters": ["a"], "approvers": ["b"], "min_approvals": 0,
         "allow_self_approval": True}]})
    req = Policy(model).requirement("anything", "high")
    assert req.approvals == 2 and not req.allow_self_approval


def test_self_approval_of_low_only_when_the_policy_allows_it(tmp_path):
    rules = [{"risks": ["low"], "requesters": ["alice"], "approvers": ["alice"],
              "allow_self_approval": flag} for flag in (False,)]
    rig = make_rig(tmp_path, policy={"rules": rules})
    req = rig.service.request("alice", "restart-deployment", {"service": "cart"})
    with pytest.raises(NotAllowed):
        rig.service.approve("alice", req.id, req.plan_hash)
    rules[0]["allow_self_approval"] = True
    rig2 = make_rig(tmp_path / "2", policy={"rules": rules})
    req2 = rig2.service.request("alice", "restart-deployment", {"service": "cart"})
    assert rig2.service.approve("alice", req2.id, req2.plan_hash).status == "approved"


def test_nobody_may_request_without_a_rule(tmp_path):
    rig = make_rig(tmp_path, policy={"rules": []})
    with pytest.raises(NotAllowed, match="may not request"):
        rig.service.request("alice", "check-service-health", {"service": "cart"})
    assert [e.action for e in rig.audit.entries()] == ["request_refused"]


def test_read_only_runbook_runs_without_approval_when_allowed(tmp_path):
    rig = make_rig(tmp_path)
    req = rig.service.request("alice", "check-service-health", {"service": "cart"})
    assert req.approvals_needed == 0 and req.status == "approved"
    result = rig.service.run("alice", req.id, "k")
    assert result.status == "succeeded" and rig.cli.calls


def test_read_only_needs_approval_when_the_policy_says_so(tmp_path):
    from tests.runbook_support import POLICY

    rig = make_rig(tmp_path, policy={**POLICY, "read_only_without_approval": False})
    req = rig.service.request("alice", "check-service-health", {"service": "cart"})
    with pytest.raises(NotAllowed, match="needs 1"):
        rig.service.run("alice", req.id, "k")
    assert not rig.ran_anything


def test_an_approver_removed_from_the_policy_no_longer_counts(tmp_path):
    from tests.runbook_support import POLICY

    rig = make_rig(tmp_path)
    req = rig.service.request("alice", "restart-deployment", {"service": "cart"})
    rig.service.approve("carol", req.id, req.plan_hash)
    groups = {**POLICY["groups"], "sre": ["bob", "dan"]}
    rig.service.policy = Policy(PolicyModel.model_validate({**POLICY, "groups": groups}))
    with pytest.raises(NotAllowed):
        rig.service.run("alice", req.id, "k")
    assert not rig.ran_anything


def test_a_denial_is_final(tmp_path):
    rig = make_rig(tmp_path)
    req = rig.service.request("alice", "restart-deployment", {"service": "cart"})
    assert rig.service.deny("carol", req.id, "not now").status == "denied"
    with pytest.raises(Exception, match="denied"):
        rig.service.approve("dan", req.id, req.plan_hash)
    with pytest.raises(NotAllowed):
        rig.service.run("alice", req.id, "k")
    assert not rig.ran_anything


def test_bad_policy_files_are_one_line_errors(tmp_path):
    bad = tmp_path / "p.yaml"
    bad.write_text("rules:\n  - risks: [medium]\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="rules.0.risks"):
        Policy.load(bad)
    bad.write_text("rules: [\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="YAML"):
        Policy.load(bad)
