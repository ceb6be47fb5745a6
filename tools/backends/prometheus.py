"""Metrics from any Prometheus HTTP API (Prometheus, Thanos, Mimir, VictoriaMetrics).

The copilot's metric names (tools/catalog.py) become PromQL through templates a team can change
(`load_templates`: a YAML file), so "latency of checkout" maps onto its own metric names and
labels. Services and metric names are discovered (`/api/v1/label/<name>/values`,
`/api/v1/series`, `/api/v1/labels`): a catalog metric is offered for a service only when the
metrics its template reads exist for it. Reads are idempotent: a refused connection or a 5xx is
retried a bounded number of times with backoff within the read's timeout, then becomes a
`BackendError` (tools/backends/http.py) whose one line the answer can show; the server is then
not asked again in the same answer, nor in the next ones until its breaker's cool-down ends
(tools/backends/health.py). A 4xx (a bad query) is not retried.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import Any
from urllib.parse import urlencode

import httpx
import numpy as np
import yaml

from tools.backends import Series
from tools.backends.health import Breaker
from tools.backends.http import JsonReader
from tools.base import BackendError
from tools.formatting import yaml_problem

# {service} and {label} are filled in; {window} is the rate window (e.g. 2m). Templates from a
# file may use $service, $label and $window instead, which needs no doubled braces.
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

# A metric's limit, for capacity forecasts (disk is a share of its volume: always 100 %).
DEFAULT_CAPACITY: dict[str, str] = {
    "memory": ('sum(kube_pod_container_resource_limits{{{label}="{service}",resource="memory"}})'
               ' / 1048576'),
}

log = logging.getLogger(__name__)
_SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{")


class TemplateFileError(ValueError):
    """A PromQL template file that cannot be used; the message names the file and the key."""


@dataclass
class TemplateFile:
    templates: dict[str, str]
    service_label: str | None = None
    rate_window: str | None = None
    capacity: dict[str, str] = field(default_factory=dict)


def _promql_mapping(raw: object, path: Path, key: str, known: list[str]) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise TemplateFileError(f"PromQL templates file {path}: '{key}' must map metric names "
                                "to PromQL")
    out: dict[str, str] = {}
    for name, promql in raw.items():
        if name not in known:
            raise TemplateFileError(f"PromQL templates file {path}: unknown metric {name!r} in "
                                    f"'{key}'; known: {', '.join(known)}")
        if not isinstance(promql, str) or not promql.strip():
            raise TemplateFileError(f"PromQL templates file {path}: {name} must be a PromQL "
                                    "string")
        out[str(name)] = promql.strip()
    return out


def load_templates(path: Path, known_metrics: list[str]) -> TemplateFile:
    """Read a team's PromQL mapping: `templates: {metric: promql}` plus optional `service_label`,
    `rate_window` and `capacity: {metric: promql}` (the metric's limit, for capacity forecasts).
    Its templates replace the defaults of the same name."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TemplateFileError(f"PromQL templates file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise TemplateFileError(f"PromQL templates file {path} is not valid YAML "
                                f"({yaml_problem(exc)})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("templates"), dict):
        raise TemplateFileError(f"PromQL templates file {path}: expected a mapping with a "
                                "'templates' mapping of metric name to PromQL")
    templates = _promql_mapping(raw["templates"], path, "templates", known_metrics)
    capacity = _promql_mapping(raw.get("capacity") or {}, path, "capacity", known_metrics)
    label, window = raw.get("service_label"), raw.get("rate_window")
    return TemplateFile(templates, str(label) if label else None,
                        str(window) if window else None, capacity)


def fill(template: str, service: str, label: str, window: str) -> str:
    if "$" in template:
        return Template(template).safe_substitute(service=service, label=label, window=window)
    return template.format(service=service, label=label, window=window)


def metrics_read_by(promql: str) -> set[str]:
    """The metric names a PromQL expression selects (`name{...}`)."""
    return set(_SELECTOR.findall(promql))


def graph_link(base_url: str, query: str, start: int, end: int) -> str:
    return f"{base_url}/graph?" + urlencode(
        {"g0.expr": query, "g0.tab": "0", "g0.range_input": f"{max(1, end - start)}s",
         "g0.end_input": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(end))})


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
    discover_metrics: bool = False  # offer only templates whose metrics exist for the service
    source: str = "prometheus"
    capacity_templates: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_CAPACITY))
    breaker: Breaker = field(default_factory=Breaker)  # shared with the alerts reader

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        self._reader = JsonReader("Prometheus", self.base_url, self.client, self.timeout_s,
                                  self.retries, self.backoff_s, self.breaker)

    # -- MetricsBackend
    def services(self) -> list[str]:
        return self.label_values(self.service_label)

    def metric_names(self, service: str) -> list[str]:
        if not self.discover_metrics:
            return list(self.templates)
        present = set(self.raw_metric_names(service))
        return [name for name, template in self.templates.items()
                if metrics_read_by(self.promql(service, name)) <= present]

    def promql(self, service: str, metric: str) -> str:
        try:
            template = self.templates[metric]
        except KeyError:
            raise BackendError(f"no PromQL template for metric {metric!r}; configure one") \
                from None
        return fill(template, service, self.service_label, self.rate_window)

    def range_query(self, service: str, metric: str, start: int, end: int) -> Series:
        query = self.promql(service, metric)
        warnings: list[str] = []
        data = self._get("/api/v1/query_range",
                         {"query": query, "start": start, "end": end, "step": self.step_s},
                         warnings)
        if not isinstance(data, dict) or data.get("resultType") != "matrix":
            raise self._malformed("query_range did not return a matrix")
        ts, vs = self._merge(data.get("result"))
        return Series(service, metric, ts, vs, query,
                      graph_link(self.base_url, query, start, end), warnings)

    # -- discovery
    def capacity(self, service: str, metric: str, at: int) -> float | None:
        """The metric's limit at `at` (its last value in the 10 minutes before), None when no
        capacity query is configured for it or Prometheus has no such series."""
        if metric == "disk":
            return 100.0
        template = self.capacity_templates.get(metric)
        if template is None:
            return None
        query = fill(template, service, self.service_label, self.rate_window)
        data = self._get("/api/v1/query_range",
                         {"query": query, "start": at - 600, "end": at, "step": self.step_s}, [])
        if not isinstance(data, dict) or data.get("resultType") != "matrix":
            raise self._malformed("query_range did not return a matrix")
        _, vs = self._merge(data.get("result"))
        ok = vs[np.isfinite(vs)]
        return float(ok[-1]) if ok.size and ok[-1] > 0 else None

    def labels(self) -> list[str]:
        """Every label name (`/api/v1/labels`)."""
        return self._strings(self._get("/api/v1/labels", {}), "label names")

    def label_values(self, name: str, match: str | None = None) -> list[str]:
        """Values of one label (`/api/v1/label/<name>/values`), optionally within a selector."""
        params = {"match[]": match} if match else {}
        return sorted(self._strings(self._get(f"/api/v1/label/{name}/values", params),
                                    "label values"))

    def series(self, match: str, start: int | None = None,
               end: int | None = None) -> list[dict[str, str]]:
        """Label sets of the series matching a selector (`/api/v1/series`)."""
        params: dict[str, Any] = {"match[]": match}
        if start is not None and end is not None:
            params.update(start=start, end=end)
        data = self._get("/api/v1/series", params)
        if not isinstance(data, list) or not all(isinstance(s, dict) for s in data):
            raise self._malformed("series are not a list of label sets")
        return [{str(k): str(v) for k, v in s.items()} for s in data]

    def raw_metric_names(self, service: str) -> list[str]:
        """The metric names Prometheus holds for one service."""
        return self.label_values("__name__", f'{{{self.service_label}="{service}"}}')

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

    def _strings(self, data: Any, what: str) -> list[str]:
        if not isinstance(data, list):
            raise self._malformed(f"{what} are not a list")
        return [str(v) for v in data]

    def _malformed(self, what: str) -> BackendError:
        return self._reader.malformed(what)

    def _get(self, path: str, params: Mapping[str, Any],
             warnings: list[str] | None = None) -> Any:
        return prometheus_data(self._reader, path, params, warnings)


def prometheus_data(reader: JsonReader, path: str, params: Mapping[str, Any],
                    warnings: list[str] | None = None) -> Any:
    """The `data` of a Prometheus API envelope (`{"status": "success", "data": ...}`); its
    `warnings` (a partial response from Thanos or Mimir) are appended to `warnings`."""
    status, body = reader.get(path, params)
    if not isinstance(body, dict):
        raise reader.malformed("not a JSON object")
    if status >= 400 or body.get("status") != "success":
        reason = body.get("error") or f"HTTP {status}"
        raise BackendError(f"{reader.system} at {reader.base_url} rejected the query: {reason}")
    said = body.get("warnings") or []
    if said:
        log.warning("%s at %s: partial data: %s", reader.system, reader.base_url, said)
        if warnings is not None:
            warnings.extend(str(w) for w in said)
    return body.get("data")
