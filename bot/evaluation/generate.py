"""Generate eval cases from the sandbox's ground truth: `python -m bot.evaluation.generate`.

Every expected value here comes from a scenario's ground truth (the fault, the metrics it moved
with their noise-free values at `now`, the change events and alert-rule firings the simulator
produced) or from the knowledge base's incident specs and runbook metadata, never from what the
copilot currently answers. Hand-written cases (ambiguous questions, follow-ups, prompt
injection) live beside the generated ones and are left alone: only folders whose case says
`source: generated` are rewritten.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from bot.evaluation.cases import CASES_DIR, Case, Expect, NumberFact, RootCauseExpect, load_case
from knowledge.history_specs import SPECS
from tools.backends import downstream
from tools.catalog import METRICS
from tools.sandbox.backend import SandboxBackend
from tools.sandbox.model import AffectedMetric, GroundTruth
from tools.sandbox.scenario import list_scenarios
from tools.sandbox.simulator import Sandbox, load_sandbox

# An investigation reads the metrics' anomalies, through the scan tool or the one-call
# incident_context tool (which also gathers logs, changes and alerts).
INVESTIGATE_ANY = ["detect_metric_anomalies", "incident_context"]
# Which shop runbook fits a fault kind: the prose runbooks (knowledge/runbooks/*.md, by their
# symptoms) and the executable ones doing the same (knowledge/runbooks/library/*.yaml, ids
# runbook-exec-<name>). Any of them in the top 3 is a hit.
RUNBOOK_FOR = {
    "cpu_hog": ["runbook-cpu-saturation", "runbook-scale-out", "runbook-exec-scale-out"],
    "memory_leak": ["runbook-memory-leak", "runbook-restart-a-service",
                    "runbook-exec-restart-deployment"],
    "latency_injection": ["runbook-high-latency"],
    "network_delay": ["runbook-high-latency"],
    "disk_full": ["runbook-clear-disk", "runbook-exec-clear-disk-space"],
    "bad_deploy": ["runbook-roll-back-a-deploy", "runbook-exec-roll-back-deploy"],
    "dependency_down": ["runbook-dependency-down", "runbook-fail-over-redis",
                        "runbook-fail-over-postgres", "runbook-exec-fail-over-redis",
                        "runbook-exec-fail-over-postgres"],
    "connection_pool_exhaustion": ["runbook-raise-connection-pool",
                                   "runbook-exec-raise-connection-pool"],
    "certificate_expiry": ["runbook-rotate-certificate", "runbook-exec-rotate-certificate"],
}
KIND_WORDS = {
    "cpu_hog": "CPU saturation", "memory_leak": "a memory leak",
    "latency_injection": "added latency", "network_delay": "network delay",
    "disk_full": "a full disk", "bad_deploy": "a bad deploy", "dependency_down": "an outage",
    "connection_pool_exhaustion": "connection pool exhaustion",
    "certificate_expiry": "an expired certificate",
}
METRIC_WORDS = {
    "request_rate": "request rate", "error_rate": "error rate", "latency_p50": "p50 latency",
    "latency_p95": "p95 latency", "latency_p99": "p99 latency", "cpu": "cpu usage",
    "memory": "memory usage", "connections": "connections", "disk": "disk usage",
    "cert_expiry": "certificate expiry",
}


def bad_way(a: AffectedMetric) -> bool:
    """A change in the metric's bad direction (a dead redis' CPU falling is no symptom)."""
    return METRICS[a.metric].bad_direction in ("both", "up" if a.observed > a.baseline else "down")


def own_symptoms(gt: GroundTruth) -> list[AffectedMetric]:
    own = [a for a in gt.affected if a.service == gt.service and bad_way(a)]
    return sorted(own, key=lambda a: -abs(a.observed - a.baseline) / max(abs(a.baseline), 1e-9))


def number(a: AffectedMetric) -> NumberFact:
    return NumberFact(service=a.service, metric=a.metric, value=round(a.observed, 3),
                      rel_tol=0.2, abs_tol=METRICS[a.metric].min_abs_change)


def similar_ids(kind: str, service: str) -> list[str]:
    same = [s.id for s in SPECS if s.fault == kind and s.service == service]
    return same or [s.id for s in SPECS if s.fault == kind]


def _tags(*extra: str) -> list[str]:
    return [t for t in extra if t]


def fault_cases(sb: Sandbox) -> list[Case]:
    gt = sb.ground_truth[0]
    name, kind, svc = sb.scenario.name, gt.kind, gt.service
    seed = sb.scenario.seed
    own = own_symptoms(gt)
    pairs = [f"{a.service}:{a.metric}" for a in own]
    allowed = [f"{a.service}:{a.metric}" for a in gt.affected]
    cause = RootCauseExpect(service=svc, kind=kind)
    common = {"scenario": name, "seed": seed, "source": "generated"}
    tags = [f"fault:{kind}", f"scenario:{name}"]
    cases = [
        Case(id=f"{name}--investigate-named", question=f"what is wrong with {svc}?",
             expect=Expect(intent="investigate", tools_any=INVESTIGATE_ANY, services=[svc],
                           metrics=pairs, numbers=[number(a) for a in own],
                           allowed_anomalies=allowed, root_cause=cause,
                           similar_incidents=similar_ids(kind, svc),
                           runbooks=RUNBOOK_FOR[kind]),
             capability="rca", difficulty="easy",
             tags=_tags(*tags, "tool:detect_metric_anomalies", "tool:search_incidents",
                        "tool:suggest_runbooks"), **common),
        Case(id=f"{name}--investigate-open", question="is anything broken right now?",
             expect=Expect(intent="investigate", tools_any=INVESTIGATE_ANY, services=[],
                           metrics=pairs[:1], allowed_anomalies=allowed, root_cause=cause,
                           similar_incidents=similar_ids(kind, svc)),
             capability="rca", difficulty="medium", tags=tags, **common),
    ]
    backend = SandboxBackend(sb)
    symptom = next((a for a in gt.affected if a.service != svc and bad_way(a)
                    and svc in downstream(backend, a.service)), None)
    if symptom is not None:
        how = "slow" if symptom.metric.startswith("latency") else "throwing errors"
        cases.append(Case(
            id=f"{name}--investigate-symptom", question=f"why is {symptom.service} {how}?",
            expect=Expect(intent="investigate", tools_any=INVESTIGATE_ANY,
                          services=[symptom.service], metrics=pairs[:1],
                          allowed_anomalies=allowed, root_cause=cause),
            capability="rca", difficulty="hard", tags=tags, **common))
    if own:
        top = own[0]
        cases.append(Case(
            id=f"{name}--metrics", question=f"{METRIC_WORDS[top.metric]} of {svc} over the "
                                            "last 30 minutes",
            expect=Expect(intent="metrics", tools=["query_metrics"], services=[svc],
                          metrics=[f"{svc}:{top.metric}"], numbers=[number(top)]),
            capability="metrics", difficulty="easy", tags=[*tags, "tool:query_metrics"],
            **common))
    cases += [
        Case(id=f"{name}--logs", question=f"show me error logs of {svc} in the last 30 minutes",
             expect=Expect(intent="logs", tools=["search_logs"], services=[svc]),
             capability="logs", difficulty="easy", tags=[*tags, "tool:search_logs"], **common),
        Case(id=f"{name}--traces", question=f"slow traces for {svc}",
             expect=Expect(intent="traces", tools=["search_traces"], services=[svc]),
             capability="traces", difficulty="easy", tags=[*tags, "tool:search_traces"],
             **common),
        Case(id=f"{name}--alerts", question="which alerts are firing?",
             expect=Expect(intent="alerts", tools=["firing_alerts"],
                           facts=sorted({a.name for a in sb.firing(sb.now)}),
                           no_problem=not sb.firing(sb.now)),
             capability="alerts", difficulty="easy", tags=[*tags, "tool:firing_alerts"],
             **common),
        Case(id=f"{name}--changes", question="what changed in the last 3 hours?",
             expect=Expect(intent="changes", tools=["recent_changes"],
                           facts=change_facts(sb, sb.now - 3 * 3600, sb.now)),
             capability="changes", difficulty="easy", tags=[*tags, "tool:recent_changes"],
             **common),
        Case(id=f"{name}--similar", question=f"have we seen {KIND_WORDS[kind]} on {svc} before?",
             expect=Expect(intent="similar_incidents", tools=["search_incidents"],
                           similar_incidents=similar_ids(kind, svc)),
             capability="knowledge", difficulty="medium",
             tags=[*tags, "tool:search_incidents"], **common),
        Case(id=f"{name}--runbook",
             question=f"which runbook should I follow for {KIND_WORDS[kind]} on {svc}?",
             expect=Expect(intent="runbook", tools=["suggest_runbooks"],
                           runbooks=RUNBOOK_FOR[kind]),
             capability="knowledge", difficulty="medium",
             tags=[*tags, "tool:suggest_runbooks"], **common),
    ]
    before = gt.start - 3600
    # An expiring certificate is already a problem before it expires: no quiet hour to ask in.
    if before - 1800 > sb.start and kind != "certificate_expiry":
        cases.append(Case(
            id=f"{name}--before-fault", question="is anything broken right now?",
            at=datetime.fromtimestamp(before, UTC),
            expect=Expect(intent="investigate", tools_any=INVESTIGATE_ANY, no_problem=True),
            capability="no_problem", difficulty="medium", tags=tags, **common))
    return cases


def change_facts(sb: Sandbox, start: int, end: int) -> list[str]:
    """What identifies each change event in the window: the new version, or the setting."""
    facts = []
    for e in sb.events(start, end):
        if e.kind == "deploy" and e.version:
            facts.append(e.version)
        else:
            facts.append(e.description.split(": ", 1)[-1].split(" ", 1)[0])
    return sorted(set(facts))


def quiet_cases(sb: Sandbox) -> list[Case]:
    name = sb.scenario.name
    common = {"scenario": name, "seed": sb.scenario.seed, "source": "generated",
              "tags": [f"scenario:{name}"], "capability": "no_problem"}
    return [
        Case(id=f"{name}--anything-broken", question="is anything broken right now?",
             expect=Expect(intent="investigate", tools_any=INVESTIGATE_ANY, no_problem=True),
             difficulty="easy", **common),
        Case(id=f"{name}--checkout-health", question="what is wrong with checkout?",
             expect=Expect(intent="investigate", tools_any=INVESTIGATE_ANY, services=["checkout"],
                           no_problem=True), difficulty="medium", **common),
        Case(id=f"{name}--cart-slow", question="why is cart slow?",
             expect=Expect(intent="investigate", tools_any=INVESTIGATE_ANY, services=["cart"],
                           no_problem=True), difficulty="medium", **common),
        Case(id=f"{name}--alerts", question="any alerts firing at the moment?",
             expect=Expect(intent="alerts", tools=["firing_alerts"],
                           no_problem=not sb.firing(sb.now)), difficulty="easy", **common),
        Case(id=f"{name}--metrics", question="error rate of payment over the last hour",
             expect=Expect(intent="metrics", tools=["query_metrics"], services=["payment"],
                           no_problem=True), difficulty="easy", **common),
        Case(id=f"{name}--changes", question="what changed in the last 3 hours?",
             expect=Expect(intent="changes", tools=["recent_changes"],
                           facts=change_facts(sb, sb.now - 3 * 3600, sb.now)),
             difficulty="easy", **(common | {"capability": "changes"})),
    ]


def generated_cases() -> list[Case]:
    cases: list[Case] = []
    for scenario in list_scenarios():
        sb = load_sandbox(scenario.name)
        cases += fault_cases(sb) if sb.ground_truth else quiet_cases(sb)
    return cases


def write_generated(folder: Path = CASES_DIR) -> tuple[int, int]:
    """(written, removed): rewrite generated cases, drop generated ones no longer produced."""
    from bot.evaluation.cases import write_case

    cases = generated_cases()
    ids = {c.id for c in cases}
    removed = 0
    for path in sorted(folder.glob("*/case.yaml")):
        if path.parent.name not in ids and load_case(path).source == "generated":
            path.unlink()
            path.parent.rmdir()
            removed += 1
    for case in cases:
        write_case(case, folder)
    return len(cases), removed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=CASES_DIR, help="case folder")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    written, removed = write_generated(args.out)
    print(f"wrote {written} generated cases to {args.out} (removed {removed} stale)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
