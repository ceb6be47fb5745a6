"""TempoBackend against Tempo's documented HTTP API (`/api/search` summaries, `/api/traces/<id>`
as OTLP JSON with base64 ids, plain-text errors), replayed through httpx.MockTransport."""

from __future__ import annotations

import base64
import re

import httpx
import pytest

from tools.backends.tempo import MAX_FETCH, TempoBackend
from tools.backends.tracing import Call
from tools.base import BackendError, ToolRegistry, ToolStatus
from tools.traces import SearchTraces

URL = "http://tempo.test:3200"
T0 = 1_700_000_000
NS = 10**9


def b64(n: int) -> str:
    return base64.b64encode(n.to_bytes(8, "big")).decode()


def otlp_span(span_id, parent, name, start_ms, dur_ms, error=False, status_code=None):
    attrs = [{"key": "http.method", "value": {"stringValue": "POST"}}]
    if status_code:
        attrs.append({"key": "http.status_code", "value": {"intValue": str(status_code)}})
    begin = T0 * NS + int(start_ms * 1e6)
    return {"traceId": "Lz4M7neuXdnBen3mieMuVA==", "spanId": b64(span_id),
            "parentSpanId": b64(parent) if parent else "", "name": name,
            "kind": "SPAN_KIND_SERVER", "startTimeUnixNano": str(begin),
            "endTimeUnixNano": str(begin + int(dur_ms * 1e6)), "attributes": attrs,
            "status": {"code": "STATUS_CODE_ERROR"} if error else {}}


def batch(service, spans, legacy=False):
    key = "instrumentationLibrarySpans" if legacy else "scopeSpans"
    return {"resource": {"attributes": [{"key": "service.name",
                                         "value": {"stringValue": service}}]},
            key: [{"scope": {"name": "otel"}, "spans": spans}]}


def tempo_trace(i: int) -> dict:
    slow = 800 if i % 2 else 30
    return {"batches": [
        batch("checkout", [otlp_span(1, 0, "GET /checkout", 0, slow + 20)]),
        batch("payment", [otlp_span(2, 1, "POST /charge", 5, slow, error=i < 3,
                                    status_code=503 if i < 3 else 200)], legacy=i == 4),
    ]}


class FakeTempo:
    def __init__(self, hits: int = 6, gone: frozenset[str] = frozenset()) -> None:
        self.hits, self.gone = hits, gone
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path == "/api/search":
            if "bad" in request.url.params.get("tags", ""):
                return httpx.Response(400, text="invalid tags: bad=\n")
            limit = int(request.url.params["limit"])
            return httpx.Response(200, json={"traces": [
                {"traceID": f"{i:032x}", "rootServiceName": "checkout",
                 "rootTraceName": "GET /checkout", "startTimeUnixNano": str(T0 * NS),
                 "durationMs": 50} for i in range(min(limit, self.hits))],
                "metrics": {"inspectedBytes": "1024", "completedJobs": 1, "totalJobs": 1}})
        if path.startswith("/api/traces/"):
            trace_id = path.rsplit("/", 1)[1]
            if trace_id in self.gone:
                return httpx.Response(404, text="trace not found\n")
            return httpx.Response(200, json=tempo_trace(int(trace_id, 16)))
        return httpx.Response(404, text="404 page not found\n")


def backend(fake) -> TempoBackend:
    return TempoBackend(URL, httpx.Client(transport=httpx.MockTransport(fake)), backoff_s=0)


def test_search_then_fetch_gives_whole_traces():
    fake = FakeTempo()
    traces, query = backend(fake).find_traces("checkout", T0, T0 + 600, 100)
    search = fake.requests[0].url.params
    assert search["tags"] == "service.name=checkout" and search["limit"] == str(MAX_FETCH)
    assert search["start"] == str(T0) and "/api/search" in query
    assert len(traces) == 6
    t = traces[1]
    assert t.root.service == "checkout" and t.root.duration_ms == pytest.approx(820)
    pay = next(s for s in t.spans if s.service == "payment")
    assert pay.parent_id == t.root.span_id and pay.error
    assert not next(s for s in traces[3].spans if s.service == "payment").error
    assert traces[4].spans[1].service == "payment"  # the older instrumentationLibrarySpans


def test_the_traces_tool_over_tempo():
    registry = ToolRegistry()
    registry.register(SearchTraces(backend(FakeTempo())))
    result = registry.run("search_traces", {"services": ["checkout"], "start": T0,
                                            "end": T0 + 600})
    assert result.status is ToolStatus.OK and result.evidence[0].source == "tempo"
    kinds = {f.kind: f.service for f in result.findings if f.kind != "trace_operation"}
    assert kinds == {"trace_time": "payment", "trace_errors": "payment"}
    ops = [f for f in result.findings if f.kind == "trace_operation"]  # the API's operations
    assert ops and all(re.fullmatch(r"slow operation: .+ on \w+, p95 \d+ ms over \d+ spans"
                                    r"(, \d+ failed)?",
                                    f.text) for f in ops), [f.text for f in ops]


def test_a_trace_gone_between_search_and_fetch_is_skipped():
    fake = FakeTempo(hits=3, gone=frozenset({f"{0:032x}"}))
    traces, _ = backend(fake).find_traces(None, T0, T0 + 600, 10)
    assert len(traces) == 2 and "tags" not in fake.requests[0].url.params


def test_all_traces_gone_is_an_error():
    fake = FakeTempo(hits=2, gone=frozenset({f"{0:032x}", f"{1:032x}"}))
    with pytest.raises(BackendError, match="found 2 traces but returned none"):
        backend(fake).find_traces(None, T0, T0 + 600, 10)


def test_a_rejected_search_is_tempos_own_words():
    with pytest.raises(BackendError, match=r"Tempo at .* \(HTTP 400\): invalid tags"):
        backend(FakeTempo()).find_traces("bad", T0, T0 + 60, 10)


def test_the_service_graph_is_counted_from_traces():
    calls = backend(FakeTempo(hits=5)).dependencies(T0, T0 + 3600)
    assert calls == [Call("checkout", "payment", 5)]


def test_no_hits_is_no_data():
    registry = ToolRegistry()
    registry.register(SearchTraces(backend(FakeTempo(hits=0))))
    result = registry.run("search_traces", {"start": T0, "end": T0 + 60})
    assert result.status is ToolStatus.NO_DATA


@pytest.mark.parametrize("trace_body", [{"batches": [{"scopeSpans": [{"spans": [{}]}]}]},
                                        {"batches": "nope"}])
def test_malformed_traces(trace_body):
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/search":
            return httpx.Response(200, json={"traces": [{"traceID": "ab"}]})
        return httpx.Response(200, json=trace_body)

    with pytest.raises(BackendError, match="malformed"):
        backend(handler).find_traces(None, T0, T0 + 60, 10)
