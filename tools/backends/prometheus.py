"""Metrics from any Prometheus HTTP API (Prometheus, Thanos, Mimir, VictoriaMetrics).

The copilot's metric names (tools/catalog.py) become PromQL through templates a team can change,
so "error rate of checkout" maps onto its own metric names and labels. Reads are idempotent: a
timeout, a refused connection or a 5xx is retried a bounded number of times with backoff, then
becomes a `BackendError` (tools/backends/http.py) whose one line the answer can show. A 4xx
(a bad query) is not retried.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
import numpy as np

from tools.backends import Series
from tools.backends.http import JsonReader
from tools.base import BackendError

# {service} and {label} are filled in; {window} is the rate window (e.g. 2m).
DEFAULT_TEMPLATES: dict[str, str] = {
    "request_rate": 'sum(rate(http_requests_total{{{label}="{service}"}}[{window}]))',
    "error_rate": ('100 * sum(rate(http_requests_total{{{label}="{service}",code=~"5.."}}'
                   '[{window}])) / sum(rate(http_requests_total{{{label}="{service}"}}'
                   '[{window}]))'),
    "latency_p50": ('1000 * histogram_quantile(0.5, sum by (le) (rate('
                    'http_request_duration_seconds_bucket{{{label}="{service}"}}[{window}])))'),
    "latency_p95": ('1000 * histogram_quantile(0.95, sum by (le) (rate('
                    'http_request_duration_seconds_bucket{{{label}="{service}"}}[{window}])))'),
    "latency_p99": ('1000 * histogram_quantile(0.99, sum by (le) (rate('
                    'http_request_duration_seconds_bucket{{{label}="{service}"}}[{window}])))'),
    "cpu": ('100 * sum(rate(container_cpu_usage_seconds_total{{{label}="{service}"}}[{window}]))'
            ' / sum(kube_pod_container_resource_limits{{{label}="{service}",resource="cpu"}})'),
    "memory": 'sum(container_memory_working_set_bytes{{{label}="{service}"}}) / 1048576',
}


@dataclass
class PrometheusBackend:
    """`MetricsBackend` over a Prometheus-compatible HTTP API."""

    base_url: str
    client: httpx.Client
    templates: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_TEMPLATES))
    service_label: str = "service"
    rate_window: str = "2m"
    step_s: int = 15
    timeout_s: float = 5.0
    retries: int = 2
    backoff_s: float = 0.2
    source: str = "prometheus"

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        self._reader = JsonReader("Prometheus", self.base_url, self.client, self.timeout_s,
                                  self.retries, self.backoff_s)

    # -- MetricsBackend
    def services(self) -> list[str]:
        data = self._get(f"/api/v1/label/{self.service_label}/values", {})
        if not isinstance(data, list):
            raise self._malformed("label values are not a list")
        return sorted(str(v) for v in data)

    def metric_names(self, service: str) -> list[str]:
        return list(self.templates)

    def promql(self, service: str, metric: str) -> str:
        try:
            template = self.templates[metric]
        except KeyError:
            raise BackendError(f"no PromQL template for metric {metric!r}; configure one") \
                from None
        return template.format(service=service, label=self.service_label,
                               window=self.rate_window)

    def range_query(self, service: str, metric: str, start: int, end: int) -> Series:
        query = self.promql(service, metric)
        data = self._get("/api/v1/query_range",
                         {"query": query, "start": start, "end": end, "step": self.step_s})
        if not isinstance(data, dict) or data.get("resultType") != "matrix":
            raise self._malformed("query_range did not return a matrix")
        ts, vs = self._merge(data.get("result"))
        link = f"{self.base_url}/graph?" + urlencode(
            {"g0.expr": query, "g0.tab": "0", "g0.range_input": f"{max(1, end - start)}s",
             "g0.end_input": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(end))})
        return Series(service, metric, ts, vs, query, link)

    # -- internals
    def _merge(self, result: Any) -> tuple[np.ndarray, np.ndarray]:
        """One series from a matrix; several (a template without aggregation) are summed."""
        if not isinstance(result, list):
            raise self._malformed("result is not a list")
        merged: dict[int, float] = {}
        for series in result:
            try:
                for t, v in series["values"]:
                    merged[int(float(t))] = merged.get(int(float(t)), 0.0) + float(v)
            except (KeyError, TypeError, ValueError):
                raise self._malformed("a series has no [time, value] pairs") from None
        times = sorted(merged)
        return (np.asarray(times, dtype=np.int64),
                np.asarray([merged[t] for t in times], dtype=float))

    def _malformed(self, what: str) -> BackendError:
        return self._reader.malformed(what)

    def _get(self, path: str, params: Mapping[str, Any]) -> Any:
        status, body = self._reader.get(path, params)
        if not isinstance(body, dict):
            raise self._malformed("not a JSON object")
        if status >= 400 or body.get("status") != "success":
            reason = body.get("error") or f"HTTP {status}"
            raise BackendError(f"Prometheus at {self.base_url} rejected the query: {reason}")
        return body.get("data")
