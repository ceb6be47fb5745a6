"""`opscopilot alerts ...`: Alertmanager alerts that investigate themselves (bot/alerting.py).
Mounted by `mount(app)`.

    opscopilot alerts investigate payload.json [--scenario S] [--json]
    opscopilot alerts serve [--port 9095]     # the webhook receiver, posting into Slack
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from bot.cli.common import UsageError, err, load_cli_settings, out, user_errors

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

    with user_errors():
        body = sys.stdin.buffer.read() if str(payload) == "-" else payload.read_bytes()
        try:
            group = parse_payload(body)
        except ValueError as exc:
            raise UsageError(f"{payload}: {exc}") from None
        settings = load_cli_settings()  # logging on stderr, as settings say
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


@alerts_app.command("serve")
def alerts_serve(
    port: Annotated[int | None, typer.Option(
        help="port (default: $OPSCOPILOT_ALERTS__PORT, 9095; 0 picks a free one)")] = None,
    scenario: Annotated[str | None, typer.Option(
        "--scenario", "-s", help="sandbox scenario name or YAML file (default: settings)")] = None,
) -> None:
    """Receive Alertmanager webhooks (POST /alertmanager) and post each alert group to Slack,
    its investigation in the thread; `opscopilot serve` runs the same receiver when
    OPSCOPILOT_ALERTS__CHANNEL is set."""
    import threading

    from bot.app import build_runtime
    from bot.slack.alerts import AlertReceiver, start_receiver
    from bot.slack.app import build_bot, check_token, make_client
    from infra.settings import SettingsError

    with user_errors():
        if port is not None and not 0 <= port <= 65535:
            raise UsageError(f"--port {port}: choose 0-65535")
        settings = load_cli_settings()  # logging on stderr, as settings say
        if settings.slack.bot_token is None:
            raise SettingsError("the alert receiver posts to Slack: set "
                                "OPSCOPILOT_SLACK__BOT_TOKEN (xoxb-...); see docs/slack.md")
        AlertReceiver.check(settings.alerts)
        client = make_client(settings.slack.bot_token.get_secret_value(), settings.slack.api_url)
        check_token(client)
        runtime = build_runtime(settings, scenario)
        runtime.warm()
        bot = build_bot(settings, runtime)
        server = start_receiver(bot, client, runtime.copilot.topology.services(), port)
    err.print(f"receiving Alertmanager webhooks on {server.url}, posting to "
              f"{settings.alerts.channel}; Ctrl-C stops", markup=False)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        server.server_close()
        bot.answers.close()
