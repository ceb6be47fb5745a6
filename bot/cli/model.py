"""`opscopilot model shadow-report|refit|refit-loop`: the live side of the model lifecycle.

`shadow-report` reads what the running copilot recorded while the shadow version judged the
same series as the current one (tools/anomaly/shadow.py); `refit` and `refit-loop` save a new
version as the shadow when the training data changed (tools/anomaly/refit.py), each outcome in
the audit log. Registered on `model_app` of `bot.cli.anomaly` when `bot.cli.main` imports it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bot.cli.anomaly import NameArg, _known, _model_errors, model_app
from bot.cli.common import UsageError, out, user_errors

if TYPE_CHECKING:
    from infra.settings import Settings
    from tools.anomaly.models import TrainingData

ScenarioOpt = Annotated[str, typer.Option(
    "--scenario", "-s", help="sandbox scenario (name or YAML path) to train on")]
WindowOpt = Annotated[str | None, typer.Option(
    "--window", help="train on the last part of it only, e.g. 12h (default: all of it)")]


def _source(scenario: str, window: str | None) -> Callable[[], TrainingData]:
    from tools.anomaly.models import sandbox_training
    from tools.anomaly.refit import parse_duration

    window_s = parse_duration(window) if window else None
    return lambda: sandbox_training(scenario, window_s)


def _settings() -> Settings:
    from infra.settings import load_settings

    return load_settings()


@model_app.command("shadow-report")
def model_shadow_report(
    name: NameArg,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    limit: Annotated[int, typer.Option(help="disagreements to list (newest)")] = 20,
) -> None:
    """What the live shadow saw beside the current version: read it before `model promote`."""
    with user_errors(), _model_errors():
        _known(name)
        from infra.state import state_engine
        from tools.anomaly.registry import ModelError, ModelRegistry
        from tools.anomaly.shadow import ShadowStore, shadow_report

        settings = _settings()
        registry = ModelRegistry.under(settings.resolved_data_dir())
        aliases = registry.aliases(name)
        if aliases["shadow"] is None:
            raise UsageError(f"model {name} has no shadow version: `opscopilot model refit "
                             f"{name}` or `model fit {name}` saves one")
        rows = ShadowStore(state_engine(settings)).rows(name, shadow=aliases["shadow"])
        report = shadow_report(rows, aliases["current"], aliases["shadow"], limit)
        try:
            registry.resolve(name, "shadow")
            report["loadable"] = True
        except ModelError as exc:
            report["loadable"], report["load_error"] = False, str(exc)
        if as_json:
            sys.stdout.write(json.dumps(report, indent=2) + "\n")
            return
        _print_report(report)


def _print_report(r: dict[str, Any]) -> None:
    out.print(f"shadow {r['shadow']} beside current {r['current']}: {r['comparisons']} series "
              f"compared live ({r['shadow_errors']} shadow errors)", markup=False)
    if not r["loadable"]:
        out.print(f"  the shadow does not load: {r['load_error']}", markup=False)
    if r["last_error"]:
        out.print(f"  last shadow error: {r['last_error']}", markup=False)
    if not r["judged"]:
        out.print("  nothing judged yet: ask the running copilot about a faulty service")
        return
    out.print(f"  agreement {r['agreement']:.1%} (same flag and onset within 2 samples), "
              f"flag agreement {r['flag_agreement']:.1%}", markup=False)
    out.print(f"  time per series: current {r['median_current_ms']} ms, shadow "
              f"{r['median_shadow_ms']} ms median (p95 {r['p95_shadow_ms']} ms), shadow minus "
              f"current {r['median_extra_ms']} ms; the shadow runs off the answer's path",
              markup=False)
    out.print(f"  {r['disagreement_count']} disagreements"
              + (" (newest last):" if r["disagreements"] else ""), markup=False)
    for d in r["disagreements"]:
        cur, sha = d["current"], d["shadow"]
        out.print(f"    {d['recorded']} {d['service']} {d['metric']} ({d['direction']}, window "
                  f"{_t(d['window'][0])}-{_t(d['window'][1])}): current "
                  f"{_judged(cur)}, shadow {_judged(sha)}", markup=False)


def _t(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M")


def _judged(j: dict[str, Any]) -> str:
    if not j["flagged"]:
        return f"no anomaly (max score {j['max_score']})"
    return f"anomaly since {_t(j['onset'])} (max score {j['max_score']})"


@model_app.command("refit")
def model_refit(
    name: NameArg, scenario: ScenarioOpt = "quiet", window: WindowOpt = None,
    evaluate: Annotated[bool, typer.Option(
        help="score the new version on the sandbox fault suite (tuning seeds, ~30 s)")] = True,
) -> None:
    """Fit a new shadow version now, unless the training data are unchanged or too short."""
    with user_errors(), _model_errors():
        _known(name)
        from infra.audit import AuditLog
        from tools.anomaly.refit import RefitJob
        from tools.anomaly.registry import ModelRegistry

        settings = _settings()
        job = RefitJob(ModelRegistry.under(settings.resolved_data_dir()),
                       _source(scenario, window), 86400, AuditLog.from_settings(settings),
                       evaluate=evaluate)
        outcome = job.refit()
        if outcome.action == "failed":
            raise UsageError(f"refit of {name} failed: {outcome.reason}")
        out.print(f"{name}: {outcome.action}: {outcome.reason}", markup=False)


@model_app.command("refit-loop")
def model_refit_loop(
    name: NameArg, scenario: ScenarioOpt = "quiet", window: WindowOpt = None,
    every: Annotated[str, typer.Option(help="refit period, e.g. 24h (each UTC day)")] = "24h",
    check_every: Annotated[float, typer.Option(help="seconds between clock checks")] = 30.0,
    evaluate: Annotated[bool, typer.Option(help="score each new version on the suite")] = True,
) -> None:
    """Refit once per period into the shadow (never promotes); runs until interrupted."""
    with user_errors(), _model_errors():
        _known(name)
        from infra.audit import AuditLog
        from infra.claims import Claims
        from tools.anomaly.refit import RefitJob, parse_duration
        from tools.anomaly.registry import ModelRegistry

        settings = _settings()
        every_s = parse_duration(every)
        if check_every <= 0:
            raise UsageError("--check-every must be a positive number of seconds")
        source = _source(scenario, window)
        job = RefitJob(ModelRegistry.under(settings.resolved_data_dir()), source, every_s,
                       AuditLog.from_settings(settings), Claims(settings).claim,
                       evaluate=evaluate)
        out.print(f"{name}: refitting every {every} (periods claimed once across replicas); "
                  "Ctrl-C stops", markup=False)
        try:
            job.run(check_every)
        except KeyboardInterrupt:
            out.print("stopped")
