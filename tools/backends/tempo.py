"""Traces from Grafana Tempo (`/api/search`, then `/api/traces/<id>` for each hit), as a
`TracesBackend`, plus a service graph counted from a sample of traces (`dependencies`).

Search returns trace summaries only, so at most `MAX_FETCH` traces are fetched whole per call.
A trace that vanished between search and fetch (HTTP 404) is skipped; if none can be fetched it
is an error. Span ids come base64-encoded (OTLP JSON) or hex: both are used as opaque ids.
A span is failed when its status is ERROR or it records an HTTP status of 500 or more.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from tools.backends import Span, Trace
from tools.backends.http import HttpBackend
from tools.backends.tracing import Call, assemble, calls_in, failed_status
from tools.base import BackendError

MAX_FETCH = 20


def _value(attr: Mapping[str, Any]) -> Any:
    value = attr.get("value") or {}
    for kind in ("stringValue", "intValue", "boolValue", "doubleValue"):
        if kind in value:
            return value[kind]
    return None


def _attrs(items: Any) -> dict[str, Any]:
    return {str(a["key"]): _value(a) for a in items or []}


def span_failed(span: Mapping[str, Any], attrs: Mapping[str, Any]) -> bool:
    code = (span.get("status") or {}).get("code")
    return (code in ("STATUS_CODE_ERROR", 2)
            or failed_status(attrs.get("http.status_code", ""))
            or failed_status(attrs.get("http.response.status_code", "")))


@dataclass
class TempoBackend(HttpBackend):
    SYSTEM: ClassVar[str] = "Tempo"
    service_attribute: str = "service.name"
    source: str = "tempo"

    def search(self, service: str | None, start: int, end: int, limit: int) -> list[str]:
        """Trace ids of traces through `service` (any service when None) in the window."""
        params: dict[str, Any] = {"start": start, "end": end, "limit": limit}
        if service:
            params["tags"] = f"{self.service_attribute}={service}"
        status, body = self._reader.get("/api/search", params)
        if status >= 400:
            raise BackendError(f"Tempo at {self.base_url} rejected the search (HTTP {status})")
        if not isinstance(body, dict) or not isinstance(body.get("traces", []), list):
            raise self._reader.malformed("search has no traces list")
        try:
            return [str(t["traceID"]) for t in body.get("traces") or []]
        except (KeyError, TypeError):
            raise self._reader.malformed("a search hit has no traceID") from None

    def trace(self, trace_id: str) -> Trace | None:
        """One trace by id; None when Tempo no longer has it."""
        try:
            status, body = self._reader.get(f"/api/traces/{trace_id}")
        except BackendError as exc:
            if "(HTTP 404)" in str(exc):
                return None
            raise
        if status == 404:
            return None
        if status >= 400:
            raise BackendError(f"Tempo at {self.base_url} rejected trace {trace_id} (HTTP "
                               f"{status})")
        if not isinstance(body, dict):
            raise self._reader.malformed("a trace is not a JSON object")
        batches = body.get("batches") or (body.get("trace") or {}).get("resourceSpans") \
            or body.get("resourceSpans") or []
        spans: list[Span] = []
        try:
            for batch in batches:
                service = str(_attrs((batch.get("resource") or {}).get("attributes"))
                              .get("service.name", "unknown"))
                scopes = batch.get("scopeSpans") or batch.get("instrumentationLibrarySpans") or []
                for scope in scopes:
                    for s in scope["spans"]:
                        begin, finish = int(s["startTimeUnixNano"]), int(s["endTimeUnixNano"])
                        spans.append(Span(trace_id, str(s["spanId"]),
                                          str(s.get("parentSpanId") or ""), service,
                                          str(s.get("name", "")), begin / 1e6,
                                          (finish - begin) / 1e6,
                                          span_failed(s, _attrs(s.get("attributes")))))
        except (KeyError, TypeError, ValueError, AttributeError):
            raise self._reader.malformed(f"trace {trace_id} has spans without ids or "
                                         "times") from None
        return assemble(trace_id, spans)

    def find_traces(self, service: str | None, start: int, end: int,
                    limit: int) -> tuple[list[Trace], str]:
        ids = self.search(service, start, end, min(limit, MAX_FETCH))
        traces = [t for t in (self.trace(i) for i in ids) if t is not None]
        tags = f"&tags={self.service_attribute}={service}" if service else ""
        query = (f"GET {self.base_url}/api/search?start={start}&end={end}{tags}"
                 f"&limit={min(limit, MAX_FETCH)}, then /api/traces/<id> for each hit")
        if ids and not traces:
            raise BackendError(f"Tempo at {self.base_url} found {len(ids)} traces but returned "
                               "none of them")
        return traces, query

    def dependencies(self, start: int, end: int) -> list[Call]:
        """Service-to-service calls counted from a sample of traces in the window."""
        traces, _ = self.find_traces(None, start, end, MAX_FETCH)
        return calls_in(traces)
