"""`opscopilot events ...`: the receiver CI/CD posts deploys and config changes to, and a look at
what it stored. Mounted by `bot.cli` with `app.add_typer(events_app, name="events")`.

    opscopilot events serve --port 8089     # POST /events, stored in the state database
    opscopilot events list --hours 6        # what the changes tool will see

The changes tool reads these events when OPSCOPILOT_EVENTS__ENABLED=true (docs/backends.md).
"""

from __future__ import annotations

import json
import sys
import time
from typing import Annotated

import typer

from bot.cli.common import UsageError, err, load_cli_settings, out, user_errors

events_app = typer.Typer(no_args_is_help=True,
                         help="Deploy and config-change events posted by CI/CD.")


@events_app.command("serve")
def events_serve(
    host: Annotated[str | None, typer.Option(
        help="address to listen on (default: $OPSCOPILOT_EVENTS__HOST, 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(
        help="port (default: $OPSCOPILOT_EVENTS__PORT, 8089; 0 picks a free one)")] = None,
) -> None:
    """Receive events over HTTP (POST /events) and store them in the state database."""

    from infra.state import state_engine
    from tools.backends.change_store import ChangeStore
    from tools.backends.webhook import EventServer

    with user_errors():
        settings = load_cli_settings()  # logging on stderr, as settings say
        if port is not None and not 0 <= port <= 65535:
            raise UsageError(f"--port {port}: choose 0-65535")
        secret = settings.events.secret.get_secret_value() if settings.events.secret else None
        server = EventServer(ChangeStore(state_engine(settings)),
                             host or settings.events.host,
                             settings.events.port if port is None else port, secret)
    err.print(f"receiving change events on {server.url}/events "
              f"({'signed with the shared secret' if secret else 'no shared secret'}); "
              "Ctrl-C stops", markup=False)
    if not settings.events.enabled:
        err.print("[yellow]note:[/yellow] the copilot reads them once "
                  "OPSCOPILOT_EVENTS__ENABLED=true")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@events_app.command("list")
def events_list(
    hours: Annotated[float, typer.Option(help="how far back to look")] = 24.0,
    service: Annotated[list[str] | None, typer.Option(help="only this service (repeatable)")]
    = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """List the stored events, oldest first."""
    from infra.settings import load_settings
    from infra.state import state_engine
    from tools.backends.change_store import ChangeStore
    from tools.formatting import fmt_datetime

    with user_errors():
        if hours <= 0:
            raise UsageError(f"--hours {hours:g}: must be more than 0")
        now = int(time.time())
        changes, _ = ChangeStore(state_engine(load_settings())).changes(
            list(service or []), now - int(hours * 3600), now + 1)
    if as_json:
        sys.stdout.write(json.dumps([c.__dict__ for c in changes], indent=2) + "\n")
        return
    for c in changes:
        extra = f" {c.version}" if c.version else ""
        by = f" by {c.author}" if c.author else ""
        out.print(f"{fmt_datetime(c.ts)} {c.service} {c.kind}{extra}{by}: {c.description}",
                  markup=False)
    if not changes:
        out.print(f"no events in the last {hours:g} h", markup=False)
