"""Done-when of issue 8: a deliberately degraded configuration is caught by the regression gate
and by the drift monitor. Real router (model-free embedder, so it trains in a second), real
sandbox, real tools; the baseline is made here from the shipped configuration's own run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.answer import Question
from bot.answer_log import AnswerLog
from bot.evaluation.cases import Case, load_cases
from bot.evaluation.config import EvalConfig, Harness
from bot.evaluation.drift import DAY, drift_alert, monitor
from bot.evaluation.gate import check_gate, make_baseline
from bot.evaluation.runner import run_cases, score_answer
from bot.evaluation.runs import make_run, run_results
from infra.state import state_engine
from knowledge.hashing import HashingEmbedder

FAST = {"metrics", "logs", "traces", "alerts", "changes", "conversation", "injection",
        "ambiguous"}
SCENARIOS = {"bad-deploy-checkout", "pool-exhaustion-payment", "quiet"}


def model_free(name: str, **changes: Any) -> EvalConfig:
    return EvalConfig(name=name, embedder="hashing", kb_model="hashing-384", **changes)


GOOD = model_free("shipped")
# The model-free router is very sure of itself (median probability 0.99): a threshold above
# that makes the copilot ask people to rephrase half of their questions.
BAD_THRESHOLD = model_free("bad-threshold", min_confidence=0.995)
FEW_EXAMPLES = model_free("tenth-utterances", utterances_fraction=0.1)


@pytest.fixture(scope="module")
def cases() -> list[Case]:
    chosen = [c for c in load_cases() if c.capability in FAST and c.scenario in SCENARIOS
              and c.id != "injection--inside-question"]
    assert len(chosen) >= 20
    return chosen


@pytest.fixture(scope="module")
def harnesses(settings) -> dict[str, Harness]:
    return {c.name: Harness(settings, c, seed_kb=False) for c in (GOOD, BAD_THRESHOLD,
                                                                   FEW_EXAMPLES)}


def _run(harness: Harness, cases: list[Case], settings: Any) -> dict[str, Any]:
    results = run_cases(harness, cases)
    return make_run(results, config=harness.config.to_dict(),
                    config_hash=harness.config.config_hash(settings), mode="deterministic",
                    versions={}, git_commit="test", tags=[], duration_s=0.0)


@pytest.fixture(scope="module")
def shipped_run(harnesses, cases, settings) -> dict[str, Any]:
    return _run(harnesses["shipped"], cases, settings)


@pytest.fixture(scope="module")
def baseline(shipped_run) -> dict[str, Any]:
    return make_baseline(shipped_run)


def test_the_shipped_configuration_passes_its_own_gate(shipped_run, baseline):
    assert check_gate(run_results(shipped_run), baseline).ok
    assert baseline["summary"]["routing"] >= 0.9


@pytest.mark.parametrize("name", ["bad-threshold", "tenth-utterances"])
def test_the_gate_catches_a_degraded_configuration(harnesses, cases, settings, baseline, name):
    degraded = _run(harnesses[name], cases, settings)
    gate = check_gate(run_results(degraded), baseline)
    assert not gate.ok
    assert any("routing" in r for r in gate.regressions), gate.regressions
    assert gate.regressed_cases, "the gate names the cases that regressed"
    assert "gate: FAIL" in gate.text() and gate.regressed_cases[0].split(":")[0] in gate.text()


def _log_answers(log: AnswerLog, harness: Harness, cases: list[Case], start: float) -> None:
    """Ask every case twice, a few minutes apart; a user votes helpful when the case passes."""
    from datetime import UTC, datetime

    clock = log.clock
    assert isinstance(clock, _Clock)
    for round_ in range(2):
        for i, case in enumerate(cases):
            clock.t = start + (round_ * len(cases) + i) * 600
            copilot = harness.copilot(case.scenario)
            sb = harness.sandboxes[case.scenario]
            q = Question(case.question, case.asked_at(datetime.fromtimestamp(sb.now, UTC)),
                         user="U1")
            answer = copilot.answer(q)
            # wall-clock latency depends on the machine's load: log a fixed one, so that only
            # the configuration differs between the windows
            answer_id = log.record(q, answer, source="slack", latency_ms=100.0 + i % 7)
            _, failures = score_answer(case, answer.to_json(), None)
            log.feedback(answer_id, "U1", not failures)


class _Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


@pytest.mark.parametrize(("recent", "drifts"), [("shipped", False), ("bad-threshold", True)])
def test_the_drift_monitor_catches_a_degraded_configuration(harnesses, cases, settings,
                                                            tmp_path: Path, recent, drifts):
    engine = state_engine(settings.model_copy(update={"data_dir": tmp_path}))
    log = AnswerLog(engine, clock=_Clock())
    now = 100 * DAY
    _log_answers(log, harnesses["shipped"], cases, now - 20 * DAY)  # the baseline window
    _log_answers(log, harnesses[recent], cases, now - 3 * DAY)  # the last week
    report = monitor(log, now, HashingEmbedder().embed)
    alert = drift_alert(report)
    drifted = {c.name for c in report.drifted}
    if not drifts:
        assert alert is None, drifted
        return
    assert alert is not None
    assert {"unsure_rate", "helpful_rate"} <= drifted, report.checks
    assert "unsure_rate" in alert["fields"] and "p=" in alert["fields"]["unsure_rate"]
    assert "question_embeddings" not in drifted  # the same questions were asked
