"""`opscopilot mcp`: the copilot as an MCP server (bot/mcp, docs/mcp.md), over stdio for a
client that starts it, or streamable HTTP behind a bearer token. Mounted by `mount(app)`."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli.common import UsageError, err, load_cli_settings, user_errors

TRANSPORTS = ("stdio", "http")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def mount(app: typer.Typer) -> None:
    app.command("mcp")(mcp)


def mcp(
    transport: Annotated[str, typer.Option(
        "--transport", "-t", help="stdio (the client starts this command) or http")] = "stdio",
    scenario: Annotated[str | None, typer.Option(
        "--scenario", "-s", help="sandbox scenario to serve (default: settings)")] = None,
    host: Annotated[str | None, typer.Option(
        help="http: address to listen on (default: OPSCOPILOT_MCP__HOST, 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(
        min=1, max=65535, help="http: port (default: OPSCOPILOT_MCP__PORT, 8765)")] = None,
) -> None:
    """Serve the read-only tools, `investigate`, runbook requests, resources and prompts over
    the Model Context Protocol."""
    from bot.mcp.server import http_token, serve_http, serve_stdio
    from bot.mcp.service import McpService

    with user_errors():
        if transport not in TRANSPORTS:
            raise UsageError(f"--transport {transport!r}: choose {' or '.join(TRANSPORTS)}")
        from bot.app import build_runtime

        settings = load_cli_settings()  # logging on stderr, as settings say
        changes = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
        if changes:
            settings.mcp = settings.mcp.model_copy(update=changes)
        if transport == "http":
            http_token(settings)  # refuse to start without a token, before the slow part
        runtime = build_runtime(settings, scenario)
        runtime.warm()
        service = McpService(settings, runtime, scenario, transport)
    if transport == "stdio":
        serve_stdio(service)
        return
    err.print(f"opscopilot MCP server on http://{settings.mcp.host}:{settings.mcp.port}"
              f"{settings.mcp.path} (bearer token required)", markup=False)
    if settings.mcp.host not in LOOPBACK:
        err.print(f"note: {settings.mcp.host} is not loopback; the token travels in clear text "
                  "unless a TLS proxy is in front (docs/mcp.md)", markup=False)
    serve_http(service, settings)
