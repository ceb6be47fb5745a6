"""`opscopilot eval ...`: run the eval cases, compare and report runs, gate on the baseline
(here); watch production drift, replay logged questions into cases, shadow a candidate
configuration and promote or roll it back (`bot.cli.eval_ops`). Mounted by `bot.cli` as
`app.add_typer(eval_app, name="eval")`.

Heavy imports (numpy, sklearn, the router) happen inside commands. Input a person can fix ends
with one line on stderr and exit code 2; a failed gate exits 1.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bot.cli.common import UsageError, err, escape, out, user_errors

if TYPE_CHECKING:
    from infra.settings import Settings

eval_app = typer.Typer(no_args_is_help=True,
                       help="Evaluate the copilot: cases, scores, regression gate, drift.")

TagOpt = Annotated[list[str] | None, typer.Option("--tag", "-t", help="only cases with this tag "
                                                  "(capability, difficulty, fault:KIND, ...)")]
SetOpt = Annotated[list[str] | None, typer.Option(
    "--set", help="candidate setting KEY=VALUE (min_confidence, utterances_fraction, "
                  "utterances, embedder, kb_model)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print one JSON object")]


def _settings() -> Settings:
    from infra.settings import load_settings

    return load_settings()


def _config(name: str, pairs: list[str] | None) -> Any:
    from bot.evaluation.config import EvalConfig

    try:
        return EvalConfig.parse(name, pairs or [])
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _run(settings: Settings, config: Any, tags: list[str], cases: list[str],
         quiet: bool, threads: int | None = None) -> dict[str, Any]:
    from bot.evaluation.cases import CaseError
    from bot.evaluation.suite import run_suite

    def progress(done: int, total: int, result: Any) -> None:
        if not quiet:
            mark = "[green]ok[/green]" if result.passed else "[red]FAIL[/red]"
            err.print(f"[dim]{done}/{total}[/dim] {mark} {escape(result.id)}", highlight=False)

    try:
        return run_suite(settings, config, tags=tags, ids=cases, progress=progress,
                         threads=threads)
    except CaseError as exc:
        raise UsageError(str(exc)) from None


def _print_summary(run: dict[str, Any]) -> None:
    from bot.evaluation.runner import SCORES

    shown = [s for s in SCORES if s != "passed"]
    out.print(f"run {run['id']} · commit {run['git_commit'][:12]} · config "
              f"{run['config_hash']} ({run['config']['name']}) · {run['duration_s']:.0f} s",
              markup=False)
    header = f"{'capability':<14}{'cases':>6}{'passed':>8}" + "".join(
        f"{s[:9]:>10}" for s in shown)
    out.print(header, markup=False)
    summary = run["summary"]
    for scope, row in [("overall", summary["overall"]), *summary["capabilities"].items()]:
        cells = "".join(f"{'-' if row.get(s) is None else format(row[s], '.2f'):>10}"
                        for s in shown)
        out.print(f"{scope:<14}{int(row['cases']):>6}{row['passed']:>8.0%}{cells}", markup=False)
    o = summary["overall"]
    out.print(f"latency p50 {o['p50_ms']:.0f} ms, p95 {o['p95_ms']:.0f} ms", markup=False)


@eval_app.command("run")
def run_cmd(
    tag: TagOpt = None,
    case: Annotated[list[str] | None, typer.Option("--case", help="only this case id")] = None,
    as_json: JsonOpt = False,
    gate: Annotated[bool | None, typer.Option(
        "--gate/--no-gate", help="exit 1 when a score falls below evals/baseline.json "
                                 "(default: on for the whole suite, off with --tag/--case)"
    )] = None,
    update_baseline: Annotated[bool, typer.Option(
        "--update-baseline", help="write the baseline file from this run")] = False,
    baseline_file: Annotated[Path | None, typer.Option(
        "--baseline", help="baseline file (default: evals/baseline.json)")] = None,
    name: Annotated[str, typer.Option(help="a name for the configuration")] = "current",
    set_: SetOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no per-case progress")] = False,
    threads: Annotated[int | None, typer.Option(
        min=1, help="cap torch's threads (1 is steadier on a busy machine)")] = None,
) -> None:
    """Answer and score the eval cases; store the run with what produced it."""
    from bot.evaluation.gate import (
        BASELINE,
        BaselineError,
        check_gate,
        load_baseline,
        make_baseline,
        save_baseline,
    )
    from bot.evaluation.runs import RunStore, run_results

    if gate is None:  # a subset's scores are not comparable with the whole suite's baseline
        gate = not (tag or case)
    with user_errors():
        settings = _settings()
        config = _config(name, set_)
        try:
            baseline = load_baseline(baseline_file or BASELINE) if gate else None
        except BaselineError as exc:
            raise UsageError(str(exc)) from None
        run = _run(settings, config, tag or [], case or [], quiet or as_json, threads)
        path = RunStore.from_settings(settings).save(run)
    verdict = check_gate(run_results(run), baseline) if baseline is not None else None
    if as_json:
        sys.stdout.write(json.dumps({"run": run["id"], "stored": str(path),
                                     "summary": run["summary"],
                                     "gate": verdict.to_dict() if verdict else None,
                                     "failures": {r["id"]: r["failures"] for r in run["results"]
                                                  if r["failures"]}}, indent=1) + "\n")
    else:
        _print_summary(run)
        err.print(f"stored {path}", markup=False)
        if verdict is not None:
            out.print(verdict.text(), markup=False)
    if update_baseline:
        written = save_baseline(make_baseline(run), baseline_file or BASELINE)
        err.print(f"baseline written to {written}", markup=False)
    if verdict is not None and not verdict.ok:
        raise typer.Exit(1)


@eval_app.command("compare")
def compare_cmd(a: Annotated[str, typer.Argument(help="run id, prefix, 'previous' or file")],
                b: Annotated[str, typer.Argument(help="run id, prefix, 'latest' or file")],
                as_json: JsonOpt = False) -> None:
    """Two stored runs side by side: every score, and the cases fixed or broken between them."""
    from bot.evaluation.runs import RunNotFound, RunStore, compare_runs

    with user_errors():
        store = RunStore.from_settings(_settings())
        try:
            ra, rb = store.load(a), store.load(b)
        except RunNotFound as exc:
            raise UsageError(str(exc)) from None
    cmp = compare_runs(ra, rb)
    if as_json:
        sys.stdout.write(json.dumps(cmp.to_dict(), indent=1) + "\n")
        return
    out.print(f"A {ra['id']} ({ra['config']['name']})  vs  B {rb['id']} ({rb['config']['name']})",
              markup=False)
    for scope, score, va, vb in cmp.rows:
        if va is None and vb is None:
            continue
        delta = "" if va is None or vb is None else f"{vb - va:+.3f}"
        fa = "-" if va is None else f"{va:.3f}"
        fb = "-" if vb is None else f"{vb:.3f}"
        out.print(f"{scope:<12} {score:<18} {fa:>9} {fb:>9} {delta:>8}", markup=False)
    out.print(f"broken in B ({len(cmp.broken)}): {', '.join(cmp.broken) or '-'}", markup=False)
    out.print(f"fixed in B ({len(cmp.fixed)}): {', '.join(cmp.fixed) or '-'}", markup=False)


@eval_app.command("report")
def report_cmd(
    output: Annotated[Path, typer.Option("--output", "-o", help="HTML file to write")] = Path(
        "eval-report.html"),
    last: Annotated[int, typer.Option(help="how many recent runs to chart")] = 20,
) -> None:
    """Write a self-contained HTML report: scores per capability, trends, worst cases."""
    from bot.evaluation.report import render_report
    from bot.evaluation.runs import RunStore

    with user_errors():
        runs = RunStore.from_settings(_settings()).all(last)
        if not runs:
            raise UsageError("no stored eval runs: run `opscopilot eval run` first")
        if not output.parent.exists():
            raise UsageError(f"--output {output}: folder {output.parent} does not exist")
        tmp = output.with_name(f".{output.name}.tmp")
        tmp.write_text(render_report(runs), encoding="utf-8")
        tmp.replace(output)
    err.print(f"wrote {output} ({len(runs)} runs)", markup=False)


@eval_app.command("table")
def table_cmd(run: Annotated[str, typer.Argument(help="run id, prefix or file")] = "latest"
              ) -> None:
    """Print a stored run's per-capability scores as a Markdown table (for the README)."""
    from bot.evaluation.report import markdown_table
    from bot.evaluation.runs import RunNotFound, RunStore

    with user_errors():
        try:
            data = RunStore.from_settings(_settings()).load(run)
        except RunNotFound as exc:
            raise UsageError(str(exc)) from None
    sys.stdout.write(markdown_table(data) + "\n")
