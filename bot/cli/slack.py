"""`opscopilot serve` (the Slack app) and the terminal side of what Slack offers:
`opscopilot incident ...`, `opscopilot summary`, `opscopilot oncall`. Mounted by `mount(app)`.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli.common import UsageError, err, load_cli_settings, out, user_errors

if TYPE_CHECKING:
    from slack_bolt import App

    from bot.incidents import IncidentStore
    from bot.slack.context import SlackBot
    from infra.settings import Settings

incident_app = typer.Typer(no_args_is_help=True, help="Declare, update and resolve incidents.")


def _settings() -> Settings:
    return load_cli_settings()


def _store() -> IncidentStore:
    from bot.incidents import IncidentStore

    return IncidentStore(_settings())


class _Errors:
    """`user_errors()` plus the errors of incidents, on-call and summaries."""

    def __enter__(self) -> None:
        self._inner = user_errors()
        self._inner.__enter__()

    def __exit__(self, kind, exc, tb) -> bool:  # noqa: ANN001
        from bot.incidents import IncidentError
        from bot.oncall import OnCallError
        from bot.summary import WeekError
        from tools.runbooks.errors import RunbookError  # e.g. a bad policy file at `serve`

        if isinstance(exc, IncidentError | OnCallError | WeekError | RunbookError):
            return bool(self._inner.__exit__(UsageError, UsageError(str(exc)), tb))
        return bool(self._inner.__exit__(kind, exc, tb))


def serve(
    mode: Annotated[str | None, typer.Option(help="socket or http (default: settings)")] = None,
    port: Annotated[int | None, typer.Option(help="HTTP mode port (default: settings)")] = None,
    host: Annotated[str | None, typer.Option(
        help="HTTP mode listen address (default: settings, 127.0.0.1; 0.0.0.0 for all)")] = None,
    scenario: Annotated[str | None, typer.Option("--scenario", "-s",
                                                 help="sandbox scenario")] = None,
) -> None:
    """Run the Slack app (Socket Mode by default; HTTP mode for several replicas)."""
    with _Errors():
        settings = _settings()
        if mode is not None:
            if mode not in ("socket", "http"):
                raise UsageError(f"--mode {mode!r}: choose socket or http")
            settings.slack.mode = mode  # type: ignore[assignment]
        if port is not None:
            settings.slack.port = port
        if host is not None:
            settings.slack.host = host
        from bot.slack.app import (
            build_app,
            build_bot,
            check_app_token,
            check_token,
            make_client,
            require_tokens,
        )

        require_tokens(settings)  # missing or wrong-kind tokens: one line, before anything else
        if settings.alerts.channel:  # the Alertmanager receiver: its secret, before loading
            from bot.slack.alerts import AlertReceiver

            AlertReceiver.check(settings.alerts)
        s = settings.slack
        if settings.telemetry.otlp_endpoint:  # answer traces (infra/tracing.py), off by default
            from infra.tracing import configure_tracing

            configure_tracing(settings.telemetry.otlp_endpoint,
                              question_text=settings.telemetry.trace_question_text)
        assert s.bot_token is not None
        client = make_client(s.bot_token.get_secret_value(), s.api_url)
        check_token(client)  # a bad token or unreachable API: one line, before the models load
        if s.mode == "socket":
            assert s.app_token is not None
            check_app_token(s.app_token.get_secret_value(), s.api_url)
        secret = s.signing_secret.get_secret_value() if s.signing_secret else None
    built: list[SlackBot] = []

    def load() -> App:
        from bot.app import build_runtime

        runtime = build_runtime(settings, scenario)
        runtime.warm()
        bot = build_bot(settings, runtime)
        built.append(bot)
        if s.summary_channel:
            from bot.slack.scheduler import SummaryScheduler

            SummaryScheduler(bot, client, s.summary_channel, s.summary_at).start()
        if settings.alerts.channel:  # the Alertmanager receiver (bot/slack/alerts.py)
            from bot.slack.alerts import start_receiver

            start_receiver(bot, client, runtime.copilot.topology.services())
        return build_app(bot, client, signing_secret=secret if s.mode == "http" else None,
                         verify_token=False)

    from bot.slack.server import run_socket_mode, serve_http_while_loading

    try:
        if s.mode == "http":
            err.print(f"Slack app in HTTP mode on {s.host}:{s.port} (/slack/events); loading "
                      "the copilot, /healthz says when it is ready", markup=False)
            with _Errors():
                serve_http_while_loading(load, s.port, s.host, signing_secret=secret)
        else:
            assert s.app_token is not None
            err.print("[dim]Loading the copilot...[/dim]")
            with _Errors():
                app = load()
            err.print("Slack app in Socket Mode")
            t = settings.telemetry
            if t.metrics_port:  # Socket Mode has no HTTP port of its own for /metrics
                from infra.telemetry import serve_metrics

                with _Errors():
                    serve_metrics(t.metrics_port, t.metrics_host)
                err.print(f"metrics on http://{t.metrics_host}:{t.metrics_port}/metrics",
                          markup=False)
            with _Errors():
                run_socket_mode(app, s.app_token.get_secret_value(), s.api_url)
    finally:
        for bot in built:  # on Ctrl-C: the questions already queued are still answered
            bot.answers.close()


@incident_app.command("declare")
def incident_declare(
    title: Annotated[list[str], typer.Argument(help="title words, optionally ending in sev1-4")],
    sev: Annotated[str | None, typer.Option("--sev", help="severity: sev1 (worst) to sev4")] = None,
    by: Annotated[str, typer.Option(help="who declares it")] = "cli",
) -> None:
    """Declare an incident (the Slack channel is opened by `/ops incident declare`)."""
    from bot.incidents import parse_declare

    with _Errors():
        words, last_word_sev = parse_declare(title)
        if sev is not None and words != " ".join(title).strip():
            raise UsageError("give the severity once: as --sev or as the title's last word")
        sev = sev or last_word_sev
        inc = _store().declare(words, sev, declared_by=by)
    out.print(f"{inc.id} ({inc.severity}) declared: {inc.title}", markup=False)


@incident_app.command("list")
def incident_list(all_: Annotated[bool, typer.Option("--all", help="resolved too")] = False
                  ) -> None:
    """Open incidents (or all of them)."""
    with _Errors():
        incidents = _store().list()
    for inc in incidents:
        if all_ or inc.status != "resolved":
            out.print(f"{inc.id} {inc.severity} {inc.status}: {inc.title}", markup=False)


@incident_app.command("status")
def incident_status(
    incident_id: Annotated[str, typer.Argument(help="e.g. INC-20261129-01")],
    update: Annotated[list[str] | None, typer.Argument(help="a status update to record")] = None,
    by: Annotated[str, typer.Option(help="who writes it")] = "cli",
) -> None:
    """Show an incident, or record a status update."""
    from tools.formatting import fmt_duration

    with _Errors():
        store = _store()
        if update:
            store.add_update(incident_id, by, " ".join(update))
        inc = store.get(incident_id)
    out.print(f"{inc.id} {inc.severity} {inc.status}: {inc.title}", markup=False)
    if inc.time_to_acknowledge is not None:
        out.print(f"acknowledged after {fmt_duration(inc.time_to_acknowledge)}", markup=False)
    if inc.time_to_resolve is not None:
        out.print(f"resolved after {fmt_duration(inc.time_to_resolve)}", markup=False)


@incident_app.command("ack")
def incident_ack(incident_id: str, by: Annotated[str, typer.Option()] = "cli") -> None:
    """Acknowledge an incident."""
    with _Errors():
        inc, changed = _store().acknowledge(incident_id, by)
    out.print(f"{inc.id} {'acknowledged' if changed else 'was already ' + inc.status}",
              markup=False)


@incident_app.command("action")
def incident_action(incident_id: str, text: list[str],
                    owner: Annotated[str, typer.Option()] = "") -> None:
    """Add an action item."""
    with _Errors():
        item = _store().add_action_item(incident_id, " ".join(text), owner)
    out.print(f"action item #{item.id} on {item.incident_id}: {item.text}", markup=False)


@incident_app.command("timeline")
def incident_timeline(incident_id: str) -> None:
    """The incident's timeline."""
    with _Errors():
        entries = _store().timeline(incident_id)
    for e in entries:
        out.print(f"{e.at:%Y-%m-%d %H:%M} UTC {e.kind}{' by ' + e.actor if e.actor else ''}: "
                  f"{e.text}", markup=False)


@incident_app.command("resolve")
def incident_resolve(
    incident_id: str,
    resolution: Annotated[list[str] | None, typer.Argument(help="what fixed it")] = None,
    root_cause: Annotated[str, typer.Option(help="the root cause, if known")] = "",
    by: Annotated[str, typer.Option()] = "cli",
    kb: Annotated[bool, typer.Option(help="store the postmortem draft in the KB")] = True,
) -> None:
    """Resolve: durations, and the postmortem draft into the knowledge base."""
    from tools.formatting import fmt_duration

    with _Errors():
        settings = _settings()
        from bot.incidents import IncidentStore

        store = IncidentStore(settings)
        inc = store.resolve(incident_id, by, " ".join(resolution or []), root_cause)
        doc = store.postmortem(inc)
        if kb:
            from knowledge.kb import KnowledgeBase

            KnowledgeBase.from_settings(settings).ingest([doc])
    out.print(f"{inc.id} resolved after {fmt_duration(inc.time_to_resolve or 0)} "
              f"(acknowledged after {fmt_duration(inc.time_to_acknowledge or 0)})", markup=False)
    out.print(f"postmortem draft {doc.id}{' stored in the knowledge base' if kb else ''}:",
              markup=False)
    sys.stdout.write(doc.body)


def summary(
    week: Annotated[str | None, typer.Option(help="YYYY-Www (default: last week)")] = None,
    fmt: Annotated[str, typer.Option("--format", help="md, html or slack (Block Kit JSON)")]
    = "md",
) -> None:
    """The weekly incident summary."""
    import json

    from bot.summary import build_summary, chart_png, to_html, to_markdown

    with _Errors():
        if fmt not in ("md", "html", "slack"):
            raise UsageError(f"--format {fmt!r}: choose md, html or slack")
        s = build_summary(_store(), week)
    if fmt == "md":
        sys.stdout.write(to_markdown(s))
    elif fmt == "html":
        sys.stdout.write(to_html(s, chart_png(s)))
    else:
        from bot.slack.cards import summary_blocks

        sys.stdout.write(json.dumps({"blocks": summary_blocks(s)}, indent=2) + "\n")


def oncall() -> None:
    """Who is on call now (schedule file, PagerDuty or Opsgenie, per settings)."""
    from datetime import UTC, datetime

    from bot.oncall import describe, oncall_source

    with _Errors():
        source = oncall_source(_settings())
        lines = describe(source.on_call(datetime.now(UTC)))
    for line in lines or ["nobody is on call"]:
        out.print(line, markup=False)


def mount(app: typer.Typer) -> None:
    """Add serve, incident, summary and oncall to the `opscopilot` command."""
    app.command()(serve)
    app.add_typer(incident_app, name="incident")
    app.command()(summary)
    app.command()(oncall)
