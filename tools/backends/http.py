"""Reading JSON from an HTTP API the way every backend should: a timeout on each call (the whole
body must arrive within it), bounded retries with backoff for what may pass (timeouts, refused
or dropped connections, 5xx), and one clear `BackendError` line naming the system and what went
wrong. A 4xx is the server's verdict on the request: returned (JSON) or raised (text), not
retried."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx

from tools.base import BackendError, BackendTimeout

MAX_BODY_BYTES = 64 * 2**20  # more is a query asking for far too much, not an answer


@dataclass
class JsonReader:
    system: str  # "Prometheus", "Alertmanager": how error messages name it
    base_url: str
    client: httpx.Client
    timeout_s: float = 5.0
    retries: int = 2
    backoff_s: float = 0.2

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")

    def malformed(self, what: str) -> BackendError:
        return BackendError(f"{self.system} at {self.base_url} returned a malformed body: {what}")

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> tuple[int, Any]:
        """(status code, parsed JSON) of a GET that got an answer below 500; raises otherwise."""
        url = f"{self.base_url}{path}"
        last: BackendError | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                status, body = self._fetch(url, params)
            except httpx.TimeoutException:
                last = BackendTimeout(f"{self.system} at {self.base_url} did not answer within "
                                      f"{self.timeout_s:g} s")
                continue
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
                    raise BackendError(f"{self.system} at {self.base_url} rejected the request "
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
    _reader: JsonReader = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        self._reader = JsonReader(self.SYSTEM, self.base_url, self.client, self.timeout_s,
                                  self.retries, self.backoff_s)
