"""The request state machine (tools/runbooks/states.py), one test per transition, through the
real runbook service on SQLite and the sandbox target."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from tests.runbook_support import POLICY, make_rig
from tools.runbooks.errors import NotAllowed, RequestStateError
from tools.runbooks.states import NEXT, State, allowed, current
from tools.runbooks.store import claim

TWO = {**POLICY, "rules": [{**r, "min_approvals": 2} if r["risks"] == ["low"] else r
                           for r in POLICY["rules"]]}


def _request(rig, runbook="restart-deployment", service="cart"):  # type: ignore[no-untyped-def]
    return rig.service.request("alice", runbook, {"service": service})


def _actions(rig) -> list[str]:  # type: ignore[no-untyped-def]
    return [e.action for e in rig.audit.entries()]


def test_pending_to_approved_with_enough_valid_approvals(tmp_path):
    rig = make_rig(tmp_path, policy=TWO)
    req = _request(rig)
    assert req.status == "pending"
    assert rig.service.approve("bob", req.id, req.plan_hash).status == "pending"  # 1 of 2
    assert rig.service.approve("carol", req.id, req.plan_hash).status == "approved"


def test_approved_back_to_pending_when_an_approval_expires(tmp_path):
    rig = make_rig(tmp_path)
    req = _request(rig)
    assert rig.service.approve("bob", req.id, req.plan_hash).status == "approved"
    rig.clock.t += 31 * 60  # the policy's approval_ttl_minutes is 30
    view = rig.service.status(req.id)
    assert view.status == "pending" and not view.approvals[0].valid


def test_expired_approval_is_renewed_by_the_same_approver(tmp_path):
    rig = make_rig(tmp_path)
    req = _request(rig)
    rig.service.approve("bob", req.id, req.plan_hash)
    with pytest.raises(RequestStateError, match="already decided"):  # still valid: no renewal
        rig.service.approve("bob", req.id, req.plan_hash)
    rig.clock.t += 31 * 60
    view = rig.service.approve("bob", req.id, req.plan_hash)
    assert view.status == "approved" and len(view.approvals) == 1 and view.approvals[0].valid
    assert "approval_renewed" in _actions(rig)
    assert rig.service.run("alice", req.id, "k").ran


def test_a_denial_cannot_be_renewed_into_an_approval(tmp_path):
    rig = make_rig(tmp_path)
    req = _request(rig)
    rig.service.deny("bob", req.id, "no")
    rig.clock.t += 31 * 60
    with pytest.raises(RequestStateError, match="cannot be approved now"):
        rig.service.approve("bob", req.id, req.plan_hash)


def test_pending_to_denied_is_final(tmp_path):
    rig = make_rig(tmp_path)
    req = _request(rig)
    assert rig.service.deny("bob", req.id, "not now").status == "denied"
    with pytest.raises(RequestStateError, match="is denied; it cannot be denied now"):
        rig.service.deny("carol", req.id)
    assert "deny_refused" in _actions(rig)


def test_deny_checks_the_plan_hash_when_given(tmp_path):
    rig = make_rig(tmp_path)
    req = _request(rig)
    with pytest.raises(NotAllowed, match="hash differs"):
        rig.service.deny("bob", req.id, plan_hash="sha256:0")
    assert rig.service.status(req.id).status == "pending"


@pytest.mark.parametrize("approved", [False, True])
def test_pending_or_approved_to_expired(tmp_path, approved):
    rig = make_rig(tmp_path, policy={**POLICY, "approval_ttl_minutes": 7 * 24 * 60})
    req = _request(rig)
    if approved:
        rig.service.approve("bob", req.id, req.plan_hash)
    rig.clock.t += rig.service.request_ttl_s + 1
    assert rig.service.status(req.id).status == "expired"  # seen at once, before any click
    with pytest.raises(RequestStateError, match="expired"):
        rig.service.approve("carol", req.id, req.plan_hash)
    with pytest.raises(RequestStateError, match="expired"):
        rig.service.run("alice", req.id, "k")
    assert _actions(rig).count("request_expired") == 1  # recorded once
    assert not rig.ran_anything


def test_unknown_request_is_refused_and_audited(tmp_path):
    rig = make_rig(tmp_path)
    for call in (lambda: rig.service.approve("bob", "nope", "sha256:0"),
                 lambda: rig.service.deny("bob", "nope"),
                 lambda: rig.service.run("bob", "nope", "k")):
        with pytest.raises(RequestStateError, match="no runbook request 'nope'"):
            call()
    assert _actions(rig) == ["approve_refused", "deny_refused", "run_refused"]


def test_pending_to_cancelled(tmp_path):
    rig = make_rig(tmp_path)
    req = _request(rig)
    assert rig.service.cancel("alice", req.id).status == "cancelled"
    with pytest.raises(NotAllowed):
        rig.service.run("alice", req.id, "k")


def test_approved_to_running_to_succeeded(tmp_path):
    rig = make_rig(tmp_path, "memory-leak-cart")
    req = _request(rig)
    rig.service.approve("bob", req.id, req.plan_hash)
    result = rig.service.run("alice", req.id, "k")
    assert result.ran and result.status == "succeeded"
    assert rig.service.status(req.id).status == "succeeded"
    assert rig.service.run("alice", req.id, "k2").ran is False  # done: nothing runs again


def test_running_to_failed_then_rolled_back(tmp_path):
    rig = make_rig(tmp_path)
    req = rig.service.request("alice", "raise-connection-pool",
                              {"service": "payment", "pool_size": 10})
    rig.service.approve("carol", req.id, req.plan_hash)
    assert rig.service.run("alice", req.id, "k1").status == "failed"
    assert rig.service.rollback("alice", req.id, "k2").status == "rolled_back"
    assert rig.service.status(req.id).status == "rolled_back"


def test_a_read_only_runbook_is_approved_at_once(tmp_path):
    rig = make_rig(tmp_path)  # read_only_without_approval: true
    req = rig.service.request("alice", "check-service-health", {"service": "cart"})
    assert req.status == "approved" and req.approvals_needed == 0
    assert rig.service.run("alice", req.id, "k").status == "succeeded"


def test_the_table_refuses_moves_it_does_not_list(tmp_path):
    rig = make_rig(tmp_path)
    req = _request(rig)
    assert allowed("pending", "running") and not allowed("denied", "running")
    assert not allowed("succeeded", "denied") and allowed("failed", "rolling_back")
    with Session(rig.audit.engine) as session, pytest.raises(ValueError, match="denied"):
        claim(session, req.id, ("succeeded", "rolled_back"), "denied")
    assert all(State(s) in State for s in NEXT)
    assert current("pending", 0, 0, 0.0, 10.0, 5.0) is State.EXPIRED
    assert current("pending", 1, 1, 0.0, 1.0, 5.0) is State.APPROVED
    assert current("paused", 0, 1, 0.0, 99.0, 5.0) is State.PAUSED  # only pending expires


def test_a_request_for_an_unknown_runbook_is_audited(tmp_path):
    rig = make_rig(tmp_path)
    with pytest.raises(Exception, match="no runbook named 'nope'"):
        rig.service.request("alice", "nope", {})
    assert _actions(rig) == ["request_refused"]
