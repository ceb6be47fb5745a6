"""JaegerBackend against the Jaeger query service's JSON (`/api/services`, `/api/traces`,
`/api/dependencies`, error envelopes), replayed through httpx.MockTransport."""

from __future__ import annotations

import re

import httpx
import pytest

from tools.backends.jaeger import JaegerBackend
from tools.backends.tracing import Call
from tools.base import BackendError, ToolRegistry, ToolStatus
from tools.traces import SearchTraces

URL = "http://jaeger.test:16686"
T0 = 1_700_000_000
US = 10**6


def span(span_id, parent, process, op, start_ms, dur_ms, tags=()):
    refs = [{"refType": "CHILD_OF", "traceID": "t", "spanID": parent}] if parent else []
    return {"traceID": "t", "spanID": span_id, "flags": 1, "operationName": op,
            "references": refs, "startTime": int((T0 * 1000 + start_ms) * 1000),
            "duration": int(dur_ms * 1000), "tags": list(tags), "logs": [],
            "processID": process, "warnings": None}


def jaeger_trace(trace_id: str, pay_ms: float, failed: bool) -> dict:
    error_tags = [{"key": "error", "type": "bool", "value": True},
                  {"key": "http.status_code", "type": "int64", "value": 503}] if failed else []
    spans = [span("a1", "", "p1", "GET /checkout", 0, 40 + pay_ms),
             span("b2", "a1", "p2", "POST /charge", 10, pay_ms, error_tags),
             span("c3", "b2", "p3", "INSERT payments", 12, 3)]
    for s in spans:
        s["traceID"] = trace_id
    return {"traceID": trace_id, "spans": spans, "warnings": None, "processes": {
        "p1": {"serviceName": "checkout", "tags": []},
        "p2": {"serviceName": "payment", "tags": [{"key": "hostname", "type": "string",
                                                   "value": "pay-1"}]},
        "p3": {"serviceName": "postgres", "tags": []}}}


def envelope(data, errors=None) -> dict:
    return {"data": data, "total": len(data) if isinstance(data, list) else 0, "limit": 0,
            "offset": 0, "errors": errors}


class FakeJaeger:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path, q = request.url.path, request.url.params
        if path == "/api/services":
            return httpx.Response(200, json=envelope(["checkout", "jaeger-all-in-one",
                                                      "payment"]))
        if path == "/api/dependencies":
            return httpx.Response(200, json=envelope([
                {"parent": "checkout", "child": "payment", "callCount": 120},
                {"parent": "payment", "child": "postgres", "callCount": 118}]))
        if path == "/api/traces":
            if q["service"] == "ghost":
                return httpx.Response(400, json=envelope(None, [
                    {"code": 400, "msg": "service ghost not found"}]))
            traces = [jaeger_trace(f"{q['service']}{i:02d}", 900 if i < 3 else 20, i < 2)
                      for i in range(10)]
            return httpx.Response(200, json=envelope(traces))
        return httpx.Response(404, text="404 page not found")


def backend(fake) -> JaegerBackend:
    return JaegerBackend(URL, httpx.Client(transport=httpx.MockTransport(fake)), backoff_s=0)


def test_traces_become_spans_with_services_parents_and_errors():
    fake = FakeJaeger()
    traces, query = backend(fake).find_traces("checkout", T0, T0 + 900, 50)
    q = fake.requests[0].url.params
    assert q["service"] == "checkout" and q["start"] == str(T0 * US) and q["limit"] == "50"
    assert "service=checkout" in query and len(traces) == 10
    t = traces[0]
    assert t.root.service == "checkout" and t.root.duration_ms == pytest.approx(940)
    pay = next(s for s in t.spans if s.service == "payment")
    assert pay.parent_id == "a1" and pay.error and pay.start_ms == pytest.approx(T0 * 1000 + 10)


def test_any_service_searches_each_known_service_without_jaegers_own():
    fake = FakeJaeger()
    traces, _ = backend(fake).find_traces(None, T0, T0 + 900, 40)
    searched = [r.url.params["service"] for r in fake.requests if r.url.path == "/api/traces"]
    assert searched == ["checkout", "payment"] and len(traces) == 20


def test_the_traces_tool_finds_the_slow_and_failing_service():
    registry = ToolRegistry()
    registry.register(SearchTraces(backend(FakeJaeger())))
    result = registry.run("search_traces", {"services": ["checkout"], "start": T0,
                                            "end": T0 + 900})
    assert result.status is ToolStatus.OK and result.evidence[0].source == "jaeger"
    kinds = {f.kind: f.service for f in result.findings if f.kind != "trace_operation"}
    assert kinds == {"trace_time": "payment", "trace_errors": "payment"}
    ops = [f for f in result.findings if f.kind == "trace_operation"]  # the API's operations
    assert ops and all(re.fullmatch(r"slow operation: .+ on \w+, p95 \d+ ms over \d+ spans"
                                    r"(, \d+ failed)?",
                                    f.text) for f in ops), [f.text for f in ops]
    assert result.evidence[0].values["slowest1"].endswith("940 ms")


def test_the_service_graph_comes_from_dependencies():
    fake = FakeJaeger()
    calls = backend(fake).dependencies(T0, T0 + 3600)
    assert calls == [Call("checkout", "payment", 120), Call("payment", "postgres", 118)]
    assert fake.requests[0].url.params["lookback"] == str(3600 * 1000)


def test_an_error_envelope_is_jaegers_message():
    with pytest.raises(BackendError, match="Jaeger at .* rejected the query: service ghost "
                                           "not found"):
        backend(FakeJaeger()).find_traces("ghost", T0, T0 + 60, 10)


def test_a_partial_trace_still_has_a_root():
    def handler(request: httpx.Request) -> httpx.Response:
        t = jaeger_trace("p1", 100, False)
        t["spans"] = t["spans"][1:]  # the root span has not arrived yet
        return httpx.Response(200, json=envelope([t]))

    traces, _ = backend(handler).find_traces("payment", T0, T0 + 60, 10)
    assert traces[0].root.service == "payment" and traces[0].root.parent_id == ""


@pytest.mark.parametrize("body", [{"data": [{"traceID": "x"}]}, {"data": {"a": 1}}, [1, 2]])
def test_malformed_bodies(body):
    b = backend(lambda r: httpx.Response(200, json=body))
    with pytest.raises(BackendError, match="malformed"):
        b.find_traces("checkout", T0, T0 + 60, 10)
