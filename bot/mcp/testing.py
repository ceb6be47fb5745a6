"""What tests and benchmarks need to talk to the MCP server for real, shipped with the seam:
`serving(app)` runs the streamable HTTP app in a uvicorn server on a free loopback port in a
thread; `http_client(url, token)` and `stdio_client(...)` are the SDK's own client over each
transport."""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

READ_TIMEOUT_S = 180.0  # a cold investigation on a busy 2-core machine


@contextmanager
def serving(asgi: Any) -> Iterator[str]:
    """Serve `asgi` on 127.0.0.1 (a free port) until the block ends; yields the /mcp URL."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(asgi, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline and thread.is_alive():
        time.sleep(0.05)
    if not server.started:
        sock.close()
        raise RuntimeError("the MCP HTTP server did not start")
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


def http_client(url: str, token: str | None) -> Client:
    """The SDK's client over streamable HTTP; its transport takes an `httpx2.AsyncClient` (the
    SDK's own HTTP library) for headers, here the bearer token, and leaves closing it to us."""

    @asynccontextmanager
    async def transport() -> AsyncIterator[Any]:
        import httpx2

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with (httpx2.AsyncClient(headers=headers,
                                       timeout=httpx2.Timeout(30.0, read=300.0)) as session,
                    streamable_http_client(url, http_client=session) as streams):
            yield streams

    return Client(transport(), read_timeout_seconds=READ_TIMEOUT_S)


def stdio_client(args: list[str], env: dict[str, str] | None = None,
                 cwd: Path | None = None) -> Client:
    """`python -m bot.cli mcp ARGS` as a subprocess, with this process's environment (the SDK
    passes only a safe few variables by default) plus `env`."""
    params = StdioServerParameters(command=sys.executable, args=["-m", "bot.cli", "mcp", *args],
                                   env={**os.environ, **(env or {})},
                                   cwd=str(cwd) if cwd else None)
    return Client(params, read_timeout_seconds=READ_TIMEOUT_S)
