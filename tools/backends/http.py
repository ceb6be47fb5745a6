"""Reading JSON from an HTTP API the way every backend should: a timeout on each call, bounded
retries with backoff for what may pass (timeouts, refused connections, 5xx), and one clear
`BackendError` line naming the system and what went wrong."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from tools.base import BackendError, BackendTimeout


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
                response = self.client.get(url, params=dict(params or {}),
                                           timeout=self.timeout_s)
            except httpx.TimeoutException:
                last = BackendTimeout(f"{self.system} at {self.base_url} did not answer within "
                                      f"{self.timeout_s:g} s")
                continue
            except httpx.TransportError as exc:
                last = BackendError(f"{self.system} at {self.base_url} is unreachable: {exc}")
                continue
            if response.status_code >= 500:
                last = BackendError(f"{self.system} at {self.base_url} answered HTTP "
                                    f"{response.status_code}")
                continue
            try:
                return response.status_code, response.json()
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise self.malformed("not JSON") from None
        assert last is not None
        raise last
