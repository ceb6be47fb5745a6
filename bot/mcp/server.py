"""`McpService` behind the official `mcp` SDK: its low-level `Server` (the tool schemas are ours,
from the parameter models, so no decorator derives them) over stdio or streamable HTTP.

The HTTP transport answers only requests that carry `Authorization: Bearer <settings.mcp.token>`
(compared in constant time); anything else gets 401 before the SDK sees it. It listens on
`settings.mcp.host` (loopback by default, where the SDK also turns on its DNS-rebinding check).
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import TYPE_CHECKING, Any

import anyio
import mcp.types as types
from mcp.server.lowlevel import Server
from mcp.shared.exceptions import MCPError

from bot.mcp import prompts as prompt_specs
from bot.mcp.resources import UnknownResource
from bot.mcp.service import REQUEST_RUNBOOK, McpService, ToolCallError
from infra import telemetry
from infra.settings import SettingsError

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

    from infra.settings import Settings

log = logging.getLogger(__name__)

MIN_TOKEN = 16


def _text(data: Any) -> str:
    return json.dumps(data, indent=1, default=str)


def build_server(service: McpService, version: str = "") -> Server[Any]:
    """The low-level server whose handlers call `service` (in a worker thread: the copilot is
    synchronous and must not block the event loop that serves the other requests)."""

    async def list_tools(_ctx: Any, _params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[
            types.Tool(name=s.name, description=s.description, input_schema=s.input_schema,
                       annotations=types.ToolAnnotations(
                           read_only_hint=s.name != REQUEST_RUNBOOK, destructive_hint=False,
                           idempotent_hint=s.name != REQUEST_RUNBOOK))
            for s in service.tools()])

    async def call_tool(_ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        outcome = await anyio.to_thread.run_sync(service.call, params.name, params.arguments)
        return types.CallToolResult(content=[types.TextContent(text=_text(outcome.data))],
                                    structured_content=outcome.data, is_error=outcome.is_error)

    async def list_resources(_ctx: Any, _params: Any) -> types.ListResourcesResult:
        return types.ListResourcesResult(resources=[
            types.Resource(uri=r.uri, name=r.name, description=r.description,
                           mime_type=r.mime_type) for r in service.resources()])

    async def list_templates(_ctx: Any, _params: Any) -> types.ListResourceTemplatesResult:
        return types.ListResourceTemplatesResult(resource_templates=[
            types.ResourceTemplate(uri_template=r.uri, name=r.name, description=r.description,
                                   mime_type=r.mime_type) for r in service.resource_templates()])

    async def read_resource(_ctx: Any,
                            params: types.ReadResourceRequestParams) -> types.ReadResourceResult:
        uri = str(params.uri)
        try:
            content = await anyio.to_thread.run_sync(service.read, uri)
        except UnknownResource:
            raise MCPError(types.INVALID_PARAMS, f"no resource {uri}; resources/list shows "
                                                 "them") from None
        except ToolCallError as exc:
            raise MCPError(types.INVALID_PARAMS, str(exc)) from None
        return types.ReadResourceResult(contents=[types.TextResourceContents(
            uri=uri, mime_type="application/json", text=_text(content))])

    async def list_prompts(_ctx: Any, _params: Any) -> types.ListPromptsResult:
        return types.ListPromptsResult(prompts=[
            types.Prompt(name=p.name, description=p.description, arguments=[
                types.PromptArgument(name=a.name, description=a.description,
                                     required=a.required)
                for a in prompt_specs.arguments(p)])
            for p in service.prompts()])

    async def get_prompt(_ctx: Any, params: types.GetPromptRequestParams) -> types.GetPromptResult:
        try:
            description, text = await anyio.to_thread.run_sync(
                service.prompt, params.name, params.arguments)
        except ToolCallError as exc:
            raise MCPError(types.INVALID_PARAMS, str(exc)) from None
        return types.GetPromptResult(description=description, messages=[
            types.PromptMessage(role="user", content=types.TextContent(text=text))])

    return Server(
        "opscopilot", version=version,
        instructions="An operations copilot: grounded answers about the services it watches "
                     "(metrics, logs, traces, changes, alerts, past incidents, runbooks). "
                     "Start with `investigate`; every number comes with its evidence query. "
                     "It changes nothing: a runbook can only be requested for approval.",
        on_list_tools=list_tools, on_call_tool=call_tool,
        on_list_resources=list_resources, on_list_resource_templates=list_templates,
        on_read_resource=read_resource, on_list_prompts=list_prompts, on_get_prompt=get_prompt)


def serve_stdio(service: McpService) -> None:
    """Serve one client on stdin/stdout until it closes them (the SDK keeps stray prints off
    the wire: stdout is diverted to stderr while it serves)."""
    server = build_server(service)

    async def run() -> None:
        from mcp.server.stdio import stdio_server

        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())

    anyio.run(run)


class BearerGuard:
    """ASGI middleware: HTTP requests without the exact bearer token get 401 (lifespan passes)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app, self._token = app, token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self._authorised(scope):
            body = b'{"error": "unauthorised: send Authorization: Bearer <token>"}'
            await send({"type": "http.response.start", "status": 401, "headers": [
                (b"content-type", b"application/json"), (b"www-authenticate", b"Bearer"),
                (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)

    def _authorised(self, scope: Scope) -> bool:
        for name, value in scope.get("headers", []):
            if name.lower() == b"authorization":
                scheme, _, given = value.partition(b" ")
                return scheme.lower() == b"bearer" and hmac.compare_digest(given.strip(),
                                                                           self._token)
        return False


def http_token(settings: Settings) -> str:
    """The configured bearer token; SettingsError when it is missing or too short to guess."""
    secret = settings.mcp.token
    token = secret.get_secret_value().strip() if secret else ""
    if len(token) < MIN_TOKEN:
        raise SettingsError(f"OPSCOPILOT_MCP__TOKEN: the HTTP transport needs a bearer token "
                            f"of {MIN_TOKEN}+ characters (e.g. `openssl rand -hex 24`)")
    return token


def http_app(service: McpService, settings: Settings) -> ASGIApp:
    """The streamable HTTP app at `settings.mcp.path` and opscopilot's `/metrics`, both behind
    the bearer token (Prometheus sends it with `authorization: {credentials: ...}`)."""
    token = http_token(settings)
    server = build_server(service)
    app = server.streamable_http_app(streamable_http_path=settings.mcp.path,
                                     host=settings.mcp.host)
    return BearerGuard(telemetry.with_metrics_route(app), token)


def serve_http(service: McpService, settings: Settings) -> None:
    import uvicorn

    app = http_app(service, settings)
    uvicorn.Server(uvicorn.Config(app, host=settings.mcp.host, port=settings.mcp.port,
                                  log_level="warning")).run()
