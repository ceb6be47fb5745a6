"""`opscopilot alerts ...`: Alertmanager alerts that investigate themselves (bot/alerting.py).
Mounted by `mount(app)`.

    opscopilot alerts investigate payload.json [--scenario S] [--json]
    opscopilot alerts serve [--port 9095]     # the webhook receiver, posting into Slack
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from bot.cli.common import UsageError, out, user_errors

alerts_app = typer.Typer(no_args_is_help=True,
                         help="Alertmanager alerts that investigate themselves.")


def mount(app: typer.Typer) -> None:
    app.add_typer(alerts_app, name="alerts")


@alerts_app.command("investigate")
def alerts_investigate(
    payload: Annotated[Path, typer.Argument(help="a saved Alertmanager webhook payload (JSON, "
                                                 "version 4); - reads stdin")],
    scenario: Annotated[str | None, typer.Option(
        "--scenario", "-s", help="sandbox scenario name or YAML file (default: settings)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object: the keys of "
                                                         "`ask --json`, plus the group")] = False,
) -> None:
    """Investigate a saved webhook payload the way the receiver does, at the alerts' time."""
    from bot.alerting import investigate, parse_payload
    from bot.answer_log import log_answer
    from bot.app import build_runtime
    from infra.settings import load_settings

    with user_errors():
        body = sys.stdin.buffer.read() if str(payload) == "-" else payload.read_bytes()
        try:
            group = parse_payload(body)
        except ValueError as exc:
            raise UsageError(f"{payload}: {exc}") from None
        settings = load_settings()
        logging.basicConfig(level=settings.log_level,
                            format="%(levelname)s %(name)s: %(message)s")
        runtime = build_runtime(settings, scenario)
        when = runtime.asked_at(group.when().isoformat(), name="the alerts' startsAt")
        result = investigate(runtime.copilot, group, runtime.copilot.topology.services(), when)
        log_answer(settings, result.question, result.answer, source="cli-alerts",
                   context=scenario)
    if as_json:
        sys.stdout.write(json.dumps(result.to_json(), indent=2) + "\n")
    else:
        from bot.render import render_answer

        render_answer(result.answer, out)
