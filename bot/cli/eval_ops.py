"""`opscopilot eval drift|replay|shadow|promote|rollback`: the production side of the eval
harness (answer-log drift, replay into cases, shadow runs and the champion configuration).
Registered on `bot.cli.eval.eval_app` by `register`."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from bot.cli.common import UsageError, err, out, user_errors
from bot.cli.eval import JsonOpt, SetOpt, TagOpt, _config, _run, _settings


def drift_cmd(
    recent_days: Annotated[float, typer.Option("--recent-days", min=0.01)] = 7.0,
    baseline_days: Annotated[float, typer.Option("--baseline-days", min=0.01)] = 28.0,
    no_embeddings: Annotated[bool, typer.Option("--no-embeddings",
                                                help="skip the question-embedding test")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Compare recent logged answers with the window before: exit 1 when something drifted."""
    from bot.answer_log import AnswerLog
    from bot.evaluation.drift import drift_alert, monitor, report_text

    with user_errors():
        settings = _settings()
        embed = None
        if not no_embeddings:
            from knowledge.embeddings import shared_embedder

            embed = shared_embedder().embed
        report = monitor(AnswerLog.from_settings(settings), datetime.now(UTC).timestamp(),
                         embed, recent_days, baseline_days)
    alert = drift_alert(report)
    if as_json:
        sys.stdout.write(json.dumps(report.to_dict() | {"alert": alert}, indent=1) + "\n")
    else:
        out.print(report_text(report), markup=False)
        if alert:
            out.print(alert["text"], markup=False)
    if alert:
        raise typer.Exit(1)


def replay_cmd(
    days: Annotated[float, typer.Option("--days", min=0.01, help="how far back")] = 7.0,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 20,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="case folder")] = None,
) -> None:
    """Turn recent logged questions (redacted) into draft case folders to review."""
    from bot.answer_log import AnswerLog
    from bot.evaluation.cases import CASES_DIR
    from bot.evaluation.replay import replay

    with user_errors():
        settings = _settings()
        now = datetime.now(UTC).timestamp()
        entries = AnswerLog.from_settings(settings).entries(now - days * 86400)
        folder = output or CASES_DIR
        if not folder.is_dir():
            raise UsageError(f"--output {folder}: no such folder")
        written = replay(entries, settings.sandbox.scenario, folder, limit)
    for path in written:
        out.print(str(path), markup=False)
    err.print(f"{len(written)} draft cases from {len(entries)} logged answers; review them and "
              "remove `draft: true` to include them", markup=False)


def shadow_cmd(
    name: Annotated[str, typer.Option(help="a name for the candidate configuration")],
    set_: SetOpt = None,
    tag: TagOpt = None,
    from_log_days: Annotated[float | None, typer.Option(
        "--from-log-days", min=0.01,
        help="instead of the cases: re-ask the questions logged in the last N days")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run a candidate configuration beside the champion on the same questions and compare:
    the eval cases (scored and gated), or recent live questions from the answer log."""
    from bot.evaluation.gate import check_gate
    from bot.evaluation.runs import RunStore, compare_runs, run_results
    from bot.evaluation.shadow import ConfigRegistry, shadow_results

    with user_errors():
        settings = _settings()
        registry = ConfigRegistry.from_settings(settings)
        candidate = _config(name, set_)
        champion = registry.champion()
        if from_log_days is not None:
            _shadow_live(settings, champion, candidate, from_log_days, as_json)
            registry.register(candidate)
            registry.set_alias("challenger", candidate.name)
            return
        store = RunStore.from_settings(settings)
        runs = [_run(settings, c, tag or [], [], True) for c in (champion, candidate)]
        for run in runs:
            store.save(run)
        registry.register(candidate)
        registry.set_alias("challenger", candidate.name)
    cur, cand = runs
    agreement = shadow_results(run_results(cur), run_results(cand))
    verdict = check_gate(run_results(cand), cur | {"tolerance": {}})
    if as_json:
        sys.stdout.write(json.dumps({"champion_run": cur["id"], "candidate_run": cand["id"],
                                     "agreement": agreement.to_dict(),
                                     "gate_vs_champion": verdict.to_dict()}, indent=1) + "\n")
        return
    rates = agreement.rates()
    out.print(f"champion {champion.name} run {cur['id']} · candidate {name} run {cand['id']}",
              markup=False)
    out.print("agreement: " + ", ".join(f"{k} {v:.2f}" for k, v in rates.items()
                                         if v is not None and k != "questions"), markup=False)
    for row in compare_runs(cur, cand).rows[:14]:
        if row[2] is not None and row[3] is not None:
            out.print(f"  {row[1]:<18} {row[2]:.3f} -> {row[3]:.3f}", markup=False)
    out.print(verdict.text().replace("baseline", "champion"), markup=False)
    out.print(f"promote with: opscopilot eval promote {name}" if verdict.ok
              else "the candidate is worse than the champion: do not promote", markup=False)


def _shadow_live(settings: Any, champion: Any, candidate: Any, days: float,
                 as_json: bool) -> None:
    from bot.answer_log import AnswerLog
    from bot.evaluation.config import Harness
    from bot.evaluation.shadow import shadow_logged

    since = datetime.now(UTC).timestamp() - days * 86400
    entries = AnswerLog.from_settings(settings).entries(since)
    if not entries:
        raise UsageError(f"no answers logged in the last {days:g} days to shadow")
    report = shadow_logged(entries, Harness(settings, champion), Harness(settings, candidate),
                           settings.sandbox.scenario)
    if as_json:
        sys.stdout.write(json.dumps(report.to_dict(), indent=1) + "\n")
        return
    rates = report.rates()
    out.print(f"{len(entries)} logged questions re-asked under {champion.name} and "
              f"{candidate.name}: " + ", ".join(f"{k} {v:.2f}" for k, v in rates.items()
                                               if v is not None and k != "questions"), markup=False)
    for d in report.disagreements()[:10]:
        out.print(f"  {d.question!r}: {d.current_intent} -> {d.candidate_intent}, tools "
                  f"overlap {d.tool_jaccard:.2f}", markup=False)


def promote_cmd(name: Annotated[str, typer.Argument(help="a registered configuration")],
                reason: Annotated[str, typer.Option(help="why")] = "",
                actor: Annotated[str, typer.Option(help="who")] = "cli") -> None:
    """Make a configuration the champion; recorded in the registry's history."""
    from bot.evaluation.shadow import ConfigRegistry

    with user_errors():
        registry = ConfigRegistry.from_settings(_settings())
        try:
            event = registry.promote(name, actor, reason)
        except LookupError as exc:
            raise UsageError(str(exc)) from None
    out.print(f"champion: {event['from']} -> {event['to']} (recorded at {event['at']})",
              markup=False)


def rollback_cmd(reason: Annotated[str, typer.Option(help="why")] = "",
                 actor: Annotated[str, typer.Option(help="who")] = "cli") -> None:
    """Put the champion back to what it was before the last promotion."""
    from bot.evaluation.shadow import ConfigRegistry

    with user_errors():
        registry = ConfigRegistry.from_settings(_settings())
        try:
            event = registry.rollback(actor, reason)
        except LookupError as exc:
            raise UsageError(str(exc)) from None
    out.print(f"champion: {event['from']} -> {event['to']} (recorded at {event['at']})",
              markup=False)


def register(app: typer.Typer) -> None:
    app.command("drift")(drift_cmd)
    app.command("replay")(replay_cmd)
    app.command("shadow")(shadow_cmd)
    app.command("promote")(promote_cmd)
    app.command("rollback")(rollback_cmd)
