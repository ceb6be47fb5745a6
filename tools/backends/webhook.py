"""The HTTP/JSON receiver CI/CD posts deploys and config changes to (`opscopilot events serve`).

    POST /events   one event object, or a JSON list of them (at most MAX_EVENTS), see
                   `ChangeEventIn`; 201 with {"stored": n, "duplicates": m} once on disk
    GET  /healthz  200 {"ok": true}

Bad input gets 400 with {"error": "<what to fix>"} and stores nothing (a list is all or nothing
at validation time). With a shared secret configured, each POST must carry either
`X-Opscopilot-Signature: sha256=<hex HMAC-SHA256 of the body>` or `Authorization: Bearer
<secret>`, else 401. Bodies above MAX_BODY_BYTES get 413.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from tools.backends.change_store import ChangeEventIn, ChangeStore

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024
MAX_EVENTS = 100
SIGNATURE_HEADER = "X-Opscopilot-Signature"


def sign(secret: str, body: bytes) -> str:
    """The signature header value a sender computes: sha256=<hex HMAC of the raw body>."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def authorised(secret: str | None, body: bytes, signature: str | None,
               authorization: str | None) -> bool:
    if not secret:
        return True
    if signature and hmac.compare_digest(signature.strip(), sign(secret, body)):
        return True
    return bool(authorization) and hmac.compare_digest(
        (authorization or "").strip(), f"Bearer {secret}")


def parse_events(body: bytes) -> list[ChangeEventIn]:
    """The events in a body; ValueError with a one-line message saying what to fix."""
    try:
        raw = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ValueError("body is not valid JSON") from None
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise ValueError("empty list: send at least one event")
    if len(items) > MAX_EVENTS:
        raise ValueError(f"{len(items)} events in one body; send at most {MAX_EVENTS}")
    events = []
    for i, item in enumerate(items):
        where = f"event {i}: " if isinstance(raw, list) else ""
        if not isinstance(item, dict):
            raise ValueError(f"{where}expected a JSON object with service, kind, description")
        try:
            events.append(ChangeEventIn.model_validate(item))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
                                 for e in exc.errors())
            raise ValueError(f"{where}{problems}") from None
    return events


class JsonHandler(BaseHTTPRequestHandler):
    """A small JSON endpoint: `_reply`, and GET /healthz (anything else: 404 with `not_found`).
    Shared by the events receiver and the Alertmanager receiver (bot/slack/alerts.py)."""

    not_found = "not found"

    def _reply(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 (stdlib name)
        if self.path == "/healthz":
            self._reply(200, {"ok": True})
        else:
            self._reply(404, {"error": self.not_found})


class _Handler(JsonHandler):
    server: EventServer
    server_version = "opscopilot-events"
    not_found = "not found: POST events to /events"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        log.info("%s %s", self.address_string(), format % args)

    def do_POST(self) -> None:  # noqa: N802
        if self.path.rstrip("/") != "/events":
            self._reply(404, {"error": "not found: POST events to /events"})
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._reply(411, {"error": "Content-Length header required"})
            return
        if length > MAX_BODY_BYTES:
            self._reply(413, {"error": f"body of {length} bytes; at most {MAX_BODY_BYTES}"})
            return
        body = self.rfile.read(length)
        if not authorised(self.server.secret, body, self.headers.get(SIGNATURE_HEADER),
                          self.headers.get("Authorization")):
            self._reply(401, {"error": f"missing or wrong {SIGNATURE_HEADER} (sha256=<hex "
                                       "HMAC-SHA256 of the body>) or Authorization: Bearer"})
            return
        try:
            stored, duplicates = self.server.store.add(parse_events(body))
        except ValueError as exc:
            self._reply(400, {"error": str(exc)})
            return
        except SQLAlchemyError as exc:  # the database is locked, full or gone: retry later
            log.error("could not store change events: %s", exc)
            self._reply(503, {"error": "could not store the events; retry later"})
            return
        self._reply(201, {"stored": stored, "duplicates": duplicates})


class EventServer(ThreadingHTTPServer):
    """The receiver: `serve_forever()` in a process, or a thread in tests (port 0 = any)."""

    daemon_threads = True

    def __init__(self, store: ChangeStore, host: str = "127.0.0.1", port: int = 0,
                 secret: str | None = None) -> None:
        super().__init__((host, port), _Handler)
        self.store = store
        self.secret = secret

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"
