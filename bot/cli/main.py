"""The `opscopilot` command: ask, chat, demo, and the sandbox.

Heavy libraries (numpy, sentence-transformers) are imported inside commands so `--help` and
usage errors stay fast. Input a person can fix (a bad question, time, scenario or setting) ends
with one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from bot.cli import model as _model_commands  # noqa: F401  (`model shadow-report`, `refit`, ...)
from bot.cli.alerts import mount as mount_alerts_cli
from bot.cli.anomaly import mount_anomaly_cli
from bot.cli.common import UsageError, err, escape, load_cli_settings, out, user_errors
from bot.cli.eval import eval_app
from bot.cli.eval_ops import register as register_eval_ops
from bot.cli.events import events_app
from bot.cli.kb import kb_app
from bot.cli.mcp import mount as mount_mcp_cli
from bot.cli.rca import rca
from bot.cli.runbook import mount as mount_runbook_cli
from bot.cli.slack import mount as mount_slack_cli
from bot.cli.status import status

if TYPE_CHECKING:
    from bot.app import Runtime
    from infra.settings import Settings

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="opscopilot: an operations copilot for on-call teams.")
sandbox_app = typer.Typer(no_args_is_help=True, help="The simulated shop the copilot can work on.")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(kb_app, name="kb")
mount_anomaly_cli(app)  # `anomaly ...`, `logs ...`, `model ...`
mount_runbook_cli(app)  # `runbook ...` and `audit ...`
mount_slack_cli(app)  # `serve`, `incident ...`, `summary`, `oncall`
mount_mcp_cli(app)  # `mcp`: the MCP server (bot/mcp, docs/mcp.md)
mount_alerts_cli(app)  # `alerts investigate`, `alerts serve` (bot/alerting, docs/slack.md)
app.command("rca")(rca)
app.command("status")(status)
register_eval_ops(eval_app)  # `eval drift`, `replay`, `shadow`, `promote`, `rollback`
app.add_typer(eval_app, name="eval")
app.add_typer(events_app, name="events")

ScenarioOpt = Annotated[str | None, typer.Option(
    "--scenario", "-s", help="sandbox scenario name or YAML file (default: settings)")]
ModeOpt = Annotated[str | None, typer.Option(
    "--mode", help="deterministic or llm (default: OPSCOPILOT_MODE; llm needs OPSCOPILOT_LLM__*)")]
AtOpt = Annotated[str | None, typer.Option(
    "--at", help="when the question is asked: HH:MM (scenario day), ISO time or unix seconds; "
                 "default: the scenario's now, a few minutes into its incident")]


def _settings() -> Settings:
    return load_cli_settings()


def _runtime(settings: Settings, scenario: str | None, mode: str | None = None) -> Runtime:
    from bot.app import apply_mode, build_runtime

    runtime = build_runtime(settings, scenario)
    if mode or settings.mode == "llm":  # LLM mode: bot/llm, docs/llm.md
        from bot.llm.progress import terminal_progress

        apply_mode(runtime, settings, mode, progress=terminal_progress(err))
    return runtime


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="the question, in plain words")],
    scenario: ScenarioOpt = None,
    at: AtOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    mode: ModeOpt = None,
) -> None:
    """Answer one question and exit."""
    from bot.answer import EmptyQuestion, Question
    from bot.answer_log import log_answer

    with user_errors():
        if not question.strip():
            raise EmptyQuestion("the question is empty: ask something, e.g. "
                                "'what is wrong with checkout?'")
        settings = _settings()
        runtime = _runtime(settings, scenario, mode)
        when = runtime.asked_at(at)
        asked = Question(question, when)
        answer = runtime.copilot.answer(asked)
        log_answer(settings, asked, answer, source="cli", context=scenario)
    if as_json:
        sys.stdout.write(json.dumps(answer.to_json(), indent=2) + "\n")
    else:
        from bot.render import render_answer

        render_answer(answer, out)


@app.command()
def chat(scenario: ScenarioOpt = None, at: AtOpt = None, mode: ModeOpt = None) -> None:
    """An interactive session: the model stays loaded, follow-ups keep the thread's context.

    Lines starting with / are commands: /at TIME, /json, /quit.
    """
    from bot.answer import BadTimeWindow, Question, QuestionError
    from bot.answer_log import log_answer
    from bot.copilot import Conversation
    from bot.render import render_answer

    with user_errors():
        settings = _settings()
        runtime = _runtime(settings, scenario, mode)
        when = runtime.asked_at(at)
        runtime.warm()
    conversation = Conversation()
    as_json = False
    interactive = sys.stdin.isatty()
    if interactive:
        out.print(f"[bold]opscopilot[/bold] · it is {when:%Y-%m-%d %H:%M} UTC in the sandbox · "
                  "'help' for examples, /quit to leave")
    while True:
        try:
            line = out.input("[bold cyan]you>[/bold cyan] ") if interactive else input()
        except EOFError:
            break
        line = line.strip()
        if not line:
            continue
        if line in ("/quit", "/exit", "/q"):
            break
        if line == "/json":
            as_json = not as_json
            continue
        if line.startswith("/at"):
            try:
                when = runtime.asked_at(line[3:].strip() or None, when, name="/at")
                out.print(f"[dim]now {when:%Y-%m-%d %H:%M} UTC[/dim]")
            except BadTimeWindow as exc:
                err.print(f"[red]error:[/red] {escape(str(exc))}")
            continue
        try:
            asked = Question(line, when, thread="chat")
            answer = runtime.copilot.answer(asked, conversation)
        except QuestionError as exc:
            err.print(f"[red]error:[/red] {escape(str(exc))}")
            continue
        log_answer(settings, asked, answer, source="cli-chat", context=scenario)
        if as_json:
            out.print_json(json.dumps(answer.to_json()))
        else:
            render_answer(answer, out)
        if interactive:
            out.print()


DEMO_SCRIPT = (
    "is anything broken right now?",
    "what is wrong with checkout?",
    "show me its error logs",
    "what changed in the last 3 hours?",
    "which alerts are firing?",
    "p99 latency of frontend over the last hour",
    "have we seen this before?",
    "what's the weather like in Paris?",
)


@app.command()
def demo(
    scenario: ScenarioOpt = None,
    pause: Annotated[float, typer.Option(help="seconds to wait between questions")] = 0.0,
) -> None:
    """Walk through an incident in the sandbox with a scripted conversation."""
    import time

    from bot.answer import Question
    from bot.copilot import Conversation
    from bot.render import render_answer
    from tools.formatting import fmt_time

    with user_errors():
        settings = _settings()
        out.print("[dim]Loading the sandbox and the embedding model...[/dim]")
        runtime = _runtime(settings, scenario or "bad-deploy-checkout")
        if runtime.kb is not None and runtime.kb.is_empty():
            from knowledge.corpus import demo_documents

            out.print("[dim]Seeding the knowledge base with the shop's incident history and "
                      "runbooks (once)...[/dim]")
            runtime.kb.ingest(demo_documents())
    sb = runtime.sandbox
    assert sb is not None
    when = runtime.default_now()
    out.rule(f"[bold]Scenario {sb.scenario.name}[/bold]")
    out.print(f"{escape(sb.scenario.description.strip())}\nIt is {when:%Y-%m-%d %H:%M} UTC. "
              "You are on call.\n")
    conversation = Conversation()
    for text in DEMO_SCRIPT:
        out.rule(style="dim")
        out.print(f"[bold cyan]you>[/bold cyan] {text}")
        answer = runtime.copilot.answer(Question(text, when, thread="demo"), conversation)
        render_answer(answer, out)
        time.sleep(pause)
    out.rule("[bold]What really happened[/bold]")
    for gt in sb.ground_truth:
        out.print(f"The sandbox injected [bold]{gt.kind}[/bold] on [bold]{gt.service}[/bold] "
                  f"from {fmt_time(gt.start)} to {fmt_time(gt.end)}.")
    if not sb.ground_truth:
        out.print("Nothing: this scenario has no fault.")


def _write_atomically(path: Path, write: Callable[[TextIO], None]) -> None:
    """Write to a temporary file beside `path` and rename it: never a half-written file."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            write(fh)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


@sandbox_app.command("list")
def sandbox_list(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """List the shipped scenarios and their faults."""
    from tools.sandbox.export import scenario_index

    with user_errors():
        index = scenario_index()
    if as_json:
        sys.stdout.write(json.dumps(index, indent=2) + "\n")
        return
    from tools.formatting import fmt_datetime

    for item in index:
        faults = "; ".join(f"{f['kind']} on {f['service']} at {fmt_datetime(f['start'])}"
                           for f in item["faults"]) or "no fault"
        out.print(f"[bold]{escape(item['name'])}[/bold]: {escape(faults)}")


@sandbox_app.command("show")
def sandbox_show(
    name: Annotated[str, typer.Argument(help="scenario name or YAML file")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Show a scenario: its services, faults, default now and ground truth."""
    from tools.formatting import fmt_datetime
    from tools.sandbox.simulator import load_sandbox

    with user_errors():
        sb = load_sandbox(name)
    services = {s: list(sb.topology.dependencies(s)) for s in sb.topology.names()}
    info = {
        "name": sb.scenario.name,
        "description": sb.scenario.description,
        "start": sb.start, "end": sb.end, "step": sb.step, "now": sb.now,
        "services": services,
        "ground_truth": [
            {"service": g.service, "kind": g.kind, "start": g.start, "end": g.end,
             "affected": [{"service": a.service, "metric": a.metric, "baseline": a.baseline,
                           "observed": a.observed} for a in g.affected]}
            for g in sb.ground_truth
        ],
    }
    if as_json:
        sys.stdout.write(json.dumps(info, indent=2) + "\n")
        return
    out.print(f"[bold]{escape(sb.scenario.name)}[/bold]: "
              f"{escape(sb.scenario.description.strip())}")
    out.print(f"data {fmt_datetime(sb.start)} to {fmt_datetime(sb.end)} every {sb.step} s; "
              f"default now {fmt_datetime(sb.now)}")
    for s, deps in services.items():
        out.print(f"  {s} -> {', '.join(deps) or '(no dependencies)'}")
    for g in sb.ground_truth:
        out.print(f"fault {g.kind} on {g.service}, {fmt_datetime(g.start)} to "
                  f"{fmt_datetime(g.end)}")
        for a in g.affected:
            out.print(f"  {a.service} {a.metric}: {a.baseline:.4g} -> {a.observed:.4g}")


@sandbox_app.command("export")
def sandbox_export(
    name: Annotated[str, typer.Argument(help="scenario name or YAML file")],
    output: Annotated[Path, typer.Option("--output", "-o", help="file to write")],
    fmt: Annotated[str, typer.Option(
        "--format", help="openmetrics, csv, rca (for `rca`), series (for `anomaly score`: "
        "needs --service and --metric) or logs (for `logs templates`)")] = "openmetrics",
    service: Annotated[str | None, typer.Option(help="series and logs: the service")] = None,
    metric: Annotated[str | None, typer.Option(help="series: the metric")] = None,
) -> None:
    """Write a scenario's data in the formats Prometheus and the offline commands read."""
    from tools.sandbox import export
    from tools.sandbox.errors import UnknownSeries
    from tools.sandbox.simulator import load_sandbox

    formats = ("openmetrics", "csv", "rca", "series", "logs")
    with user_errors():
        if fmt not in formats:
            raise UsageError(f"--format {fmt!r}: choose {', '.join(formats)}")
        if fmt == "series" and not (service and metric):
            raise UsageError("--format series needs --service and --metric "
                             "(e.g. --service checkout --metric error_rate)")
        if output.parent and not output.parent.exists():
            raise UsageError(f"--output {output}: folder {output.parent} does not exist")
        sb = load_sandbox(name)
        try:
            if service:
                sb.metric_names(service)
            if metric and service:
                sb.series(service, metric, sb.start, sb.start)
        except UnknownSeries as exc:
            raise UsageError(exc.args[0]) from None
        onset: list[int] = []
        writers: dict[str, Callable[[TextIO], None]] = {
            "openmetrics": lambda fh: export.export_openmetrics(sb, fh),
            "csv": lambda fh: export.export_csv(sb, fh),
            "rca": lambda fh: onset.append(export.export_rca(sb, fh)),
            "series": lambda fh: export.export_series(sb, fh, service or "", metric or ""),
            "logs": lambda fh: export.export_logs(sb, fh, service),
        }
        _write_atomically(output, writers[fmt])
    err.print(f"wrote {output}" + (f" (the fault starts at {onset[0]}: "
                                   f"--inject-time {onset[0]})" if onset else ""))


def main() -> None:
    app()
