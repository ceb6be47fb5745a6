"""Firing alerts from Alertmanager's API v2 (`GET /api/v2/alerts`), as an `AlertsBackend`.

Alertmanager only knows the present: `firing(at)` returns the active, unsilenced, uninhibited
alerts that had started by `at`. The service an alert is about is read from a configurable label
(`service` by default, then `job`, then `app`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import httpx

from tools.backends import FiringAlert
from tools.backends.http import JsonReader

PATH = "/api/v2/alerts"
PARAMS = {"active": "true", "silenced": "false", "inhibited": "false"}


def _unix(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


@dataclass
class AlertmanagerBackend:
    base_url: str
    client: httpx.Client
    service_labels: tuple[str, ...] = ("service", "job", "app")
    timeout_s: float = 5.0
    retries: int = 2
    backoff_s: float = 0.2
    source: str = "alertmanager"
    _reader: JsonReader = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        self._reader = JsonReader("Alertmanager", self.base_url, self.client, self.timeout_s,
                                  self.retries, self.backoff_s)

    def firing(self, at: int) -> tuple[list[FiringAlert], str]:
        status, body = self._reader.get(PATH, PARAMS)
        query = f"GET {self.base_url}{PATH}?active=true&silenced=false&inhibited=false"
        if status >= 400:
            reason = body.get("message") if isinstance(body, dict) else None
            raise self._reader.malformed(f"HTTP {status} {reason or ''}".strip())
        if not isinstance(body, list):
            raise self._reader.malformed("alerts are not a list")
        alerts = []
        for item in body:
            try:
                labels = {str(k): str(v) for k, v in item["labels"].items()}
                annotations = item.get("annotations") or {}
                started = _unix(item["startsAt"])
                state = (item.get("status") or {}).get("state", "active")
            except (KeyError, TypeError, AttributeError, ValueError):
                raise self._reader.malformed("an alert has no labels or startsAt") from None
            if state != "active" or started > at:
                continue
            service = next((labels[k] for k in self.service_labels if k in labels), "")
            summary = str(annotations.get("summary") or annotations.get("description") or "")
            alerts.append(FiringAlert(labels.get("alertname", "unnamed"), service,
                                      labels.get("severity", "warning"), started, summary,
                                      labels))
        return alerts, query
