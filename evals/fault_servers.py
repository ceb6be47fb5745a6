"""Misbehaving HTTP servers on loopback, for the tests and the benchmark of how answers fail
(tests/test_backend_faults.py, evals/bench_backend_faults.py).

`FaultServer(mode)` is a real server on a free loopback port that is, by mode:

    up         a proxy to `upstream` (a real Prometheus, ...); without one, an empty success
               in Prometheus' envelope (`{"status": "success", "data": []}`)
    down       nothing listens: connections are refused
    hang       accepts the connection, reads the request, never answers
    500        answers HTTP 500
    truncated  answers 200 with JSON cut off in the middle
    html       answers 200 with an HTML page (a proxy's or an SSO login page)

The mode can be changed while it runs (`server.mode = "hang"`), so a test can take a backend
down under a running copilot and bring it back.
"""

from __future__ import annotations

import http.server
import socket
import threading
from typing import Any

import httpx

FAULTS = ("down", "hang", "500", "truncated", "html")
MODES = ("up", *FAULTS)
HANG_AT_MOST_S = 120.0  # a hanging handler gives up eventually even if stop() is never called
TRUNCATED = b'{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"servi'
EMPTY = b'{"status":"success","data":[]}'
HTML = (b"<!DOCTYPE html><html><head><title>Sign in</title></head>"
        b"<body><form action=/login>Sign in to continue</form></body></html>")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server  # HTTP/1.0: one request per connection, so "down" takes effect at once

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        owner = self.server.owner
        owner.count()
        mode = owner.mode
        if mode == "hang":
            owner.stopped.wait(HANG_AT_MOST_S)
            self.close_connection = True
            return
        if mode == "500":
            self._send(500, b"internal server error", "text/plain")
        elif mode == "truncated":
            self._send(200, TRUNCATED, "application/json")
        elif mode == "html":
            self._send(200, HTML, "text/html; charset=utf-8")
        elif owner.upstream is None:
            self._send(200, EMPTY, "application/json")
        else:
            reply = owner.forward(self.path)
            self._send(reply.status_code, reply.content,
                       reply.headers.get("content-type", "application/json"))

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    owner: FaultServer


class FaultServer:
    """A loopback HTTP server that fails the way `mode` says; use as a context manager."""

    def __init__(self, mode: str = "hang", upstream: str | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {', '.join(MODES)}")
        self.upstream = upstream.rstrip("/") if upstream else None
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.requests = 0  # GETs received (a refused connection is none)
        self.stopped = threading.Event()
        self._mode = mode
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._client = httpx.Client(timeout=30)

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {', '.join(MODES)}")
        self._mode = mode
        if mode == "down":
            self._close()
        elif self._server is None and not self.stopped.is_set():
            self._listen()

    def count(self) -> None:
        with self._lock:
            self.requests += 1

    def forward(self, path: str) -> httpx.Response:
        return self._client.get(f"{self.upstream}{path}")

    def start(self) -> FaultServer:
        if self._mode != "down":
            self._listen()
        return self

    def stop(self) -> None:
        self.stopped.set()  # hanging handlers return
        self._close()
        self._client.close()

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _listen(self) -> None:
        server = _Server(("127.0.0.1", self.port), _Handler)  # same port: allow_reuse_address
        server.owner = self
        threading.Thread(target=server.serve_forever, name=f"fault-{self.port}",
                         daemon=True).start()
        self._server = server

    def _close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
