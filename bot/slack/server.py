"""Running the Bolt app: Socket Mode (one process, no public URL) or HTTP mode (a threaded HTTP
server on `/slack/events`, any number of replicas behind a load balancer; `/healthz` for it).

In HTTP mode the server listens before the copilot has loaded: `/healthz` answers at once,
503 `{"status": "loading"}` until `attach(app)` and then 200 `{"status": "ready"}`, so a load
balancer sends traffic only to replicas that can answer. Requests that reach a loading server
anyway are not lost: with the signing secret it checks their signature, acks them (a slash
command hears "starting up") and holds them, and `attach` replays them through the app, which
posts their answers as if they had just arrived (Slack's signatures stay valid for 5 minutes).
Without the secret it can only answer 503 with Retry-After.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal
from urllib.parse import parse_qs, urlparse

from slack_bolt import App
from slack_bolt.request import BoltRequest
from slack_sdk.signature import SignatureVerifier

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
MAX_BODY = 1_000_000  # Slack's payloads are far smaller
MAX_HELD = 1000  # requests held while loading; beyond this, 503 and Slack's own retries
STARTING = ":hourglass_flowing_sand: Starting up: `{command} {text}` will run in a moment."


@dataclass(frozen=True)
class HeldRequest:
    """A signed request that arrived while the copilot loaded, replayed once it is ready."""

    body: str
    query: str
    headers: dict[str, str | Sequence[str]]

    def to_bolt(self) -> BoltRequest:
        return BoltRequest(body=self.body, query=self.query, headers=self.headers)


class SlackHTTPServer(ThreadingHTTPServer):
    """Every request on its own thread; Bolt verifies signatures and answers."""

    daemon_threads = True
    request_queue_size = 256  # listen backlog: bursts of events must not be reset (default 5)

    def __init__(self, app: App | None, host: str = "0.0.0.0", port: int = 3000,
                 signing_secret: str | None = None) -> None:
        self.app = app  # None while the copilot loads
        self.verifier = SignatureVerifier(signing_secret) if signing_secret else None
        self.held: list[HeldRequest] = []
        self.lock = threading.Lock()  # app and held change together
        super().__init__((host, port), _handler_class())

    def attach(self, app: App) -> threading.Thread:
        """The app is built: from now on events are answered and /healthz says ready; the
        requests held meanwhile are replayed (on the thread returned)."""
        with self.lock:
            self.app, held, self.held = app, self.held, []
        thread = threading.Thread(target=_replay, args=(app, held), daemon=True,
                                  name="slack-replay")
        thread.start()
        return thread

    def hold(self, request: HeldRequest) -> Literal["held", "ready", "full"]:
        """Hold `request` while loading; "ready" when the app came meanwhile (dispatch it)."""
        with self.lock:
            if self.app is not None:
                return "ready"
            if len(self.held) >= MAX_HELD:
                return "full"
            self.held.append(request)
            return "held"

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
                state: dict[str, object] = {"status": "ready" if ready else "loading"}
                if not ready:
                    state["held"] = len(self.server.held)
                self._send(200 if ready else 503, json.dumps(state).encode(),
                           "application/json")
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
            headers: dict[str, str | Sequence[str]] = {
                k.lower(): [v] for k, v in self.headers.items()}
            app = self.server.app
            if app is None:
                if self._while_loading(body, parsed.query, headers):
                    return
                app = self.server.app  # it became ready meanwhile
                if app is None:
                    self._send(503, b"loading", "text/plain", {"Retry-After": "5"})
                    return
            resp = app.dispatch(BoltRequest(body=body, query=parsed.query, headers=headers))
            data = (resp.body or "").encode("utf-8")
            content_type = (resp.headers.get("content-type") or ["text/plain"])[0]
            self._send(resp.status, data, content_type)

        def _while_loading(self, body: str, query: str,
                           headers: dict[str, str | Sequence[str]]) -> bool:
            """Answer a request that came before the app: True when it was answered here."""
            verifier = self.server.verifier
            if verifier is None:
                return False  # cannot tell Slack from anyone else: 503, Slack retries
            if not verifier.is_valid_request(body, {k: v[0] for k, v in headers.items()}):
                self._send(401, b"invalid signature", "text/plain")
                return True
            if body.startswith("{"):
                payload = json.loads(body)
                if payload.get("type") == "url_verification":
                    self._send(200, json.dumps({"challenge": payload.get("challenge")}).encode(),
                               "application/json")
                    return True
                form: dict[str, list[str]] = {}
            else:
                form = parse_qs(body)
            if form.get("ssl_check"):
                self._send(200, b"", "text/plain")
                return True
            outcome = self.server.hold(HeldRequest(body, query, headers))
            if outcome != "held":
                return False  # ready now: dispatch it; or full: 503, Slack retries
            if "command" in form:
                text = STARTING.format(command=form["command"][0],
                                       text=form.get("text", [""])[0][:200])
                self._send(200, json.dumps({"response_type": "ephemeral",
                                            "text": text}).encode(), "application/json")
            else:
                self._send(200, b"", "text/plain")
            return True

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


def _replay(app: App, held: list[HeldRequest]) -> None:
    for request in held:
        resp = app.dispatch(request.to_bolt())
        if resp.status >= 400:  # e.g. 401: held past the 5 minutes a signature is valid
            log.warning("a request held while loading was refused (HTTP %s)", resp.status)
    if held:
        log.warning("replayed %d requests that arrived while loading", len(held))


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


def serve_http_while_loading(load: Callable[[], App], port: int, host: str = "0.0.0.0",
                             signing_secret: str | None = None) -> None:
    """Listen now, build the app with `load()` (the slow part) meanwhile, then serve it; with
    `signing_secret`, requests that arrive meanwhile are acked, held and answered once ready."""
    server = SlackHTTPServer(None, host, port, signing_secret)
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
