"""Model lifecycle, live: the shadow version judges the series the running copilot's metric tools
score, off the answer's path, into the state DB (`model shadow-report` reads it); a broken shadow
never breaks an answer; the scheduled refit saves a new shadow once per period, never when the
training data are unchanged or too short, and audits what it did."""

from __future__ import annotations

import dataclasses
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.answer import Question
from bot.app import build_runtime
from bot.cli import app
from infra.audit import AuditLog
from infra.state import state_engine
from tools.anomaly.models import MODEL_NAME, sandbox_training
from tools.anomaly.refit import RefitJob, parse_duration
from tools.anomaly.registry import ModelError, ModelRegistry
from tools.anomaly.robust import RobustConfig
from tools.anomaly.shadow import ShadowComparisonRow, ShadowStore
from tools.metrics import QueryMetrics

SCENARIO = "bad-deploy-checkout"
QUESTION = "error rate of checkout over the last hour"  # query_metrics: an anomalous series


def _save(registry: ModelRegistry, config: dict) -> str:
    return registry.save(MODEL_NAME, {"config.json": json.dumps(config).encode()},
                         {"scenario": "test"}, {}, {}).version


def _fitted(z: float) -> dict:
    return dataclasses.replace(RobustConfig(), z_threshold=z).to_dict()


@pytest.fixture
def live(tmp_path, settings, runtime_for):
    """(settings over tmp_path, registry, ask(question) -> (answer, runtime))."""
    local = settings.model_copy(update={"data_dir": tmp_path, "database_url": ""})
    router = runtime_for(SCENARIO).copilot.router

    def ask(text: str = QUESTION):
        runtime = build_runtime(local, SCENARIO, router=router)
        answer = runtime.copilot.answer(Question(text, runtime.default_now()))
        shadow = _shadow(runtime)
        if shadow is not None:
            assert shadow.flush(30)
        return answer, runtime

    return local, ModelRegistry.under(tmp_path), ask


def _shadow(runtime):
    tool = runtime.copilot.registry.get("query_metrics")
    assert isinstance(tool, QueryMetrics)
    return tool.shadow


def _report(monkeypatch, data_dir: Path) -> dict:
    monkeypatch.setenv("OPSCOPILOT_DATA_DIR", str(data_dir))
    result = CliRunner().invoke(app, ["model", "shadow-report", MODEL_NAME, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_the_live_shadow_judges_what_the_copilot_scores(live, monkeypatch):
    local, registry, ask = live
    _save(registry, _fitted(6.0))
    baseline, _ = ask()  # current only: no shadow runs
    assert ShadowStore(state_engine(local)).rows(MODEL_NAME) == []
    _save(registry, _fitted(6.0))  # v2, the shadow, same parameters: must agree everywhere
    answer, runtime = ask()
    tools = runtime.copilot.registry
    assert tools.get("query_metrics").shadow is tools.get("detect_metric_anomalies").shadow
    assert answer.summary == baseline.summary  # the shadow changes nothing in the answer
    rows = ShadowStore(state_engine(local)).rows(MODEL_NAME, "v1", "v2")
    assert [(r.service, r.metric, r.direction) for r in rows] == [("checkout", "error_rate", "up")]
    row = rows[0]
    assert row.current_flagged and row.shadow_flagged and row.error is None
    assert row.current_onset == row.shadow_onset and row.current_onset is not None
    assert row.current_ms > 0 and row.shadow_ms > 0 and 0.5 <= row.shadow_max <= 1.0
    report = _report(monkeypatch, local.data_dir)
    assert report["current"] == "v1" and report["shadow"] == "v2" and report["loadable"]
    assert report["comparisons"] == 1 and report["agreement"] == 1.0
    assert report["median_shadow_ms"] > 0 and report["disagreements"] == []


def test_a_disagreeing_shadow_is_listed_in_the_report(live, monkeypatch):
    local, registry, ask = live
    _save(registry, _fitted(6.0))
    _save(registry, _fitted(500.0))  # a shadow that would miss the change
    answer, _ = ask()
    assert "checkout" in answer.summary
    report = _report(monkeypatch, local.data_dir)
    assert report["judged"] == 1 and report["agreement"] == 0.0
    (gone,) = report["disagreements"]
    assert (gone["service"], gone["metric"]) == ("checkout", "error_rate")
    assert gone["current"]["flagged"] and not gone["shadow"]["flagged"]
    monkeypatch.setenv("OPSCOPILOT_DATA_DIR", str(local.data_dir))
    text = CliRunner().invoke(app, ["model", "shadow-report", MODEL_NAME]).output
    assert "agreement 0.0%" in text and "checkout error_rate" in text and "no anomaly" in text


def test_a_broken_shadow_never_breaks_the_answer(live, monkeypatch):
    local, registry, ask = live
    _save(registry, _fitted(6.0))
    baseline, _ = ask()
    _save(registry, {**_fitted(6.0), "z_threshold": "high"})  # loads, raises when scoring
    answer, runtime = ask()
    assert answer.summary == baseline.summary
    shadow = _shadow(runtime)
    assert shadow is not None and shadow.failures == 1
    report = _report(monkeypatch, local.data_dir)
    assert report["shadow_errors"] == 1 and report["judged"] == 0
    assert "TypeError" in report["last_error"]
    # tampered files: the shadow is not loaded at all, the report says why
    (local.data_dir / "models" / MODEL_NAME / "v2" / "config.json").write_text("{}")
    answer, runtime = ask()
    assert answer.summary == baseline.summary
    assert _shadow(runtime) is None
    report = _report(monkeypatch, local.data_dir)
    assert not report["loadable"] and "sha256" in report["load_error"]


def test_the_comparisons_table_stays_bounded(settings, tmp_path):
    engine = state_engine(settings.model_copy(update={"data_dir": tmp_path}))
    store = ShadowStore(engine, max_rows=5)
    for i in range(8):
        store.append([ShadowComparisonRow(
            model="m", recorded="t", current_version="v1", shadow_version="v2", tool="x",
            service=f"s{i}", metric="cpu", window_start=0, window_end=1, direction="up",
            step_s=15.0)])
    assert [r.service for r in store.rows("m")] == ["s3", "s4", "s5", "s6", "s7"]


def test_the_shadow_table_exists_before_the_first_answer(settings, tmp_path):
    """Created when the recorder is built, so the worker thread never races the answer's own
    first table creation in a new database (that lost comparisons once)."""
    from sqlalchemy import inspect

    from tools.anomaly.models import shadow_recorder

    local = settings.model_copy(update={"data_dir": tmp_path, "database_url": ""})
    registry = ModelRegistry.under(tmp_path)
    _save(registry, _fitted(6.0))
    _save(registry, _fitted(7.0))
    engine = state_engine(local)
    recorder = shadow_recorder(registry, RobustConfig(), lambda: engine)
    assert recorder is not None and recorder.shadow.z_threshold == 7.0
    assert (recorder.current_version, recorder.shadow_version) == ("v1", "v2")
    assert inspect(engine).has_table("model_shadow_comparisons")
    assert shadow_recorder(registry, None, lambda: engine).current_version == "builtin"


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _scenario(tmp_path: Path, seed: int) -> Path:
    """A copy of the quiet scenario whose seed (so its data) we can change."""
    from tools.sandbox import scenario as scenarios

    src = Path(scenarios.__file__).parent / "scenarios" / "quiet.yaml"
    path = tmp_path / "training.yaml"
    if not path.exists():
        shutil.copy(src, path)
    text = path.read_text()
    path.write_text("\n".join(f"seed: {seed}" if line.startswith("seed:") else line
                              for line in text.splitlines()) + "\n")
    return path


def test_the_scheduled_refit_saves_a_shadow_once_per_period(settings, tmp_path):
    local = settings.model_copy(update={"data_dir": tmp_path, "database_url": ""})
    registry = ModelRegistry.under(tmp_path)
    audit = AuditLog.from_settings(local)
    path = _scenario(tmp_path, seed=3)
    window = parse_duration("5h")

    def source():
        return sandbox_training(str(path), window)

    clock = FakeClock(datetime(2026, 11, 20, 3, 0, tzinfo=UTC))
    job = RefitJob(registry, source, parse_duration("24h"), audit, clock=clock, evaluate=False)
    first = job.tick()
    assert first is not None and first.action == "skipped" and "no current" in first.reason
    _save(registry, _fitted(6.0))  # v1 current, fitted elsewhere
    clock.now += timedelta(days=1)
    saved = job.tick()
    assert saved is not None and saved.action == "saved", saved
    assert registry.aliases(MODEL_NAME) == {"current": "v1", "shadow": "v2", "history": []}
    manifest = registry.manifest(MODEL_NAME, "v2")
    assert manifest.training["fingerprint"].startswith("sha256:")
    assert manifest.training["end"] - manifest.training["start"] == window
    clock.now += timedelta(hours=6)
    assert job.tick() is None  # same period: nothing to do
    clock.now += timedelta(days=1)
    same = job.tick()
    assert same is not None and same.action == "skipped" and "unchanged since v2" in same.reason
    _scenario(tmp_path, seed=4)  # new data
    clock.now += timedelta(days=1)
    again = job.tick()
    assert again is not None and again.action == "saved" and again.version == "v3"
    assert registry.aliases(MODEL_NAME)["current"] == "v1"  # never promoted by itself
    actions = [e.action for e in audit.entries(subject=MODEL_NAME)]
    assert actions == ["model.refit.skipped", "model.refit.saved", "model.refit.skipped",
                       "model.refit.saved"]
    assert audit.entries(subject=MODEL_NAME)[-1].details["replaced_shadow"] == "v2"


def test_refit_skips_short_data_and_claims_each_period_once(settings, tmp_path):
    local = settings.model_copy(update={"data_dir": tmp_path, "database_url": ""})
    registry = ModelRegistry.under(tmp_path)
    _save(registry, _fitted(6.0))
    claimed: set[str] = set()

    def claim(key: str) -> bool:  # what infra.claims.Claims does across replicas
        if key in claimed:
            return False
        claimed.add(key)
        return True

    clock = FakeClock(datetime(2026, 11, 20, 3, 0, tzinfo=UTC))
    short = RefitJob(registry, lambda: sandbox_training("quiet", 2 * 3600), 3600,
                     AuditLog.from_settings(local), claim, clock, evaluate=False)
    outcome = short.tick()
    assert outcome is not None and "too short" in outcome.reason
    replica = RefitJob(registry, lambda: sandbox_training("quiet", 2 * 3600), 3600, None,
                       claim, clock, evaluate=False)
    assert replica.tick() is None  # the other replica had this hour
    assert registry.versions(MODEL_NAME) == ["v1"]
    with pytest.raises(ModelError, match="e.g. 90s"):
        parse_duration("daily")


def test_refit_cli_and_bad_input(tmp_path, monkeypatch):
    monkeypatch.setenv("OPSCOPILOT_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    none = runner.invoke(app, ["model", "refit", MODEL_NAME, "--window", "2h", "--no-evaluate"])
    assert none.exit_code == 0 and "no current version" in none.output
    bad = runner.invoke(app, ["model", "refit-loop", MODEL_NAME, "--every", "soon"])
    assert bad.exit_code == 2 and "e.g. 90s" in bad.output
    no_shadow = runner.invoke(app, ["model", "shadow-report", MODEL_NAME])
    assert no_shadow.exit_code == 2 and "no shadow version" in no_shadow.output
    registry = ModelRegistry.under(tmp_path)
    _save(registry, _fitted(6.0))
    _save(registry, _fitted(7.0))
    assert runner.invoke(app, ["model", "promote", MODEL_NAME]).exit_code == 0
    assert runner.invoke(app, ["model", "rollback", MODEL_NAME]).exit_code == 0
    from infra.settings import load_settings

    entries = AuditLog.from_settings(load_settings()).entries(subject=MODEL_NAME)
    assert [(e.action, e.details.get("current")) for e in entries] == [
        ("model.refit.skipped", None), ("model.promote", "v2"), ("model.rollback", "v1")]
