"""Firing alerts from Alertmanager's API v2 (`GET /api/v2/alerts`) and Prometheus' own
`GET /api/v1/alerts`, each an `AlertsBackend`; `CombinedAlerts` reads both as one.

Alertmanager only knows the present: `firing(at)` returns the active, unsilenced, uninhibited
alerts that had started by `at`, and for an `at` in the past (more than `PRESENT_S` before the
clock) it says it cannot know (`NoHistory`) instead of answering "none firing". Prometheus keeps
history: for a past `at` its backend reads the `ALERTS{alertstate="firing"}` series at that time
and the start from `ALERTS_FOR_STATE`. The service an alert is about is read from a configurable
label (`service` by default, then `job`, then `app`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from tools.backends import AlertsBackend, FiringAlert
from tools.backends.http import HttpBackend
from tools.base import BackendError
from tools.formatting import fmt_time

PATH = "/api/v2/alerts"
PARAMS = {"active": "true", "silenced": "false", "inhibited": "false"}
PRESENT_S = 300  # an `at` this close to the clock is "now": the current state answers it


class NoHistory(BackendError):
    """The source knows only the current alerts, and the question is about the past."""


def is_past(at: int, clock: Callable[[], float]) -> bool:
    return at < clock() - PRESENT_S


def _unix(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


def firing_alert(labels: dict[str, str], annotations: dict[str, str], started: int,
                 service_labels: tuple[str, ...]) -> FiringAlert:
    """An alert as both Alertmanager and Prometheus label it: the service from the first of
    `service_labels` present, the summary (or description) annotation as its text."""
    service = next((labels[k] for k in service_labels if k in labels), "")
    summary = str(annotations.get("summary") or annotations.get("description") or "")
    return FiringAlert(labels.get("alertname", "unnamed"), service,
                       labels.get("severity", "warning"), started, summary, labels)


@dataclass
class AlertmanagerBackend(HttpBackend):
    SYSTEM: ClassVar[str] = "Alertmanager"
    service_labels: tuple[str, ...] = ("service", "job", "app")
    source: str = "alertmanager"
    clock: Callable[[], float] = time.time

    def firing(self, at: int) -> tuple[list[FiringAlert], str]:
        if is_past(at, self.clock):
            raise NoHistory(f"Alertmanager at {self.base_url} keeps only the current alerts: "
                            f"which were firing at {fmt_time(at)} cannot be known from it")
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
            alerts.append(firing_alert(labels, annotations, started, self.service_labels))
        return alerts, query


@dataclass
class PrometheusAlertsBackend(HttpBackend):
    """Firing alerts from Prometheus' own rule evaluation (`GET /api/v1/alerts`): the alerts
    source when there is no Alertmanager, or a second one beside it. Pending alerts are left out."""

    SYSTEM: ClassVar[str] = "Prometheus"
    service_labels: tuple[str, ...] = ("service", "job", "app")
    source: str = "prometheus"
    clock: Callable[[], float] = time.time

    def firing(self, at: int) -> tuple[list[FiringAlert], str]:
        from tools.backends.prometheus import prometheus_data

        if is_past(at, self.clock):
            return self._firing_then(at)
        data = prometheus_data(self._reader, "/api/v1/alerts", {})
        if not isinstance(data, dict) or not isinstance(data.get("alerts"), list):
            raise self._reader.malformed("data.alerts is not a list")
        alerts = []
        for item in data["alerts"]:
            try:
                labels = {str(k): str(v) for k, v in item["labels"].items()}
                annotations = item.get("annotations") or {}
                state = item["state"]
                started = _unix(item["activeAt"]) if item.get("activeAt") else at
            except (KeyError, TypeError, AttributeError, ValueError):
                raise self._reader.malformed("an alert has no labels or state") from None
            if state != "firing" or started > at:
                continue
            alerts.append(firing_alert(labels, annotations, started, self.service_labels))
        return alerts, f"GET {self.base_url}/api/v1/alerts (state firing)"

    def _firing_then(self, at: int) -> tuple[list[FiringAlert], str]:
        """What was firing at a past `at`, from the series Prometheus writes for its alerts."""
        firing = self._vector('ALERTS{alertstate="firing"}', at)
        started = {_key(labels): int(value) for labels, value in
                   self._vector("ALERTS_FOR_STATE", at)}
        alerts = []
        for labels, _ in firing:
            labels.pop("alertstate", None)
            labels.pop("__name__", None)
            since = started.get(_key(labels), at)
            alerts.append(firing_alert(labels, {}, min(since, at), self.service_labels))
        query = (f'GET {self.base_url}/api/v1/query ALERTS{{alertstate="firing"}} and '
                 f"ALERTS_FOR_STATE at {fmt_time(at)} (history: no annotations)")
        return alerts, query

    def _vector(self, promql: str, at: int) -> list[tuple[dict[str, str], float]]:
        from tools.backends.prometheus import prometheus_data

        data: Any = prometheus_data(self._reader, "/api/v1/query", {"query": promql, "time": at})
        if not isinstance(data, dict) or not isinstance(data.get("result"), list):
            raise self._reader.malformed("data.result is not a list")
        out = []
        for item in data["result"]:
            try:
                labels = {str(k): str(v) for k, v in item["metric"].items()}
                out.append((labels, float(item["value"][1])))
            except (KeyError, TypeError, AttributeError, ValueError, IndexError):
                raise self._reader.malformed("a series has no metric or value") from None
        return out


def _key(labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in labels.items()
                        if k not in ("__name__", "alertstate")))


@dataclass
class CombinedAlerts:
    """Several alert sources as one: alerts seen by more than one (same name and service) are
    listed once. A source that fails is named in the query line while the others still answer;
    only when every source fails is it an error."""

    backends: list[AlertsBackend]
    source: str = field(init=False)

    def __post_init__(self) -> None:
        self.source = "+".join(b.source for b in self.backends)

    def firing(self, at: int) -> tuple[list[FiringAlert], str]:
        alerts: dict[tuple[str, str], FiringAlert] = {}
        queries: list[str] = []
        errors: list[BackendError] = []
        for backend in self.backends:
            try:
                found, query = backend.firing(at)
            except BackendError as exc:
                errors.append(exc)
                queries.append(f"unavailable: {exc}")
                continue
            queries.append(query)
            for a in found:
                alerts.setdefault((a.name, a.service), a)
        if errors and len(errors) == len(self.backends):
            raise BackendError("; ".join(str(e) for e in errors))
        return list(alerts.values()), "; ".join(queries)
