"""`opscopilot status [--scenario S] [--json]`: what the copilot can use right now.

One line per part (each backend seam, the knowledge base, the state database, the detector,
Slack, the LLM): where it comes from, ok / failed / missing, and what the check saw or what to
set. Exit code 0 when nothing configured failed, 1 when something did, 2 for bad settings.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from bot.cli.common import err, escape, out, user_errors

_MARK = {"ok": "[green]ok[/green]     ", "failed": "[red]failed[/red] ",
         "missing": "[yellow]missing[/yellow]"}


def status(
    scenario: Annotated[str | None, typer.Option(
        "--scenario", "-s", help="check against a sandbox scenario instead of the settings' "
        "backends")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """What the copilot can use right now: backends, knowledge base, state, models, Slack, LLM."""
    from bot.status import system_status
    from infra.settings import load_settings

    with user_errors():
        report = system_status(load_settings(), scenario)
    if as_json:
        sys.stdout.write(json.dumps(report.to_json(), indent=2) + "\n")
    else:
        width = max(len(p.part) for p in report.parts)
        for p in report.parts:
            took = f" ({p.ms:.0f} ms)" if p.ms is not None and p.ms >= 1 else ""
            out.print(f"{escape(p.part.ljust(width))}  {_MARK[p.state.value]}  "
                      f"{escape(p.source)}: {escape(p.detail)}{escape(took)}")
        if report.failed:
            err.print(f"{len(report.failed)} part(s) failed: "
                      + ", ".join(escape(p.part) for p in report.failed))
    if report.failed:
        raise typer.Exit(1)
