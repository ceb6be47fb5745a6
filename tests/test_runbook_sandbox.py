"""Each fault scenario and the runbook that fixes it, on the sandbox's simulated cluster: the
verification fails while the fault lasts, the runbook's steps end the fault, the verification
then passes; the shared (cached) sandbox is never modified."""

from __future__ import annotations

import pytest

from tests.runbook_support import library
from tools.runbooks.engine import Engine
from tools.runbooks.plan import render_plan
from tools.runbooks.propose import IncidentContext, fill_params
from tools.runbooks.sandbox_target import SandboxWorld, sandbox_target
from tools.sandbox.simulator import load_sandbox

CASES = [
    ("latency-injection-currency", "toggle-feature-flag", "currency"),
    ("cert-expiry-payment", "rotate-certificate", "payment"),
    ("memory-leak-cart", "restart-deployment", "cart"),
    ("memory-leak-cart", "roll-back-deploy", "cart"),
    ("cpu-hog-recommendation", "scale-out", "recommendation"),
    ("cpu-hog-recommendation", "restart-deployment", "recommendation"),
    ("network-delay-shipping", "drain-node", "shipping"),
    ("bad-deploy-checkout", "roll-back-deploy", "checkout"),
    ("pool-exhaustion-payment", "raise-connection-pool", "payment"),
    ("disk-full-postgres", "clear-disk-space", "postgres"),
    ("dependency-down-redis", "fail-over-redis", "redis"),
]


def _plan(world: SandboxWorld, runbook: str, service: str):
    rb = library().get(runbook)
    params, missing = fill_params(rb, IncidentContext(services=[service],
                                                      facts=world.facts(service)))
    assert not missing
    return render_plan(rb, params, "sandbox")


@pytest.mark.parametrize(("scenario", "runbook", "service"), CASES)
def test_runbook_clears_its_fault(scenario, runbook, service):
    cached = load_sandbox(scenario)
    before = cached.observed[service]["error_rate"].copy()
    world = SandboxWorld(cached)
    target, cli, _ = sandbox_target(world)
    plan = _plan(world, runbook, service)
    engine = Engine(target)
    if (scenario, runbook) != ("memory-leak-cart", "roll-back-deploy"):
        # (a rollback's check is the error rate, which a leak moves only at each OOM kill)
        assert engine.run_section(plan.verification).status == "failed"  # the fault lasts
    assert world.active_faults()
    steps = engine.run_section(plan.steps, pause_approved=lambda stage: True)
    assert steps.status == "ok", [o.output for o in steps.outcomes]
    assert world.active_faults() == []
    assert any(r.ended for r in world.remediations)
    assert engine.run_section(plan.verification).status == "ok"
    assert (load_sandbox(scenario).observed[service]["error_rate"] == before).all()


def test_the_wrong_runbook_leaves_the_fault(tmp_path):
    world = SandboxWorld(load_sandbox("pool-exhaustion-payment"))
    target, _, _ = sandbox_target(world)
    plan = _plan(world, "scale-out", "payment")
    engine = Engine(target)
    assert engine.run_section(plan.steps).status == "ok"
    assert world.active_faults() == ["connection_pool_exhaustion on payment"]


def test_simulated_cli_answers_like_the_real_tools():
    world = SandboxWorld(load_sandbox("bad-deploy-checkout"))
    _, cli, _ = sandbox_target(world)
    assert cli.run(["kubectl", "-n", "prod", "get", "deployment", "cart"], 5).exit_code == 1
    missing = cli.run(["kubectl", "-n", "shop", "get", "deployment", "nope"], 5)
    assert 'deployments.apps "nope" not found' in missing.stderr
    assert cli.run(["rm", "-rf", "/"], 5).exit_code == 127
    hist = cli.run(["helm", "history", "checkout", "-n", "shop"], 5)
    assert "deployed" in hist.stdout
    assert cli.run(["kubectl", "drain", "node-1"], 5).exit_code == 1  # needs the daemonset flag
