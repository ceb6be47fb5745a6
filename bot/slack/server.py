"""Running the Bolt app: Socket Mode (one process, no public URL) or HTTP mode: uvicorn serving
the guarded ASGI app of bot/slack/asgi.py on `/slack/events` (and `/healthz` for a load
balancer), any number of replicas behind it.

The socket is bound when the server is built, so `serve` listens before the copilot has
loaded. Limits against slow or broken clients: a request's line and headers must arrive within
the read timeout of the connection opening (or of the request's first byte on a kept-alive
connection; uvicorn itself has no such limit) and within `MAX_HEAD` bytes (431), its body
within the read timeout of the headers (bot/slack/asgi.py), an idle kept-alive connection is
closed after the idle timeout, and at most `MAX_CONNECTIONS` are served at once (503 beyond).
On SIGTERM or Ctrl-C the server stops accepting, lets the requests in flight finish (up to
`GRACEFUL_SHUTDOWN` seconds) and returns, so the caller can drain the answer pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import threading
from collections.abc import Callable, Generator
from typing import Any

import uvicorn
from slack_bolt import App
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from bot.slack.asgi import EVENTS_PATH, READ_TIMEOUT, SlackASGI
from infra.settings import SettingsError

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"  # loopback unless configured (OPSCOPILOT_SLACK__HOST, --host)
IDLE_TIMEOUT = 5  # seconds a kept-alive connection may wait for its next request
GRACEFUL_SHUTDOWN = 10  # seconds for the requests in flight at shutdown
MAX_CONNECTIONS = 1000  # connections and requests at once per process; beyond: 503
BACKLOG = 1024  # listen backlog: a burst of events must not be reset
MAX_HEAD = 64 * 1024  # bytes of request line and headers (Slack sends about 1 KB)
HEAD_TOO_LARGE = (b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n"
                  b"connection: close\r\n\r\n")


def _timed_protocol(timeout: float) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with a deadline and a size limit for the request line and
    headers (httptools itself has neither)."""

    class TimedHttpTools(HttpToolsProtocol):
        _head_timer: asyncio.TimerHandle | None = None
        _head_bytes = 0

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            if self._head_timer is not None:  # still reading a request's line and headers
                self._head_bytes += len(data)
                if self._head_bytes > MAX_HEAD:
                    log.info("closed a connection whose request headers passed %d bytes",
                             MAX_HEAD)
                    self.transport.write(HEAD_TOO_LARGE)
                    self.transport.close()
                    return
            super().data_received(data)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            if self._head_timer is None:
                self._arm()

        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._head_bytes = 0
            self._head_timer = self.loop.call_later(timeout, self._expire)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _expire(self) -> None:
            self._head_timer = None
            if not self.transport.is_closing():
                log.info("closed a connection whose request headers did not arrive in %.0f s",
                         timeout)
                self.transport.close()

    return TimedHttpTools


class _Uvicorn(uvicorn.Server):
    """uvicorn's server; signals (main thread only) end it gracefully and are not re-raised,
    so the caller's clean-up runs."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


class SlackHTTPServer:
    """The HTTP-mode server, bound at once; `app` None means still loading (`attach` later)."""

    def __init__(self, app: App | None, host: str = DEFAULT_HOST, port: int = 3000,
                 signing_secret: str | None = None, *, read_timeout: float = READ_TIMEOUT,
                 idle_timeout: int = IDLE_TIMEOUT,
                 max_connections: int = MAX_CONNECTIONS) -> None:
        self.asgi = SlackASGI(app, signing_secret, read_timeout=read_timeout)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            self.socket = socket.create_server((host, port), family=family, backlog=BACKLOG)
        except OSError as exc:
            raise SettingsError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); "
                                "check --host/--port or OPSCOPILOT_SLACK__HOST/PORT") from None
        config = uvicorn.Config(
            self.asgi, http=_timed_protocol(read_timeout), lifespan="off", log_config=None,
            access_log=False, server_header=False, timeout_keep_alive=idle_timeout,
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN, limit_concurrency=max_connections,
            backlog=BACKLOG)
        self.server = _Uvicorn(config)
        self._thread: threading.Thread | None = None

    @property
    def server_address(self) -> tuple[Any, ...]:
        return tuple(self.socket.getsockname())

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = f"[{host}]" if ":" in str(host) else host
        return f"http://{host!s}:{port}{EVENTS_PATH}"

    @property
    def held(self) -> list[Any]:
        return self.asgi.held

    def attach(self, app: App) -> threading.Thread:
        """The app is built: answer from now on; held requests replay on the thread returned."""
        return self.asgi.attach(app)

    def serve_forever(self) -> None:
        """Serve in this thread until `shutdown()` or (main thread) SIGTERM / Ctrl-C."""
        self.server.run(sockets=[self.socket])

    def start_background(self) -> threading.Thread:
        self._thread = threading.Thread(target=self.serve_forever, daemon=True,
                                        name="slack-http")
        self._thread.start()
        return self._thread

    def shutdown(self) -> None:
        """Stop gracefully (requests in flight finish) and wait for the serving thread."""
        self.server.should_exit = True
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(GRACEFUL_SHUTDOWN + 5)

    def server_close(self) -> None:
        self.socket.close()
        self.asgi.executor.shutdown(wait=False)


def run_socket_mode(app: App, app_token: str, base_url: str | None = None) -> None:
    """Connect to Slack over a WebSocket and serve until interrupted."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    client = WebClient(token=app_token, base_url=base_url) if base_url else None
    try:
        SocketModeHandler(app, app_token, web_client=client).start()
    except SlackApiError as exc:  # e.g. the app token was revoked after the start-up check
        raise SettingsError("Slack refused the Socket Mode connection "
                            f"(OPSCOPILOT_SLACK__APP_TOKEN): {exc.response.get('error')}") \
            from None


def serve_http_while_loading(load: Callable[[], App], port: int, host: str = DEFAULT_HOST,
                             signing_secret: str | None = None) -> None:
    """Listen now, build the app with `load()` (the slow part, on a thread) meanwhile, then
    serve it until SIGTERM / Ctrl-C; with `signing_secret`, requests that arrive meanwhile
    are acked, held and answered once ready. A failing `load()` stops the server and its
    error is raised here."""
    server = SlackHTTPServer(None, host, port, signing_secret)
    log.warning("listening on %s (loading the copilot)", server.url)
    failed: list[BaseException] = []

    def loader() -> None:
        try:
            server.attach(load())
            log.warning("ready on %s", server.url)
        except BaseException as exc:  # re-raised in the serving thread below
            failed.append(exc)
            server.server.should_exit = True

    threading.Thread(target=loader, daemon=True, name="slack-load").start()
    try:
        server.serve_forever()
    finally:
        server.server_close()
    if failed:
        raise failed[0]
