"""Runbooks end to end on the sandbox, one fault scenario at a time:

the copilot investigates -> the right runbook is proposed in the top 3 -> alice requests it ->
bob and carol approve (two distinct allowed users) -> it runs against the simulated cluster ->
the sandbox's fault clears -> the verification passes -> the audit log verifies.

    .venv/bin/python -m evals.bench_runbooks [--scenario NAME] [--json]

State goes to a temporary database; the knowledge base (if seeded) is read as configured.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# fault kind -> runbooks that fix it in the sandbox (the first is the one the bench runs)
EXPECTED = {
    "latency_injection": ["toggle-feature-flag"],
    "certificate_expiry": ["rotate-certificate"],
    "memory_leak": ["restart-deployment", "roll-back-deploy"],
    "cpu_hog": ["scale-out", "restart-deployment"],
    "network_delay": ["drain-node"],
    "bad_deploy": ["roll-back-deploy"],
    "connection_pool_exhaustion": ["raise-connection-pool"],
    "disk_full": ["clear-disk-space"],
    "dependency_down": ["fail-over-redis", "fail-over-postgres"],
}
QUESTION = "what is wrong right now?"
POLICY = """
groups: {sre: [bob, carol], oncall: [alice]}
rules:
  - {runbooks: ["*"], risks: [read-only, low, high], requesters: [group:oncall],
     approvers: [group:sre], min_approvals: 2}
approval_ttl_minutes: 30
"""


def run_scenario(name: str, settings: Any, router: Any, tmp: Path) -> dict[str, Any]:
    from bot.answer import Question
    from bot.app import build_runtime
    from tools.runbooks.build import build_service
    from tools.runbooks.policy import Policy
    from tools.runbooks.propose import IncidentContext, propose
    from tools.runbooks.sandbox_target import SandboxWorld, sandbox_target

    started = time.perf_counter()
    runtime = build_runtime(settings, name, router=router)
    assert runtime.sandbox is not None
    answer = runtime.copilot.answer(Question(QUESTION, runtime.default_now(), user="bench"))
    world = SandboxWorld(runtime.sandbox)
    target = sandbox_target(world)[0]
    policy_file = tmp / "policy.yaml"
    policy_file.write_text(POLICY, encoding="utf-8")
    svc = build_service(settings, target=target, policy=Policy.load(policy_file))
    ctx = IncidentContext.from_answer(answer, world.facts)
    proposals = propose(svc.library, ctx, target.name, k=3)
    names = [p.runbook for p in proposals]
    kind = runtime.sandbox.ground_truth[0].kind
    right = next((p for p in proposals if p.runbook in EXPECTED[kind]), None)
    row: dict[str, Any] = {"scenario": name, "fault": kind, "suspect": ctx.services[:1],
                           "proposed": names, "rank": names.index(right.runbook) + 1 if right
                           else None, "runbook": right.runbook if right else None}
    ok = right is not None and not right.missing
    if ok:
        assert right is not None
        req = svc.request("alice", right.runbook, right.params, reason=f"bench {name}")
        svc.approve("bob", req.id, req.plan_hash)
        svc.approve("carol", req.id, req.plan_hash)
        result = svc.run("bob", req.id, f"bench-{name}-1")
        stage = 1
        while result.status == "paused":
            svc.approve("bob", req.id, req.plan_hash, stage=stage)
            result = svc.run("bob", req.id, f"bench-{name}-{stage + 1}")
            stage += 1
        verification = [o for o in result.outcomes if o.section == "verification"]
        row.update(status=result.status, faults_left=world.active_faults(),
                   verification=all(o.ok for o in verification) and bool(verification),
                   minutes_to_clear=round((world.clock.now() - runtime.sandbox.now) / 60, 1))
        ok = (result.status == "succeeded" and not world.active_faults()
              and row["verification"])
    audit = svc.audit.verify()
    row.update(audit_ok=audit.ok, passed=ok and audit.ok,
               seconds=round(time.perf_counter() - started, 2))
    return row


def main(argv: list[str] | None = None) -> int:
    from infra.settings import load_settings
    from tools.sandbox.scenario import list_scenarios

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", action="append", help="only these scenarios")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    names = args.scenario or [s.name for s in list_scenarios() if s.faults]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-runbooks-") as tmp:
        settings = load_settings(database_url=f"sqlite:///{tmp}/state.db")
        router = None
        for name in names:
            from bot.app import build_runtime

            if router is None:
                router = build_runtime(settings, name).copilot.router
            rows.append(run_scenario(name, settings, router, Path(tmp)))
            if not args.json:
                r = rows[-1]
                print(f"{r['scenario']:28} {r['fault']:27} top3={','.join(r['proposed']):58} "
                      f"rank={r['rank']} run={r.get('status', '-'):9} "
                      f"cleared={not r.get('faults_left', ['?'])!s:5} "
                      f"verified={r.get('verification', False)!s:5} audit={r['audit_ok']!s:5} "
                      f"{'PASS' if r['passed'] else 'FAIL'} ({r['seconds']} s)", flush=True)
    totals = {"scenarios": len(rows), "top3": sum(r["rank"] is not None for r in rows),
              "top1": sum(r["rank"] == 1 for r in rows),
              "cleared": sum(not r.get("faults_left", ["?"]) for r in rows),
              "verified": sum(bool(r.get("verification")) for r in rows),
              "audit_ok": sum(r["audit_ok"] for r in rows),
              "passed": sum(r["passed"] for r in rows),
              "at": datetime.now(UTC).isoformat(timespec="seconds")}
    if args.json:
        print(json.dumps({"rows": rows, "totals": totals}, indent=2))
    else:
        print(f"\ntotal: {totals['passed']}/{totals['scenarios']} passed; right runbook in top 3: "
              f"{totals['top3']}/{totals['scenarios']} (top 1: {totals['top1']}); fault cleared: "
              f"{totals['cleared']}; verification passed: {totals['verified']}; audit verified: "
              f"{totals['audit_ok']}")
    return 0 if totals["passed"] == totals["scenarios"] else 1


if __name__ == "__main__":
    sys.exit(main())
