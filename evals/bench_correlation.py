"""Benchmark: alert correlation on sandbox days with several incidents.

Each day (one per held-out seed) carries four faults of the shipped scenarios (rotating through
them), hours apart. An alert's true incident is the fault that caused it, found by
counterfactual: the same day simulated with that fault alone (same seed, so the same noise)
fires the same alert on the same service at an overlapping time. An alert no single fault
explains is its own incident. (Slow-burn SLO alerts fire after their fault ended, so a time
window around the fault would mislabel them.) Prints the compression (alerts per
incident found), the most compression a perfect grouping could reach on the same alerts, the
share of alerts whose incident is exactly their true incident (grouping accuracy) and purity.

    .venv/bin/python -m evals.bench_correlation
"""

from __future__ import annotations

import dataclasses
import random
from collections import Counter

from tools.anomaly.correlation import AlertCorrelator
from tools.sandbox.scenario import Fault, Scenario, list_scenarios, load_scenario
from tools.sandbox.simulator import Sandbox, simulate

SEEDS = (101, 202, 303, 404, 505)
SLOTS_H = (4, 9, 14, 19)
DEBUG = False


def incident_days(seeds: tuple[int, ...] = SEEDS) -> list[Scenario]:
    shipped = [f for sc in list_scenarios() for f in sc.faults]
    quiet = load_scenario("quiet")
    days = []
    for n, seed in enumerate(seeds):
        faults = []
        for k, hour in enumerate(SLOTS_H):
            f = shipped[(n * len(SLOTS_H) + k) % len(shipped)]
            start = quiet.start + hour * 3600 + (seed * 37 % 60) * 60
            faults.append(Fault(f.service, f.kind, start, start + (f.end - f.start),
                                f.intensity))
        days.append(dataclasses.replace(quiet, name=f"incidents@{seed}", seed=seed,
                                        faults=tuple(faults)))
    return days


def crowded_days(seeds: tuple[int, ...] = SEEDS) -> list[Scenario]:
    """Harder days: six faults within three hours, 15 to 40 minutes apart, so incidents overlap
    in time and only the service graph and the alerts' text can tell them apart."""
    shipped = [f for sc in list_scenarios() for f in sc.faults]
    quiet = load_scenario("quiet")
    days = []
    for seed in seeds:
        rng = random.Random(seed)
        order = rng.sample(shipped, 6)
        start = quiet.start + 10 * 3600
        faults = []
        for f in order:
            faults.append(Fault(f.service, f.kind, start, start + (f.end - f.start),
                                f.intensity))
            start += rng.randrange(15, 41) * 60
        days.append(dataclasses.replace(quiet, name=f"crowded@{seed}", seed=seed,
                                        faults=tuple(faults)))
    return days


def _runs(sb: Sandbox) -> set[tuple[str, str, int, int]]:
    return {(a.name, a.service, a.starts_at, a.ends_at if a.ends_at is not None else sb.end)
            for a in sb.all_alerts()}


def truth_labels(sb: Sandbox) -> list[str]:
    alone = [_runs(simulate(dataclasses.replace(sb.scenario, faults=(f,))))
             for f in sb.scenario.faults]
    labels = []
    for i, alert in enumerate(sb.all_alerts()):
        end = alert.ends_at if alert.ends_at is not None else sb.end
        owner = next((f"fault{k}" for k, runs in enumerate(alone)
                      if any(name == alert.name and service == alert.service
                             and start < end and alert.starts_at < stop
                             for name, service, start, stop in runs)), None)
        labels.append(owner or f"noise{i}")
    return labels


def run_suite(title: str, days: list[Scenario]) -> None:
    alerts_total = found_total = true_total = exact = pure = 0
    pairs_same = pairs_found = pairs_both = 0
    print(title)
    for sc in days:
        sb = simulate(sc)
        alerts = sb.all_alerts()
        truth = truth_labels(sb)
        label_of = {id(a): t for a, t in zip(alerts, truth, strict=True)}
        correlator = AlertCorrelator({s: sb.topology.services[s].calls
                                      for s in sb.topology.names()})
        incidents = correlator.group(alerts)
        true_groups = Counter(truth)
        if DEBUG:
            for inc in incidents:
                print("   ", inc.id, [(a.name, a.service, (a.starts_at - sb.start) // 60,
                                      label_of[id(a)]) for a in inc.alerts])
        for inc in incidents:
            labels = [label_of[id(a)] for a in inc.alerts]
            top, top_n = Counter(labels).most_common(1)[0]
            pure += top_n
            if top_n == len(labels) == true_groups[top]:
                exact += len(labels)
        found_of = {id(a): inc.id for inc in incidents for a in inc.alerts}
        for i, a in enumerate(alerts):
            for b in alerts[:i]:
                same = label_of[id(a)] == label_of[id(b)]
                together = found_of[id(a)] == found_of[id(b)]
                pairs_same += same
                pairs_found += together
                pairs_both += same and together
        alerts_total += len(alerts)
        found_total += len(incidents)
        true_total += len(true_groups)
        print(f"  {sc.name}: {len(alerts)} alerts, {len(true_groups)} true incidents, "
              f"{len(incidents)} found")
    print(f"  compression: {alerts_total / max(1, found_total):.2f} alerts per incident "
          f"(perfect grouping of these alerts: {alerts_total / max(1, true_total):.2f}; "
          f"target >= 5)")
    print(f"  grouping accuracy: {exact / max(1, alerts_total):.3f} of alerts in exactly their "
          f"true incident; purity {pure / max(1, alerts_total):.3f} (target >= 0.95)")
    print(f"  pairs of alerts put together: precision {pairs_both / max(1, pairs_found):.3f}, "
          f"recall {pairs_both / max(1, pairs_same):.3f}")


def main() -> None:
    run_suite("four faults a day, hours apart (the target's suite):", incident_days())
    run_suite("six faults in three hours, overlapping (harder):", crowded_days())


if __name__ == "__main__":
    main()
