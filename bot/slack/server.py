"""Running the Bolt app: Socket Mode (one process, no public URL) or HTTP mode (a threaded HTTP
server on `/slack/events`, any number of replicas behind a load balancer; `/healthz` for it).

In HTTP mode the server listens before the copilot has loaded: `/healthz` answers at once,
503 `{"status": "loading"}` until `attach(app)` and then 200 `{"status": "ready"}`, and events
that arrive while loading get 503 with Retry-After (Slack delivers them again), so a load
balancer sends traffic only to replicas that can answer.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

from slack_bolt import App
from slack_bolt.request import BoltRequest

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
MAX_BODY = 1_000_000  # Slack's payloads are far smaller


class SlackHTTPServer(ThreadingHTTPServer):
    """Every request on its own thread; Bolt verifies signatures and answers."""

    daemon_threads = True
    request_queue_size = 256  # listen backlog: bursts of events must not be reset (default 5)

    def __init__(self, app: App | None, host: str = "0.0.0.0", port: int = 3000) -> None:
        self.app = app  # None while the copilot loads
        super().__init__((host, port), _handler_class())

    def attach(self, app: App) -> None:
        """The app is built: from now on events are answered and /healthz says ready."""
        self.app = app

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}{EVENTS_PATH}"

    def start_background(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, daemon=True, name="slack-http")
        thread.start()
        return thread


def _handler_class() -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server: SlackHTTPServer
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt: str, *args: object) -> None:
            log.debug("http %s", fmt % args)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if urlparse(self.path).path == "/healthz":
                ready = self.server.app is not None
                body = json.dumps({"status": "ready" if ready else "loading"}).encode()
                self._send(200 if ready else 503, body, "application/json")
            else:
                self._send(404, b"not found", "text/plain")

        def do_POST(self) -> None:  # noqa: N802
            parsed = urlparse(self.path)
            if parsed.path != EVENTS_PATH:
                self._send(404, b"not found", "text/plain")
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._send(413, b"too large", "text/plain")
                return
            body = self.rfile.read(length).decode("utf-8")
            app = self.server.app
            if app is None:
                self._send(503, b"loading", "text/plain", {"Retry-After": "5"})
                return
            headers: dict[str, str | Sequence[str]] = {
                k.lower(): [v] for k, v in self.headers.items()}
            resp = app.dispatch(BoltRequest(body=body, query=parsed.query,
                                                        headers=headers))
            data = (resp.body or "").encode("utf-8")
            content_type = (resp.headers.get("content-type") or ["text/plain"])[0]
            self._send(resp.status, data, content_type)

        def _send(self, status: int, data: bytes, content_type: str,
                  extra: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


def run_socket_mode(app: App, app_token: str) -> None:
    """Connect to Slack over a WebSocket and serve until interrupted."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    SocketModeHandler(app, app_token).start()


def run_http(app: App, port: int, host: str = "0.0.0.0") -> None:
    server = SlackHTTPServer(app, host, port)
    log.warning("listening on %s", server.url)
    try:
        server.serve_forever()
    finally:
        server.server_close()


def serve_http_while_loading(load: Callable[[], App], port: int,
                             host: str = "0.0.0.0") -> None:
    """Listen now, build the app with `load()` (the slow part) meanwhile, then serve it."""
    server = SlackHTTPServer(None, host, port)
    log.warning("listening on %s (loading the copilot)", server.url)
    thread = server.start_background()
    try:
        server.attach(load())
        log.warning("ready on %s", server.url)
        while thread.is_alive():
            thread.join(1.0)
    finally:
        server.shutdown()
        server.server_close()
