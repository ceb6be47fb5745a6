"""evals.bench_rca_real on cases written in the RCAEval layout: per fault type figures, and the
leave-one-fault-type-out ones (`--cv`) that choose the ranking's gates without the held-out type."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from evals.bench_rca_real import GATE_GRID, run

T0 = 1_700_000_000
SERVICES = ("front", "cart", "pay")


def write_case(root: Path, truth: str, fault: str, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    ts = T0 + 60 * np.arange(40)
    onset = int(ts[32])
    cols: dict[str, np.ndarray] = {}
    for s in SERVICES:
        cols[f"{s}_cpu"] = 20 + rng.normal(0, 1, len(ts))
        cols[f"{s}_latency_90"] = 0.1 + rng.normal(0, 0.005, len(ts))
    cols["sli_latency_50"] = 0.2 + rng.normal(0, 0.005, len(ts))
    column = {"cpu": f"{truth}_cpu", "delay": f"{truth}_latency_90", "slo": "sli_latency_50"}
    cols[column[fault]][ts >= onset] *= 4
    d = root / f"{truth}_{fault}" / str(n)
    d.mkdir(parents=True)
    lines = ["time," + ",".join(cols)]
    lines += [f"{t}," + ",".join(f"{cols[c][i]:.5f}" for c in cols) for i, t in enumerate(ts)]
    (d / "data.csv").write_text("\n".join(lines) + "\n")
    (d / "inject_time.txt").write_text(str(onset))
    (d / "truth.txt").write_text(truth)
    (d / "fault_type.txt").write_text(fault)


def test_per_fault_figures_and_leave_one_fault_type_out(tmp_path):
    for i, (truth, fault) in enumerate([("cart", "cpu"), ("pay", "cpu"), ("front", "delay"),
                                        ("pay", "delay")]):
        write_case(tmp_path, truth, fault, 1, seed=i)
    report = run(tmp_path, None, None, cv=True)
    assert report["cases"] == 4 and report["baselines"] == "numpy re-implementation"
    assert report["methods"]["opscopilot"]["ac1"] == 1.0
    assert set(report["per_fault"]) == {"cpu", "delay"}
    lofo = report["ranking_leave_one_fault_out"]["opscopilot"]
    assert lofo["n"] == 4 and lofo["ac1"] == 1.0
    for f in ("cpu", "delay"):
        chosen = lofo["per_fault"][f]
        assert chosen["n"] == 2
        assert any((g.z_significant, g.min_relative) == (chosen["z_significant"],
                                                          chosen["min_relative"])
                   for g in GATE_GRID)
    assert report["clear_leave_one_fault_out"]["opscopilot"]["per_fault"].keys() == {"cpu",
                                                                                     "delay"}


def test_the_sli_columns_count_for_the_service_they_belong_to(tmp_path):
    write_case(tmp_path, "front", "slo", 1, seed=9)  # only the frontend's SLI moved
    left_out = run(tmp_path, None, None, cv=False)
    assert left_out["sli_columns"] == "left out"
    assert left_out["methods"]["opscopilot"]["ac1"] == 0.0
    owned = run(tmp_path, None, None, cv=False, sli_service="front")
    assert owned["sli_columns"] == "read as front's"
    assert all(owned["methods"][m]["ac1"] == 1.0 for m in ("opscopilot", "baro", "nsigma"))
