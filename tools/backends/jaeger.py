"""Traces from Jaeger's query service (`/api/services`, `/api/traces`, `/api/dependencies`), as a
`TracesBackend`, plus the service graph Jaeger computes (`dependencies`).

Jaeger's search needs a service; asked for "any service", the backend searches each known
service (at most `MAX_SERVICES`) and merges the traces. A span is failed when it carries
`error=true`, `otel.status_code=ERROR` or an HTTP status of 500 or more.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from tools.backends import Span, Trace
from tools.backends.http import HttpBackend
from tools.backends.tracing import Call, assemble, failed_status
from tools.base import BackendError

MAX_SERVICES = 10
_OWN_SERVICES = {"jaeger-query", "jaeger-all-in-one", "jaeger"}


def _tags(items: Any) -> dict[str, Any]:
    return {str(t["key"]): t.get("value") for t in items or []}


def span_failed(tags: Mapping[str, Any]) -> bool:
    return (str(tags.get("error", "")).lower() == "true"
            or str(tags.get("otel.status_code", "")).upper() == "ERROR"
            or failed_status(tags.get("http.status_code", ""))
            or failed_status(tags.get("http.response.status_code", "")))


@dataclass
class JaegerBackend(HttpBackend):
    SYSTEM: ClassVar[str] = "Jaeger"
    source: str = "jaeger"

    def services(self) -> list[str]:
        data = self._get("/api/services", {})
        if not isinstance(data, list):
            raise self._reader.malformed("services are not a list")
        return sorted(str(s) for s in data if str(s) not in _OWN_SERVICES)

    def find_traces(self, service: str | None, start: int, end: int,
                    limit: int) -> tuple[list[Trace], str]:
        services = [service] if service else self.services()[:MAX_SERVICES]
        per_service = max(1, limit // max(1, len(services)))
        found: dict[str, Trace] = {}
        for name in services:
            data = self._get("/api/traces", {"service": name, "start": start * 10**6,
                                             "end": end * 10**6, "limit": per_service,
                                             "lookback": "custom"})
            if not isinstance(data, list):
                raise self._reader.malformed("traces are not a list")
            for item in data:
                trace = self._trace(item)
                if trace is not None:
                    found.setdefault(trace.trace_id, trace)
        scope = f"service={service}" if service else f"service in ({', '.join(services)})"
        query = f"GET {self.base_url}/api/traces?{scope}&start={start}&end={end}&limit={limit}"
        return list(found.values())[:limit], query

    def dependencies(self, start: int, end: int) -> list[Call]:
        """Jaeger's own service graph over the window (`/api/dependencies`)."""
        data = self._get("/api/dependencies", {"endTs": end * 1000,
                                               "lookback": (end - start) * 1000})
        if not isinstance(data, list):
            raise self._reader.malformed("dependencies are not a list")
        try:
            return [Call(str(d["parent"]), str(d["child"]), int(d.get("callCount", 0)))
                    for d in data]
        except (KeyError, TypeError, ValueError):
            raise self._reader.malformed("a dependency has no parent or child") from None

    def _trace(self, item: Any) -> Trace | None:
        try:
            processes = {pid: str(p["serviceName"]) for pid, p in item["processes"].items()}
            spans = []
            for s in item["spans"]:
                parent = next((r["spanID"] for r in s.get("references") or []
                               if r.get("refType") == "CHILD_OF"), "")
                spans.append(Span(str(item["traceID"]), str(s["spanID"]), str(parent),
                                  processes.get(s["processID"], "unknown"),
                                  str(s["operationName"]), s["startTime"] / 1000,
                                  s["duration"] / 1000, span_failed(_tags(s.get("tags")))))
        except (KeyError, TypeError, AttributeError):
            raise self._reader.malformed("a trace has no traceID, spans or processes") from None
        return assemble(str(item["traceID"]), spans)

    def _get(self, path: str, params: Mapping[str, Any]) -> Any:
        status, body = self._reader.get(path, params)
        if not isinstance(body, dict):
            raise self._reader.malformed("not a JSON object")
        errors = body.get("errors") or []
        if status >= 400 or (errors and not body.get("data")):
            reason = "; ".join(str(e.get("msg", e)) if isinstance(e, dict) else str(e)
                               for e in errors) or f"HTTP {status}"
            raise BackendError(f"Jaeger at {self.base_url} rejected the query: {reason}")
        return body.get("data")
