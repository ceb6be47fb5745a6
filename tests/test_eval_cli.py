"""`opscopilot eval ...` end to end through the real CLI (model-free router and knowledge base,
state in a temporary data dir)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.answer import Answer, Question
from bot.answer_log import AnswerLog
from bot.cli import app
from bot.evaluation.cases import load_cases
from bot.evaluation.shadow import ConfigRegistry
from infra.settings import load_settings

MODEL_FREE = ["--set", "embedder=hashing", "--set", "kb_model=hashing-384"]
CASES = ["--case", "quiet--changes", "--case", "bad-deploy-checkout--alerts"]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("OPSCOPILOT_DATA_DIR", str(tmp_path / "data"))
    return CliRunner()


def test_run_store_gate_compare_report(cli: CliRunner, tmp_path: Path):
    baseline = tmp_path / "baseline.json"
    first = cli.invoke(app, ["eval", "run", *CASES, *MODEL_FREE, "--json",
                             "--update-baseline", "--baseline", str(baseline)])
    assert first.exit_code == 0, first.output
    data = json.loads(first.stdout)
    assert data["summary"]["overall"]["cases"] == 2 and data["summary"]["overall"]["passed"] == 1
    run = json.loads(Path(data["stored"]).read_text())
    assert run["git_commit"] and run["config_hash"] and run["versions"]["kb_model"] == \
        "hashing-384"
    assert json.loads(baseline.read_text())["run"] == data["run"]

    # a threshold nobody reaches: the copilot asks to rephrase, the gate fails and names cases
    worse = cli.invoke(app, ["eval", "run", *CASES, *MODEL_FREE, "--set", "min_confidence=1.0",
                             "--gate", "--baseline", str(baseline), "-q"])
    assert worse.exit_code == 1, worse.output
    assert "gate: FAIL" in worse.stdout and "quiet--changes: no tool ran" in worse.stdout

    cmp = cli.invoke(app, ["eval", "compare", "previous", "latest"])
    assert cmp.exit_code == 0, cmp.output
    assert "broken in B (2): bad-deploy-checkout--alerts, quiet--changes" in cmp.stdout

    table = cli.invoke(app, ["eval", "table", "latest"])
    assert table.exit_code == 0 and "| **overall** | 2 |" in table.stdout

    report = tmp_path / "report.html"
    made = cli.invoke(app, ["eval", "report", "-o", str(report)])
    assert made.exit_code == 0, made.output
    html = report.read_text()
    assert "Scores per capability" in html and "quiet--changes" in html and "<svg" in html


def test_bad_input_is_one_line(cli: CliRunner):
    for args, message in ((["eval", "run", "--set", "colour=blue"], "expected KEY=VALUE"),
                          (["eval", "run", "--case", "nope"], "no such case: nope"),
                          (["eval", "run", "--tag", "nope"], "no case has all of the tags nope"),
                          (["eval", "compare", "nope", "latest"], "no stored eval runs"),
                          (["eval", "report"], "no stored eval runs"),
                          (["eval", "promote", "ghost"], "no configuration named 'ghost'"),
                          (["eval", "rollback"], "nothing to roll back")):
        result = cli.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output and "Traceback" not in result.output


def test_promote_and_rollback_are_recorded(cli: CliRunner):
    from bot.evaluation.config import EvalConfig

    registry = ConfigRegistry.from_settings(load_settings())
    registry.register(EvalConfig(name="strict", min_confidence=0.5))
    assert cli.invoke(app, ["eval", "promote", "strict", "--reason", "canary ok"]).exit_code == 0
    assert registry.champion().min_confidence == 0.5
    back = cli.invoke(app, ["eval", "rollback", "--reason", "helpfulness fell"])
    assert back.exit_code == 0 and "strict -> current" in back.stdout
    assert registry.champion() == EvalConfig()
    assert [(e["action"], e["to"], e["reason"]) for e in registry.history()] == [
        ("promote", "strict", "canary ok"), ("rollback", "current", "helpfulness fell")]


def test_replay_and_drift_read_the_answer_log(cli: CliRunner, tmp_path: Path):
    log = AnswerLog.from_settings(load_settings())
    asked = datetime(2026, 11, 20, 18, 15, tzinfo=UTC)
    for text in ("why is checkout failing? token=abc123", "p99 of cart"):
        a = Answer(question=text, intent="investigate", summary="s", confidence=0.3)
        log.record(Question(text, asked), a, source="slack", latency_ms=5.0)
    out = tmp_path / "drafts"
    out.mkdir()
    replayed = cli.invoke(app, ["eval", "replay", "-o", str(out)])
    assert replayed.exit_code == 0, replayed.output
    drafts = load_cases(out, include_drafts=True)
    assert len(drafts) == 2 and all(c.draft and c.source == "replay" for c in drafts)
    assert all("abc123" not in c.question for c in drafts)  # redacted when logged
    assert load_cases(out) == []  # drafts wait for a review
    again = cli.invoke(app, ["eval", "replay", "-o", str(out)])
    assert "0 draft cases" in again.output  # never overwrites
    from bot.evaluation.config import EvalConfig

    registry = ConfigRegistry.from_settings(load_settings())
    registry.register(EvalConfig(name="model-free", embedder="hashing", kb_model="hashing-384"))
    registry.promote("model-free", "test")
    shadow = cli.invoke(app, ["eval", "shadow", "--name", "mute", *MODEL_FREE, "--set",
                              "min_confidence=1.0", "--from-log-days", "1", "--json"])
    assert shadow.exit_code == 0, shadow.output
    assert json.loads(shadow.stdout)["rates"]["questions"] == 2
    assert registry.aliases()["challenger"] == "mute"
    drift = cli.invoke(app, ["eval", "drift", "--no-embeddings"])
    assert drift.exit_code == 0, drift.output
    assert "too few to judge" in drift.stdout


def test_shadow_scores_answers_against_each_other(settings):
    from bot.answer_log import LoggedAnswer
    from bot.evaluation.config import EvalConfig, Harness
    from bot.evaluation.shadow import agreement, shadow_logged

    a = {"intent": "investigate", "tools": ["x", "y"], "root_causes": [{"service": "cart"}]}
    b = {"intent": "investigate", "tools": ["x"], "root_causes": [{"service": "redis"}]}
    got = agreement("q", a, b)
    assert got.same_intent and got.tool_jaccard == 0.5 and got.same_top_cause is False

    current = Harness(settings, EvalConfig(embedder="hashing", kb_model="hashing-384"),
                      seed_kb=False)
    mute = Harness(settings, EvalConfig(min_confidence=1.0, embedder="hashing",
                                        kb_model="hashing-384"), seed_kb=False)
    asked = datetime(2026, 11, 20, 18, 15, tzinfo=UTC).timestamp()
    logged = [LoggedAnswer(str(i), 0.0, "slack", "bad-deploy-checkout", asked, q, "", "", 0.0,
                           [], [], "ok", 1.0) for i, q in enumerate(
        ["which alerts are firing?", "show me error logs of checkout in the last 30 minutes"])]
    same = shadow_logged(logged, current, current, "quiet").rates()
    assert same["intent_agreement"] == 1.0 and same["tool_jaccard"] == 1.0
    differ = shadow_logged(logged, current, mute, "quiet")
    assert differ.rates()["tool_jaccard"] == 0.0 and len(differ.disagreements()) == 2
