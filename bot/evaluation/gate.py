"""The regression gate: a run's scores against the committed baseline (`evals/baseline.json`).

The baseline keeps every case's scores, so a run over a subset of the cases (a tag) is compared
with the baseline over the same cases. A score that falls below the baseline by more than its
tolerance fails the gate; the cases that passed in the baseline and fail now are named.
Latency is reported, never gated (CI machines differ).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.evaluation.cases import EVALS_DIR
from bot.evaluation.runner import SCORES, CaseResult, summarize
from bot.evaluation.runs import run_results

BASELINE = EVALS_DIR / "baseline.json"
# One case flips ~0.7 % of the overall scores; a capability has 3 to 30 cases.
DEFAULT_TOLERANCE = {"overall": 0.02, "capability": 0.10}


class BaselineError(ValueError):
    """A missing or unreadable baseline; the message says how to make one."""


@dataclass
class GateResult:
    regressions: list[str] = field(default_factory=list)  # "scope score: a -> b (tolerance t)"
    regressed_cases: list[str] = field(default_factory=list)  # "id: first failure"
    fixed_cases: list[str] = field(default_factory=list)
    new_cases: list[str] = field(default_factory=list)  # in the run, not in the baseline

    @property
    def ok(self) -> bool:
        return not self.regressions

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "regressions": self.regressions,
                "regressed_cases": self.regressed_cases, "fixed_cases": self.fixed_cases,
                "new_cases": self.new_cases}

    def text(self) -> str:
        if self.ok:
            head = "gate: PASS, no score below baseline beyond its tolerance"
        else:
            head = "gate: FAIL\n" + "\n".join(f"  {r}" for r in self.regressions)
        lines = [head]
        if self.regressed_cases:
            lines.append(f"cases that passed in the baseline and fail now "
                         f"({len(self.regressed_cases)}):")
            lines += [f"  {c}" for c in self.regressed_cases]
        if self.new_cases:
            lines.append(f"cases not in the baseline yet ({len(self.new_cases)}), not gated: "
                         + ", ".join(self.new_cases))
        if self.fixed_cases:
            lines.append(f"cases fixed since the baseline ({len(self.fixed_cases)}): "
                         + ", ".join(self.fixed_cases))
        return "\n".join(lines)


def make_baseline(run: dict[str, Any], tolerance: dict[str, float] | None = None
                  ) -> dict[str, Any]:
    """A baseline from a run: its provenance, tolerances, and per-case scores (no answer text,
    so the file stays small and diffs stay readable)."""
    cases = []
    for r in run["results"]:
        cases.append({k: v for k, v in r.items() if k not in ("summary", "latency_ms")}
                     | {"latency_ms": 0.0, "summary": ""})
    return {
        "created": run["created"], "run": run["id"], "git_commit": run["git_commit"],
        "config_hash": run["config_hash"], "versions": run["versions"],
        "tolerance": tolerance or dict(DEFAULT_TOLERANCE),
        "summary": {k: v for k, v in summarize(run_results({"results": cases}))["overall"].items()
                    if k not in ("p50_ms", "p95_ms")},
        "results": cases,
    }


def load_baseline(path: Path = BASELINE) -> dict[str, Any]:
    if not path.is_file():
        raise BaselineError(f"{path}: no baseline; make one with "
                            "`opscopilot eval run --update-baseline`")
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise BaselineError(f"{path}: unreadable baseline ({exc}); regenerate it with "
                            "`opscopilot eval run --update-baseline`") from None
    return data


def save_baseline(baseline: dict[str, Any], path: Path = BASELINE) -> Path:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(baseline, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def check_gate(results: list[CaseResult], baseline: dict[str, Any]) -> GateResult:
    base = {r.id: r for r in run_results(baseline)}
    now = {r.id: r for r in results}
    common = [i for i in now if i in base]
    gate = GateResult()
    tol = {**DEFAULT_TOLERANCE, **baseline.get("tolerance", {})}
    b_sum = summarize([base[i] for i in common])
    n_sum = summarize([now[i] for i in common])
    scopes = [("overall", b_sum["overall"], n_sum["overall"], tol["overall"])]
    scopes += [(cap, b_sum["capabilities"][cap], n_sum["capabilities"].get(cap, {}),
                tol["capability"]) for cap in b_sum["capabilities"]]
    # A split (held-out, dev) is gated like a capability: the held-out part cannot fall
    # quietly while the dev part rises.
    scopes += [(split, b_sum["splits"][split], n_sum["splits"].get(split, {}),
                tol["capability"]) for split in b_sum.get("splits", {})]
    for scope, b, n, t in scopes:
        for name in SCORES:
            bv, nv = b.get(name), n.get(name)
            if bv is None:
                continue
            if nv is None or nv < bv - t - 1e-9:
                shown = "n/a" if nv is None else f"{nv:.3f}"
                gate.regressions.append(f"{scope} {name}: {bv:.3f} -> {shown} "
                                        f"(tolerance {t:.2f})")
    gate.new_cases = [i for i in now if i not in base]
    for i in common:
        if base[i].passed and not now[i].passed:
            gate.regressed_cases.append(f"{i}: {now[i].failures[0]}")
        elif not base[i].passed and now[i].passed:
            gate.fixed_cases.append(i)
    return gate
