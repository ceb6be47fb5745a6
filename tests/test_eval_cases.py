"""The committed eval cases: valid, up to date with the ground truth, and covering what the
issue asks for (every tool, every fault kind, quiet, ambiguous, follow-up, injection)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.evaluation.cases import CaseError, case_to_yaml, load_case, load_cases, write_case
from bot.evaluation.generate import generated_cases
from tools.catalog import FAULT_KINDS

CASES = load_cases()
TOOLS = ("query_metrics", "detect_metric_anomalies", "search_logs", "recent_changes",
         "firing_alerts", "search_traces", "search_incidents", "suggest_runbooks")


def test_enough_cases_and_every_capability():
    assert len(CASES) >= 80
    caps = {c.capability for c in CASES}
    assert {"rca", "metrics", "logs", "traces", "changes", "alerts", "knowledge", "no_problem",
            "ambiguous", "follow_up", "injection", "conversation"} <= caps
    assert {c.difficulty for c in CASES} == {"easy", "medium", "hard"}


def test_every_tool_and_fault_kind_is_covered():
    expected_tools = {t for c in CASES for t in [*c.expect.tools, *c.expect.tools_any]}
    assert set(TOOLS) <= expected_tools
    kinds = {c.expect.root_cause.kind for c in CASES if c.expect.root_cause}
    assert set(FAULT_KINDS) <= kinds
    assert any(c.scenario == "quiet" and c.expect.no_problem for c in CASES)


def test_handwritten_cases_are_there():
    hand = [c for c in CASES if c.source == "handwritten"]
    assert sum(c.capability == "injection" for c in hand) >= 5
    assert all(c.expect.refuse and c.expect.forbidden_tools
               for c in hand if c.capability == "injection")
    assert all(c.thread for c in hand if c.capability == "follow_up")
    assert all(len(c.expect.intents()) > 1 for c in hand if c.capability == "ambiguous")


def test_generated_cases_match_the_ground_truth_today():
    """The committed YAML is what the generator makes from the scenarios now: a changed
    scenario or ground truth must be regenerated (python -m bot.evaluation.generate)."""
    committed = {c.id: c for c in CASES if c.source == "generated"}
    fresh = {c.id: c for c in generated_cases()}
    assert set(committed) == set(fresh)
    stale = [i for i in fresh if case_to_yaml(fresh[i])
             != case_to_yaml(committed[i])]
    assert not stale, f"regenerate the cases: {stale[:5]}"


def test_tag_and_id_selection():
    rca = load_cases(tags=["rca", "hard"])
    assert rca and all(c.capability == "rca" and c.difficulty == "hard" for c in rca)
    assert [c.id for c in load_cases(ids=["conversation--help"])] == ["conversation--help"]
    with pytest.raises(CaseError, match="no such case: nope"):
        load_cases(ids=["nope"])


def test_bad_case_files_are_one_line_errors(tmp_path: Path):
    good = CASES[0]
    write_case(good, tmp_path)
    assert load_case(tmp_path / good.id / "case.yaml") == good
    bad = tmp_path / "broken" / "case.yaml"
    bad.parent.mkdir()
    bad.write_text("id: broken\nquestion: hi\nscenario: quiet\ncapability: rca\n"
                   "expect: {intent: help, tool: [x]}\n")
    with pytest.raises(CaseError, match=r"broken/case.yaml: expect.tool: Extra inputs"):
        load_case(bad)
    bad.write_text("id: other\nquestion: hi\nscenario: quiet\ncapability: rca\n"
                   "expect: {intent: help}\n")
    with pytest.raises(CaseError, match="differs from its folder name"):
        load_case(bad)
    bad.write_text("id: [unclosed\n")
    with pytest.raises(CaseError, match="YAML syntax error"):
        load_case(bad)
