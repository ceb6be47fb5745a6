"""The sandbox fault suite: scenarios with known faults, and event-level scoring of a detector.

Every shipped fault scenario is re-run with other seeds and fault start times (`fault_suite`).
A ground-truth event is a run of samples where the fault moved a series' noise-free value by at
least the metric's `min_abs_change` and 20 % of its normal value (the same rule the sandbox uses
for its ground truth), inside the fault's window (+10 min for recovery). The certificate lifetime
is left out: its fault is a countdown to a level (judged by the catalog's alarm level), not a
change a detector can see. A detected event is a true positive when it overlaps a ground-truth
event of the same series (from 2 min before it to 15 min after it ends); every other detected
event, in quiet scenarios too, is a false positive.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from tools.anomaly.analysis import MIN_RELATIVE_CHANGE
from tools.anomaly.events import extract_events, runs
from tools.anomaly.robust import RobustConfig, score_series
from tools.catalog import METRICS
from tools.sandbox.scenario import Scenario, list_scenarios
from tools.sandbox.simulator import Sandbox, simulate

EXCLUDED_METRICS = ("cert_expiry",)
WARMUP_S = 3600
BEFORE_S = 120
AFTER_S = 900
RECOVERY_S = 600
TUNING_SEEDS = (1, 2)
HELD_OUT_SEEDS = (101, 202, 303)


def fault_suite(seeds: tuple[int, ...], quiet: bool = True) -> list[Scenario]:
    """Each shipped scenario per seed, its faults moved by a seed-dependent offset (-3..+3 h)."""
    out = []
    for base in list_scenarios():
        if not base.faults and not quiet:
            continue
        for seed in seeds:
            shift = ((seed * 7919) % 25 - 12) * 900  # -3 h .. +3 h in quarter hours
            faults = []
            for f in base.faults:
                start = min(max(f.start + shift, base.start + 2 * 3600),
                            base.end - (f.end - f.start) - 1800)
                faults.append(dataclasses.replace(f, start=start, end=start + f.end - f.start))
            now = min(min((f.start for f in faults), default=base.end - 600) + 600, base.end)
            out.append(dataclasses.replace(base, name=f"{base.name}@{seed}", seed=seed,
                                           faults=tuple(faults), now=now))
    return out


@dataclass
class SeriesSet:
    """Every scored series of one sandbox as a matrix, with its keys and magnitude floors."""

    keys: list[tuple[str, str]]
    timestamps: np.ndarray
    values: np.ndarray  # (n, T)
    min_change: np.ndarray  # (n,)


def sandbox_series(sb: Sandbox) -> SeriesSet:
    keys = [(s, m) for s in sb.topology.names() for m in sb.metric_names(s)
            if m not in EXCLUDED_METRICS]
    values = np.stack([sb.observed[s][m] for s, m in keys])
    floors = np.array([METRICS[m].min_abs_change for _, m in keys])
    return SeriesSet(keys, sb.timestamps, values, floors)


def sandbox_config(base: RobustConfig | None = None) -> RobustConfig:
    """The detector as the copilot runs it on the shop: changes under 20 % never count."""
    return dataclasses.replace(base or RobustConfig(), rel_floor=MIN_RELATIVE_CHANGE)


def truth_events(sb: Sandbox, keys: list[tuple[str, str]]) -> dict[int, list[tuple[int, int]]]:
    """Per series row: (first, last) sample index of each ground-truth event."""
    out: dict[int, list[tuple[int, int]]] = {}
    ts = sb.timestamps
    for i, (service, metric) in enumerate(keys):
        normal = sb.normal.values[service][metric]
        faulty = sb.clean.values[service][metric]
        moved = np.abs(faulty - normal) >= np.maximum(METRICS[metric].min_abs_change,
                                                      MIN_RELATIVE_CHANGE * np.abs(normal))
        inside = np.zeros(len(ts), dtype=bool)
        for f in sb.scenario.faults:
            inside |= (ts >= f.start) & (ts < f.end + RECOVERY_S)
        found = runs(moved & inside & (ts >= sb.start + WARMUP_S), merge_gap=40)
        if found:
            out[i] = found
    return out


@dataclass
class SuiteScore:
    true_pos: int = 0
    false_pos: int = 0
    found: int = 0  # ground-truth events detected
    truth: int = 0
    delays: list[int] = field(default_factory=list)  # samples from truth start to first alarm
    false_by_scenario: dict[str, int] = field(default_factory=dict)

    @property
    def precision(self) -> float:
        return self.true_pos / max(1, self.true_pos + self.false_pos)

    @property
    def recall(self) -> float:
        return self.found / max(1, self.truth)

    @property
    def median_delay(self) -> float:
        return float(np.median(self.delays)) if self.delays else float("nan")

    def as_dict(self) -> dict[str, float]:
        return {"precision": round(self.precision, 4), "recall": round(self.recall, 4),
                "median_delay_samples": self.median_delay, "true_positives": self.true_pos,
                "false_positives": self.false_pos, "truth_events": self.truth}


def score_sandbox(sb: Sandbox, config: RobustConfig, total: SuiteScore) -> None:
    """Run the detector over one sandbox and add its matches to `total`."""
    data = sandbox_series(sb)
    scores = score_series(data.values, config, data.min_change)
    truth = truth_events(sb, data.keys)
    step = sb.step
    before, after = BEFORE_S // step, AFTER_S // step
    warm = WARMUP_S // step
    for i in range(len(data.keys)):
        row = scores.row(i)
        events = [e for e in extract_events(data.timestamps, data.values[i], row)
                  if e.alarm_index >= warm]
        gts = truth.get(i, [])
        total.truth += len(gts)
        for gs, ge in gts:
            hits = [e for e in events if e.alarm_index <= ge + after and e.end_index >= gs - before]
            if hits:
                total.found += 1
                total.delays.append(max(0, min(e.alarm_index for e in hits) - gs))
        for e in events:
            if any(e.alarm_index <= ge + after and e.end_index >= gs - before for gs, ge in gts):
                total.true_pos += 1
            else:
                total.false_pos += 1
                name = sb.scenario.name
                total.false_by_scenario[name] = total.false_by_scenario.get(name, 0) + 1


def run_suite(scenarios: list[Scenario], config: RobustConfig) -> SuiteScore:
    total = SuiteScore()
    for sc in scenarios:
        score_sandbox(simulate(sc), config, total)
    return total
