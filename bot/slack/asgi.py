"""The HTTP-mode front door: Bolt's ASGI adapter (`slack_bolt.adapter.asgi`) with the checks that
must come before Bolt sees a body, served by uvicorn (bot/slack/server.py).

In order, for `POST /slack/events`: a declared size (`Content-Length`, at most `MAX_BODY`; 411
or 413 otherwise), a signature timestamp that is a number within Slack's 5 minutes (401),
the body read within the read timeout (408) and decoded (400), the signature checked over it
(401), and only then parsed and dispatched. Early refusals close the connection, so an unread
body cannot be taken for the next request. `app.dispatch` runs on a thread pool, so the event
loop keeps reading other connections while a listener acks.

`GET /metrics` serves opscopilot's own metrics (infra/telemetry.py), loading or not.

While the copilot loads (`app` is None), `/healthz` answers 503 `{"status": "loading"}` and
signed requests are acked and held (a slash command hears "starting up"); `attach(app)`
replays them through the app. Without the signing secret a loading server answers 503 with
Retry-After, and Slack asks again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qs

from slack_bolt import App, BoltResponse
from slack_bolt.adapter.asgi import SlackRequestHandler
from slack_bolt.adapter.asgi.http_request import AsgiHttpRequest
from slack_bolt.adapter.asgi.http_response import AsgiHttpResponse
from slack_bolt.request import BoltRequest
from slack_sdk.signature import SignatureVerifier

from infra import telemetry
from infra.redact import redact

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"  # opscopilot's own metrics (infra/telemetry.py)
MAX_BODY = 1_000_000  # Slack's payloads are far smaller
MAX_HELD = 1000  # requests held while loading; beyond this, 503 and Slack's own retries
SIGNATURE_WINDOW = 300  # seconds: Slack's own limit on a request's age
READ_TIMEOUT = 10.0  # seconds for a whole request body
DISPATCH_THREADS = 32  # requests inside Bolt at once (acks are short; answers run elsewhere)
STARTING = ":hourglass_flowing_sand: Starting up: `{command} {text}` will run in a moment."

Headers = dict[str, str | Sequence[str]]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class HeldRequest:
    """A signed request that arrived while the copilot loaded, replayed once it is ready."""

    body: str
    query: str
    headers: Headers

    def to_bolt(self) -> BoltRequest:
        return BoltRequest(body=self.body, query=self.query, headers=self.headers)


class Refused(Exception):
    """A request answered before Bolt: its HTTP status and a short reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def _plain(status: int, text: str, extra: dict[str, str] | None = None,
           close: bool = False) -> BoltResponse:
    headers: Headers = {"content-type": "text/plain; charset=utf-8", **(extra or {})}
    if close:
        headers["connection"] = "close"
    return BoltResponse(status=status, body=text, headers=headers)


def _json(status: int, value: object) -> BoltResponse:
    return BoltResponse(status=status, body=json.dumps(value),
                        headers={"content-type": "application/json"})


class SlackASGI(SlackRequestHandler):
    """Bolt's ASGI handler for one app (None while loading), guarded and off the event loop."""

    def __init__(self, app: App | None, signing_secret: str | None = None, *,
                 read_timeout: float = READ_TIMEOUT, threads: int = DISPATCH_THREADS) -> None:
        self.path = EVENTS_PATH
        self.app = app  # type: ignore[assignment]  # None while the copilot loads
        self.verifier = SignatureVerifier(signing_secret) if signing_secret else None
        self.read_timeout = read_timeout
        self.held: list[HeldRequest] = []
        self.lock = threading.Lock()  # app and held change together
        self.executor = ThreadPoolExecutor(threads, thread_name_prefix="slack-dispatch")

    # -- loading -----------------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        return self.app is not None

    def attach(self, app: App) -> threading.Thread:
        """The app is built: events are answered from now on and /healthz says ready; the
        requests held meanwhile are replayed (on the thread returned)."""
        with self.lock:
            self.app, held, self.held = app, self.held, []
        thread = threading.Thread(target=_replay, args=(app, held), daemon=True,
                                  name="slack-replay")
        thread.start()
        return thread

    def hold(self, request: HeldRequest) -> Literal["held", "ready", "full"]:
        with self.lock:
            if self.app is not None:
                return "ready"
            if len(self.held) >= MAX_HELD:
                return "full"
            self.held.append(request)
            return "held"

    # -- ASGI --------------------------------------------------------------------------------
    async def __call__(self, scope: Any, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._handle_lifespan(receive, send)
            return
        if scope["type"] != "http":
            return  # no WebSockets here
        path, method = scope["path"], scope["method"]
        if path == HEALTH_PATH and method in ("GET", "HEAD"):
            resp = self._health()
        elif path == METRICS_PATH and method == "GET":
            body, content_type = telemetry.exposition()
            resp = BoltResponse(status=200, body=body.decode(), headers={
                "content-type": content_type})
        elif path == EVENTS_PATH and method == "POST":
            arrived = time.perf_counter()
            resp = await self.dispatch(AsgiHttpRequest(scope, receive))
            telemetry.record_ack(time.perf_counter() - arrived)
        else:
            resp = _plain(404, "not found", close=path == EVENTS_PATH)
        out = AsgiHttpResponse(status=resp.status, headers=resp.headers, body=resp.body)
        await send(out.get_response_start())
        await send(out.get_response_body())

    def _health(self) -> BoltResponse:
        if self.ready:
            return _json(200, {"status": "ready"})
        return _json(503, {"status": "loading", "held": len(self.held)})

    async def dispatch(self, request: AsgiHttpRequest) -> BoltResponse:
        headers = {k.lower(): str(v) for k, v in request.get_headers().items()}
        try:
            self._check_head(headers)
            raw = await asyncio.wait_for(_read_body(request.receive), self.read_timeout)
            try:
                body = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise Refused(400, "body is not UTF-8") from None
            if self.verifier is not None and not self.verifier.is_valid(
                    body, headers.get("x-slack-request-timestamp"),
                    headers.get("x-slack-signature")):
                raise Refused(401, "invalid signature")
        except Refused as refused:
            log.info("refused a request: %s (%s)", refused, refused.status)
            return _plain(refused.status, str(refused), close=True)
        except TimeoutError:
            log.info("a request body did not arrive within %.0f s", self.read_timeout)
            return _plain(408, "request body too slow", close=True)
        bolt_headers: Headers = {k: [v] for k, v in headers.items()}
        if not self.ready:
            early = self._while_loading(body, request.query_string, bolt_headers)
            if early is not None:
                return early
        app = self.app
        if app is None:
            return _plain(503, "loading", {"retry-after": "5"})
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, _dispatch, app, body,
                                          request.query_string, bolt_headers)

    def _check_head(self, headers: dict[str, str]) -> None:
        """What can be refused from the headers alone, before a byte of the body is read."""
        length = headers.get("content-length")
        if length is None:
            if "chunked" in headers.get("transfer-encoding", "").lower():
                raise Refused(411, "Content-Length required")
            length = "0"
        if not length.isdigit():
            raise Refused(400, "bad Content-Length")
        if int(length) > MAX_BODY:
            raise Refused(413, "too large")
        if self.verifier is None:
            return  # the app checks signatures itself (or none are expected)
        stamp = headers.get("x-slack-request-timestamp", "")
        if not stamp.isdigit() or abs(time.time() - int(stamp)) > SIGNATURE_WINDOW:
            raise Refused(401, "missing or stale signature timestamp")
        if not headers.get("x-slack-signature", "").startswith("v0="):
            raise Refused(401, "missing signature")

    def _while_loading(self, body: str, query: str, headers: Headers) -> BoltResponse | None:
        """Answer a (signed) request that came before the app; None: dispatch it after all."""
        if self.verifier is None:
            return None  # cannot tell Slack from anyone else: 503, Slack retries
        form: dict[str, list[str]] = {}
        if body.startswith("{"):
            try:
                payload = json.loads(body)
            except ValueError:
                return _plain(400, "malformed JSON", close=True)
            if isinstance(payload, dict) and payload.get("type") == "url_verification":
                return _json(200, {"challenge": payload.get("challenge")})
        else:
            form = parse_qs(body)
        if form.get("ssl_check"):
            return _plain(200, "")
        if self.hold(HeldRequest(body, query, headers)) != "held":
            return None  # ready now: dispatch it; or full: 503, Slack retries
        if "command" in form:
            text = STARTING.format(command=form["command"][0],
                                   text=redact(form.get("text", [""])[0])[:200])
            return _json(200, {"response_type": "ephemeral", "text": text})
        return _plain(200, "")


async def _read_body(receive: Receive) -> bytes:
    """The whole body (at most MAX_BODY bytes, whatever the headers said)."""
    chunks = bytearray()
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise Refused(400, "client went away")  # nobody is left to read the answer
        chunks.extend(message.get("body", b""))
        if len(chunks) > MAX_BODY:
            raise Refused(413, "too large")
        if not message.get("more_body", False):
            return bytes(chunks)


def _dispatch(app: App, body: str, query: str, headers: Headers) -> BoltResponse:
    try:
        request = BoltRequest(body=body, query=query, headers=headers)
    except (ValueError, AttributeError, TypeError):  # Bolt parses while building: not JSON,
        return _plain(400, "malformed body", close=True)  # or JSON that is not an object
    return app.dispatch(request)


def _replay(app: App, held: list[HeldRequest]) -> None:
    for request in held:
        try:
            resp = app.dispatch(request.to_bolt())
        except ValueError:  # a held body Bolt cannot parse
            log.warning("a request held while loading could not be parsed")
            continue
        if resp.status >= 400:  # e.g. 401: held past the 5 minutes a signature is valid
            log.warning("a request held while loading was refused (HTTP %s)", resp.status)
    if held:
        log.warning("replayed %d requests that arrived while loading", len(held))
