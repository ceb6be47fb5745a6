"""Does `ask "what is wrong with <service>?"` find what the sandbox really broke?

For every shipped fault scenario: ask about the faulty service at the scenario's now and compare
the answer's findings with the ground truth: which affected metrics were named (recall), how close
the quoted values are to the true ones, and whether the top root cause is the faulty service.

    python -m evals.findings_accuracy [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import asdict, dataclass, field

from bot.answer import Answer
from tools.catalog import METRICS
from tools.sandbox.model import GroundTruth

REL_TOLERANCE = 0.2


@dataclass
class CaseResult:
    scenario: str
    service: str
    kind: str
    expected: list[str]  # service:metric pairs of the faulty service the fault moved
    found: list[str]
    value_errors: dict[str, float] = field(default_factory=dict)  # relative error per pair
    top_root_cause: str | None = None
    latency_ms: float = 0.0

    @property
    def recall(self) -> float:
        return len(self.found) / len(self.expected) if self.expected else 1.0


def value_matches(metric: str, value: float, truth: float) -> bool:
    """Within 20 % of the true value, or within the metric's relevance floor."""
    return abs(value - truth) <= max(REL_TOLERANCE * abs(truth), METRICS[metric].min_abs_change)


def score_case(scenario: str, gt: GroundTruth, answer: Answer) -> CaseResult:
    # Only changes in a metric's bad direction: a dead redis' CPU falling is no symptom to report.
    own = [a for a in gt.affected if a.service == gt.service
           and METRICS[a.metric].bad_direction in
           ("both", "up" if a.observed > a.baseline else "down")]
    result = CaseResult(scenario, gt.service, gt.kind,
                        [f"{a.service}:{a.metric}" for a in own], [],
                        latency_ms=answer.latency_ms)
    for a in own:
        match = next((f for f in answer.findings
                      if f.service == a.service and f.metric == a.metric
                      and f.kind == "metric_anomaly" and f.value is not None), None)
        if match is None:
            continue
        assert match.value is not None
        key = f"{a.service}:{a.metric}"
        result.value_errors[key] = abs(match.value - a.observed) / max(abs(a.observed), 1e-9)
        if value_matches(a.metric, match.value, a.observed):
            result.found.append(key)
    if answer.root_causes:
        result.top_root_cause = answer.root_causes[0].service
    return result


def run() -> list[CaseResult]:
    from bot.answer import Question
    from bot.app import build_runtime
    from infra.settings import load_settings
    from tools.sandbox.scenario import list_scenarios

    settings = load_settings()
    router = None
    results = []
    for scenario in list_scenarios():
        runtime = build_runtime(settings, scenario.name, router=router)
        router = runtime.copilot.router
        sandbox = runtime.sandbox
        assert sandbox is not None
        for gt in sandbox.ground_truth:
            question = Question(f"what is wrong with {gt.service}?", runtime.default_now())
            answer = runtime.copilot.answer(question)
            results.append(score_case(scenario.name, gt, answer))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    results = run()
    expected = sum(len(r.expected) for r in results)
    found = sum(len(r.found) for r in results)
    ac1 = sum(r.top_root_cause == r.service for r in results) / len(results)
    errors = [e for r in results for e in r.value_errors.values()]
    summary = {
        "cases": len(results),
        "metric_recall": found / expected if expected else 1.0,
        "values_within_tolerance": found,
        "expected_pairs": expected,
        "median_relative_value_error": statistics.median(errors) if errors else None,
        "root_cause_ac1": ac1,
        "median_latency_ms": statistics.median(r.latency_ms for r in results),
    }
    if args.json:
        json.dump({"summary": summary, "cases": [asdict(r) | {"recall": r.recall}
                                                 for r in results]}, sys.stdout, indent=2)
        print()
        return 0
    print(f"{'scenario':32} {'fault':28} {'recall':>7} {'top cause':>15}  missed")
    for r in results:
        missed = sorted(set(r.expected) - set(r.found))
        print(f"{r.scenario:32} {r.kind + ' on ' + r.service:28} {r.recall:7.0%} "
              f"{r.top_root_cause or '-':>15}  {', '.join(missed) or '-'}")
    print(f"\nmetric recall {summary['metric_recall']:.1%} ({found}/{expected} affected metrics "
          f"of the faulty service named with a value within {REL_TOLERANCE:.0%})")
    if errors:
        err = summary["median_relative_value_error"]
        print(f"median relative error of quoted values {err:.1%}")
    print(f"root cause AC@1 {ac1:.0%} over {len(results)} faults")
    print(f"median answer latency {summary['median_latency_ms']:.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
