"""Reading JSON from an HTTP API the way every backend should: a timeout on each read (the whole
body must arrive within it, retries included), bounded retries with backoff for what may pass
quickly (refused or dropped connections, 5xx), and one clear `BackendError` line naming the
system and what went wrong. A 4xx is the server's verdict on the request: returned (JSON) or
raised (text), not retried. A timeout is not retried either: it has already cost the whole budget.

Every read goes through the server's circuit breaker and the current answer's memory
(tools/backends/health.py): once the server failed for a reason on its side (unreachable, timed
out, 5xx, a broken or malformed reply), the other reads of the same answer fail at once with the
same line, and so do other answers' reads until the breaker's cool-down ends and one read probes
again. An answer that reads twenty series from a hanging Prometheus costs one timeout, not twenty.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx

from tools.backends.health import (
    Breaker,
    failed_in_this_answer,
    one_read_at_a_time,
    remember_failure,
)
from tools.base import BackendError, BackendTimeout

__all__ = ["Breaker", "HttpBackend", "JsonReader", "RequestRejected"]

MAX_BODY_BYTES = 64 * 2**20  # more is a query asking for far too much, not an answer
_ERRNO = re.compile(r"^\[Errno -?\d+\]\s*")


class RequestRejected(BackendError):
    """The server answered 4xx to this request: the request is wrong, the server is up."""


def plain_reason(exc: Exception) -> str:
    """A transport error in words ("connection refused", not "[Errno 111] Connection refused")."""
    text = _ERRNO.sub("", " ".join(str(exc).split())).rstrip(".")
    if not text:
        return type(exc).__name__
    return text[0].lower() + text[1:] if text[1:2].islower() or len(text) == 1 else text


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
        if not self.breaker.url:  # a breaker of its own: named after this reader's server
            self.breaker.system, self.breaker.url = self.system, self.base_url

    def malformed(self, what: str) -> BackendError:
        """The error for a reply the caller could not use; the server counts as failing (its
        breaker opens, the rest of the answer does not ask it again)."""
        error = self._broken(what)
        self._failed(error)
        return error

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> tuple[int, Any]:
        """(status code, parsed JSON) of a GET that got an answer below 500; raises otherwise."""
        with one_read_at_a_time(self.breaker):
            return self._admitted_get(path, params)

    def _admitted_get(self, path: str, params: Mapping[str, Any] | None) -> tuple[int, Any]:
        earlier = failed_in_this_answer(self.breaker)
        if earlier is not None:  # this answer already met the failure: same line, no wait
            raise type(earlier)(str(earlier))
        try:
            self.breaker.admit()
        except BackendError as exc:
            remember_failure(self.breaker, exc)
            raise
        try:
            result = self._get(f"{self.base_url}{path}", params)
        except RequestRejected:
            self.breaker.succeeded()  # the request's fault: the server is up, ask again freely
            raise
        except BackendError as exc:
            self._failed(exc)
            raise
        except BaseException:
            self.breaker.released()  # no verdict on the server (a bug, an interrupt)
            raise
        self.breaker.succeeded()
        return result

    def _failed(self, error: BackendError) -> None:
        self.breaker.failed(error)
        remember_failure(self.breaker, error)

    def _broken(self, what: str) -> BackendError:
        return BackendError(f"{self.system} at {self.base_url} returned a malformed body: {what}")

    def _get(self, url: str, params: Mapping[str, Any] | None) -> tuple[int, Any]:
        deadline = time.monotonic() + self.timeout_s
        last: BackendError | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                pause = self.backoff_s * 2 ** (attempt - 1)
                if time.monotonic() + pause >= deadline:
                    break  # no time left for another try within the read's budget
                time.sleep(pause)
            try:
                status, body = self._fetch(url, params, deadline)
            except httpx.TimeoutException:
                last = BackendTimeout(f"{self.system} at {self.base_url} did not answer within "
                                      f"{self.timeout_s:g} s")
                break  # the whole budget is spent: another try would double the wait
            except httpx.TransportError as exc:
                last = BackendError(f"{self.system} at {self.base_url} is unreachable: "
                                    f"{plain_reason(exc)}")
                continue
            except httpx.RequestError as exc:  # a body that cannot be decoded, a redirect loop
                last = BackendError(f"{self.system} at {self.base_url} sent a broken reply: "
                                    f"{plain_reason(exc)}")
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
                raise self._broken(_not_json(body)) from None
        assert last is not None
        raise last

    def _fetch(self, url: str, params: Mapping[str, Any] | None,
               deadline: float) -> tuple[int, bytes]:
        """One GET whose body must arrive whole by `deadline` (a server trickling bytes would
        otherwise reset httpx's per-read timeout forever) and below MAX_BODY_BYTES."""
        budget = max(deadline - time.monotonic(), 0.001)
        with self.client.stream("GET", url, params=dict(params or {}),
                                timeout=budget) as response:
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                chunks.append(chunk)
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    raise self._broken(f"more than {MAX_BODY_BYTES // 2**20} MiB")
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout("body too slow", request=response.request)
            return response.status_code, b"".join(chunks)


def _not_json(body: bytes) -> str:
    """Why a 2xx/3xx body is unusable, in words a person recognises (a login page, a cut-off
    reply)."""
    head = body.lstrip()[:200].lower()
    if head.startswith((b"<!doctype html", b"<html")) or b"<body" in head:
        return "not JSON but an HTML page (a proxy or login page in front of it?)"
    if head.startswith((b"{", b"[")):
        return "not JSON (cut off or invalid)"
    return "not JSON"


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
