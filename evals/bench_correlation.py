"""Benchmark: alert correlation on sandbox days with several incidents.

Each day (one per held-out seed) carries four faults of the shipped scenarios (rotating through
them), hours apart. An alert's true incident is the fault whose window (+10 min) its firing
overlaps; an alert overlapping none is its own incident. Prints the compression (alerts per
incident found), the most compression a perfect grouping could reach on the same alerts, the
share of alerts whose incident is exactly their true incident (grouping accuracy) and purity.

    .venv/bin/python -m evals.bench_correlation
"""

from __future__ import annotations

import dataclasses
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


def truth_labels(sb: Sandbox) -> list[str]:
    labels = []
    for i, alert in enumerate(sb.all_alerts()):
        end = alert.ends_at if alert.ends_at is not None else sb.end
        faults = list(enumerate(sb.scenario.faults))
        owner = next((f"fault{k}" for k, f in faults if f.service == alert.service
                      and alert.starts_at <= f.end + 600 and end >= f.start), None)
        owner = owner or next((f"fault{k}" for k, f in faults
                               if f.start <= alert.starts_at <= f.end + 600), None)
        labels.append(owner or f"noise{i}")
    return labels


def main() -> None:
    alerts_total = found_total = true_total = exact = pure = 0
    for sc in incident_days():
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
        alerts_total += len(alerts)
        found_total += len(incidents)
        true_total += len(true_groups)
        print(f"{sc.name}: {len(alerts)} alerts, {len(true_groups)} true incidents, "
              f"{len(incidents)} found")
        for inc in incidents[:0]:
            for alert, why in zip(inc.alerts[1:], inc.reasons[1:], strict=True):
                print(f"    incident {inc.id}: {alert.name} on {alert.service} joined: {why}")
    print(f"compression: {alerts_total / max(1, found_total):.2f} alerts per incident "
          f"(perfect grouping of these alerts: {alerts_total / max(1, true_total):.2f}; "
          f"target >= 5)")
    print(f"grouping accuracy: {exact / max(1, alerts_total):.3f} of alerts in exactly their "
          f"true incident; purity {pure / max(1, alerts_total):.3f} (target >= 0.95)")


if __name__ == "__main__":
    main()
