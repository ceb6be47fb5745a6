"""A stand-in for Slack on loopback, shipped with the seam (like httpx's MockTransport).

`FakeSlackAPI` is a real HTTP server that answers the Web API methods the bot calls
(`auth.test`, `chat.postMessage`, `chat.update`, `conversations.create`, the file-upload flow,
`response_url` posts ...) the way Slack documents them, and records every call, so tests and
benchmarks assert on what users would see. `signed_headers` signs a request body the way Slack
does (v0 HMAC-SHA256 over `v0:{timestamp}:{body}`).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from slack_sdk.signature import SignatureVerifier

BOT_USER = "UBOT0001"
TEAM = "T0000001"


@dataclass
class Call:
    """One request the bot made: the API method (or `upload`, `response`), its body, its token,
    and what the stand-in answered (e.g. the `ts` of a posted message)."""

    method: str
    body: dict[str, Any]
    token: str = ""
    at: float = field(default_factory=time.monotonic)
    reply: dict[str, Any] = field(default_factory=dict)
    path: str = ""  # e.g. /response/r1: which response_url was posted to


def signed_headers(secret: str, body: str, timestamp: int | None = None,
                   content_type: str = "application/json") -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = str(SignatureVerifier(secret).generate_signature(timestamp=ts, body=body))
    return {"content-type": content_type, "x-slack-request-timestamp": ts,
            "x-slack-signature": signature}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the default (5) resets connections in a burst


class FakeSlackAPI:
    """Slack's Web API on 127.0.0.1:<free port>; `base_url` goes to `WebClient(base_url=...)`."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.channels: dict[str, str] = {}  # name -> id
        self.users_by_email: dict[str, str] = {}
        self._lock = threading.Lock()
        self._ts = itertools.count(1)
        self._ids = itertools.count(1)
        self._rate_limited: dict[str, int] = {}
        self.revoked_tokens: set[str] = set()  # answered `invalid_auth`, as Slack does
        self._server = _Server(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)  # polls often: quick to stop

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> FakeSlackAPI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeSlackAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def root(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def base_url(self) -> str:
        return self.root + "/api/"

    def response_url(self, name: str = "r1") -> str:
        return f"{self.root}/response/{name}"

    # -- what tests use ------------------------------------------------------------------
    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Poll until `predicate()` is truthy (lazy listeners run in threads); its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s; calls: "
                                     f"{[c.method for c in self.calls]}")
            time.sleep(0.02)

    def rate_limit(self, method: str, times: int = 1) -> None:
        """Answer the next `times` calls to `method` with HTTP 429 and `Retry-After: 1`."""
        self._rate_limited[method] = times

    # -- the server ----------------------------------------------------------------------
    def _reply(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        ts = f"{1800000000 + next(self._ts)}.000100"
        if method == "auth.test":
            return {"ok": True, "url": "https://example.slack.com/", "team": "Example",
                    "user": "opscopilot", "team_id": TEAM, "user_id": BOT_USER,
                    "bot_id": "B0000001"}
        if method in ("chat.postMessage", "chat.update"):
            return {"ok": True, "channel": body.get("channel"), "ts": body.get("ts") or ts,
                    "message": {"text": body.get("text", ""), "ts": body.get("ts") or ts}}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": ts}
        if method == "conversations.create":
            name = str(body.get("name"))
            with self._lock:
                if name in self.channels:
                    return {"ok": False, "error": "name_taken"}
                self.channels[name] = f"C{next(self._ids):08d}"
                return {"ok": True, "channel": {"id": self.channels[name], "name": name,
                                                "is_channel": True}}
        if method == "users.lookupByEmail":
            user = self.users_by_email.get(str(body.get("email")))
            if user is None:
                return {"ok": False, "error": "users_not_found"}
            return {"ok": True, "user": {"id": user, "profile": {"email": body.get("email")}}}
        if method == "files.getUploadURLExternal":
            file_id = f"F{next(self._ids):08d}"
            return {"ok": True, "upload_url": f"{self.root}/upload/{file_id}", "file_id": file_id}
        if method == "files.completeUploadExternal":
            files = json.loads(body.get("files", "[]")) if isinstance(body.get("files"), str) \
                else body.get("files", [])
            return {"ok": True, "files": [{"id": f["id"], "title": f.get("title", "")}
                                          for f in files]}
        if method == "apps.connections.open":  # Socket Mode's WebSocket URL (app token)
            return {"ok": True, "url": f"{self.root.replace('http', 'ws', 1)}/socket"}
        if method == "files.info":
            return {"ok": True, "file": {"id": body.get("file"), "name": "chart.png"}}
        return {"ok": True}  # conversations.invite, pins.add, views.open, ...

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = self.path.split("?")[0]
                if path.startswith("/upload/"):
                    fake._record(Call("upload", {"path": path, "bytes": len(raw),
                                                 "png": raw[:8] == b"\x89PNG\r\n\x1a\n"}))
                    self._send(200, b"OK", "text/plain")
                    return
                if path.startswith("/response/"):
                    fake._record(Call("response", json.loads(raw or b"{}"), path=path))
                    self._send(200, b"ok", "text/plain")
                    return
                method = path.removeprefix("/api/")
                if "json" in (self.headers.get("Content-Type") or ""):
                    body = json.loads(raw or b"{}")
                else:
                    body = dict(parse_qsl(raw.decode()))
                token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                with fake._lock:
                    left = fake._rate_limited.get(method, 0)
                    if left:
                        fake._rate_limited[method] = left - 1
                if left:
                    fake._record(Call(method + ":429", body, token))
                    self._send(429, b'{"ok":false,"error":"ratelimited"}', "application/json",
                               {"Retry-After": "1"})
                    return
                call = Call(method, body, token)
                call.reply = ({"ok": False, "error": "invalid_auth"}
                              if token in fake.revoked_tokens else fake._reply(method, body))
                fake._record(call)
                self._send(200, json.dumps(call.reply).encode(), "application/json")

            def _send(self, status: int, data: bytes, ctype: str,
                      extra: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                for key, value in (extra or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def _record(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)
