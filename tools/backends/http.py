"""Reading JSON from an HTTP API the way every backend should: a timeout on each call (the whole
body must arrive within it), bounded retries with backoff for what may pass quickly (refused or
dropped connections, 5xx), and one clear `BackendError` line naming the system and what went
wrong. A 4xx is the server's verdict on the request: returned (JSON) or raised (text), not
retried. A timeout is not retried either: it has already cost the whole budget.

A reader is also a circuit breaker: once a call has failed for a reason on the server's side
(unreachable, timed out, 5xx, broken reply), every call in the next `cooldown_s` fails at once
with the same message instead of waiting again, so one answer that reads twenty series from a
hanging Prometheus costs one timeout, not twenty; the first call after the pause tries again and
a success closes the breaker."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx

from tools.base import BackendError, BackendTimeout

MAX_BODY_BYTES = 64 * 2**20  # more is a query asking for far too much, not an answer


class RequestRejected(BackendError):
    """The server answered 4xx to this request: the request is wrong, the server is up."""


@dataclass
class Breaker:
    """A server's last failure: while it is fresh, readers fail at once instead of waiting.
    Readers of one server (its metrics, alerts and discovery) share one."""

    cooldown_s: float = 30.0  # how long a failed server is not asked again
    clock: Any = time.monotonic
    _down: tuple[float, BackendError] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def check(self) -> None:
        """Raise the last failure again while it is fresh."""
        with self._lock:
            down = self._down
        if down is None:
            return
        since, error = down
        waited = self.clock() - since
        if waited < self.cooldown_s:
            raise type(error)(f"{error} ({waited:.0f} s ago; not asked again for "
                              f"{self.cooldown_s - waited:.0f} s)")

    def failed(self, error: BackendError) -> None:
        with self._lock:
            self._down = (self.clock(), error)

    def succeeded(self) -> None:
        with self._lock:
            self._down = None


@dataclass
class JsonReader:
    system: str  # "Prometheus", "Alertmanager": how error messages name it
    base_url: str
    client: httpx.Client
    timeout_s: float = 5.0
    retries: int = 2
    backoff_s: float = 0.2
    breaker: Breaker = field(default_factory=Breaker)

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")

    def malformed(self, what: str) -> BackendError:
        return BackendError(f"{self.system} at {self.base_url} returned a malformed body: {what}")

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> tuple[int, Any]:
        """(status code, parsed JSON) of a GET that got an answer below 500; raises otherwise."""
        self.breaker.check()
        try:
            result = self._get(f"{self.base_url}{path}", params)
        except RequestRejected:
            raise  # the request's fault, not the server's: ask again freely
        except BackendError as exc:
            self.breaker.failed(exc)
            raise
        self.breaker.succeeded()
        return result

    def _get(self, url: str, params: Mapping[str, Any] | None) -> tuple[int, Any]:
        last: BackendError | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                status, body = self._fetch(url, params)
            except httpx.TimeoutException:
                last = BackendTimeout(f"{self.system} at {self.base_url} did not answer within "
                                      f"{self.timeout_s:g} s")
                break  # the whole budget is spent: another try would double the wait
            except httpx.TransportError as exc:
                last = BackendError(f"{self.system} at {self.base_url} is unreachable: "
                                    f"{exc or type(exc).__name__}")
                continue
            except httpx.RequestError as exc:  # a body that cannot be decoded, a redirect loop
                last = BackendError(f"{self.system} at {self.base_url} sent a broken reply: "
                                    f"{exc or type(exc).__name__}")
                continue
            if status >= 500:
                last = BackendError(f"{self.system} at {self.base_url} answered HTTP {status}")
                continue
            try:
                return status, json.loads(body)
            except (json.JSONDecodeError, UnicodeDecodeError):
                if status >= 400:  # Loki and Tempo answer errors as plain text
                    text = " ".join(body.decode("utf-8", "replace").split())[:200]
                    raise RequestRejected(f"{self.system} at {self.base_url} rejected the request "
                                       f"(HTTP {status}): {text or '(empty body)'}") from None
                raise self.malformed("not JSON") from None
        assert last is not None
        raise last

    def _fetch(self, url: str, params: Mapping[str, Any] | None) -> tuple[int, bytes]:
        """One GET whose body must arrive whole within the timeout (a server trickling bytes
        would otherwise reset httpx's per-read timeout forever) and below MAX_BODY_BYTES."""
        deadline = time.monotonic() + self.timeout_s
        with self.client.stream("GET", url, params=dict(params or {}),
                                timeout=self.timeout_s) as response:
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                chunks.append(chunk)
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    raise self.malformed(f"more than {MAX_BODY_BYTES // 2**20} MiB")
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout("body too slow", request=response.request)
            return response.status_code, b"".join(chunks)


@dataclass
class HttpBackend:
    """What every HTTP backend holds: where its API is, the client, and the read policy; `_reader`
    (a JsonReader named after the system) does the reading. Subclasses set `SYSTEM`."""

    SYSTEM: ClassVar[str] = "HTTP API"
    base_url: str
    client: httpx.Client
    timeout_s: float = 5.0
    retries: int = 2
    backoff_s: float = 0.2
    breaker: Breaker = field(default_factory=Breaker)  # shared with other readers of the server
    _reader: JsonReader = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        self._reader = JsonReader(self.SYSTEM, self.base_url, self.client, self.timeout_s,
                                  self.retries, self.backoff_s, self.breaker)
