"""LokiBackend against Loki's documented HTTP API shapes (query_range streams, label discovery,
plain-text 400s), replayed through httpx.MockTransport: Debian has no Grafana Loki package."""

from __future__ import annotations

import httpx
import pytest

from tools.backends.loki import LokiBackend, level_of
from tools.base import BackendError, BackendTimeout, ToolRegistry, ToolStatus
from tools.logs import SearchLogs

URL = "http://loki.test:3100"
T0 = 1_700_000_000
NS = 10**9


def stream(labels: dict, lines: list[tuple[int, str]]) -> dict:
    # Loki returns values newest first for direction=backward, timestamps as ns strings.
    return {"stream": labels,
            "values": [[str(ts * NS), text] for ts, text in sorted(lines, reverse=True)]}


class FakeLoki:
    """Answers /loki/api/v1/labels, /label/<n>/values and /query_range like Loki 2.x/3.x."""

    def __init__(self, streams: list[dict], labels=("service", "level", "pod"),
                 fail_first: int = 0, fault: str = "500") -> None:
        self.streams = streams
        self.labels = list(labels)
        self.fail_first = fail_first
        self.fault = fault
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if len(self.requests) <= self.fail_first:
            if self.fault == "timeout":
                raise httpx.ReadTimeout("timed out", request=request)
            if self.fault == "refused":
                raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
            return httpx.Response(500, text="internal server error\n")
        path = request.url.path
        if path == "/loki/api/v1/labels":
            return httpx.Response(200, json={"status": "success", "data": self.labels})
        if path == "/loki/api/v1/label/service/values":
            return httpx.Response(200, json={"status": "success",
                                             "data": ["payment", "checkout"]})
        if path == "/loki/api/v1/query_range":
            if "((" in request.url.params["query"]:
                return httpx.Response(400, text="parse error at line 1, col 2: syntax error: "
                                                "unexpected IDENTIFIER\n")
            return httpx.Response(200, json={"status": "success", "data": {
                "resultType": "streams", "result": self.streams,
                "stats": {"summary": {"totalEntriesReturned": 3}}}})
        return httpx.Response(404, text="404 page not found\n")


def backend(fake: FakeLoki, **kw) -> LokiBackend:
    return LokiBackend(URL, httpx.Client(transport=httpx.MockTransport(fake)), backoff_s=0,
                       **kw)


CHECKOUT = [
    stream({"service": "checkout", "level": "error"},
           [(T0 + 60 * i, f"payment call failed: timeout after 3000ms order={1000 + i}")
            for i in range(12)]),
    stream({"service": "checkout", "level": "warn"}, [(T0 + 30, "retrying payment call")]),
]


def test_the_search_becomes_logql_with_level_and_text_filters():
    fake = FakeLoki(CHECKOUT)
    result = backend(fake).search(["checkout"], T0, T0 + 3600, level="WARN", contains='say "hi"')
    params = fake.requests[-1].url.params
    assert params["query"] == result.query
    assert result.query.startswith('{service="checkout", level=~"(?i)(warn|warning|error')
    assert result.query.endswith('|= "say \\"hi\\""')
    assert params["start"] == str(T0 * NS) and params["direction"] == "backward"
    assert [line.ts for line in result.lines] == sorted(line.ts for line in result.lines)
    assert {line.level for line in result.lines} == {"ERROR", "WARN"}
    assert result.lines[0].service == "checkout" and not result.truncated


def test_without_a_level_label_the_level_is_read_from_the_line():
    fake = FakeLoki([stream({"service": "cart"}, [
        (T0, 'level=error msg="redis timeout"'), (T0 + 1, '{"level":"warning","msg":"slow"}'),
        (T0 + 2, "INFO started"), (T0 + 3, "ERROR: the alert manager said level=info")])],
        labels=("service", "pod"))
    result = backend(fake).search(["cart", "checkout"], T0, T0 + 60, level="WARN")
    assert result.query.startswith('{service=~"cart|checkout"} |~ "(?i)\\\\b(warn|')
    assert [line.level for line in result.lines] == ["ERROR", "WARN", "ERROR"]


@pytest.mark.parametrize(("labels", "line", "level"), [
    ({"level": "CRITICAL"}, "x", "ERROR"), ({"detected_level": "warn"}, "x", "WARN"),
    ({}, "2026-11-20 14:05:00 [WARN] pool low", "WARN"), ({}, "nothing to see", "INFO"),
    ({}, "ts=1 lvl=x level=debug", "DEBUG"),
])
def test_levels_have_many_names(labels, line, level):
    assert level_of(labels, line, "level") == level


def test_label_discovery_finds_services():
    fake = FakeLoki([])
    b = backend(fake)
    assert b.services() == ["checkout", "payment"]
    assert b.labels() == ["service", "level", "pod"]


def test_a_full_page_is_marked_truncated():
    fake = FakeLoki(CHECKOUT)
    assert backend(fake).search(["checkout"], T0, T0 + 3600, limit=13).truncated


def test_the_logs_tool_summarises_loki_lines():
    registry = ToolRegistry()
    registry.register(SearchLogs(backend(FakeLoki(CHECKOUT)), ["checkout", "payment"]))
    result = registry.run("search_logs", {"services": ["checkout"], "start": T0,
                                          "end": T0 + 3600, "level": "WARN"})
    assert result.status is ToolStatus.OK
    ev = result.evidence[0]
    assert ev.source == "loki" and ev.query.startswith('{service="checkout"')
    assert ev.values["level_ERROR"] == 12 and ev.values["level_WARN"] == 1
    assert ev.values["top1_template"] == "payment call failed: timeout after <*> order=<*>"
    assert ev.values["top1_count"] == 12
    assert result.findings[0].kind == "log_errors"


def test_a_bad_query_is_the_lokis_own_words_and_not_retried():
    fake = FakeLoki([])
    with pytest.raises(BackendError, match=r"Loki at .* rejected the request \(HTTP 400\): "
                                           "parse error at line 1"):
        backend(fake).search(["(("], T0, T0 + 60)
    assert len(fake.requests) == 1


def test_a_timeout_is_not_retried_and_opens_the_breaker():
    """A timeout has spent the whole budget: asking again would only double the wait, and the
    other reads of the same answer fail at once while the server is fresh in memory as down."""
    fake = FakeLoki(CHECKOUT, fail_first=99, fault="timeout")
    loki = backend(fake)
    with pytest.raises(BackendTimeout, match=r"^Loki at http://loki.test:3100 did not answer "
                                             r"within 5 s$"):
        loki.search(["checkout"], T0, T0 + 60, level="ERROR")
    assert len(fake.requests) == 1
    with pytest.raises(BackendTimeout, match=r"did not answer within 5 s \(0 s ago; not asked "
                                             r"again for 15 s\)$"):
        loki.search(["payment"], T0, T0 + 60)
    assert len(fake.requests) == 1


def test_the_breaker_asks_again_after_its_pause_and_closes_on_success():
    clock = [0.0]
    fake = FakeLoki(CHECKOUT, fail_first=3, fault="refused")  # every try of the first call
    loki = backend(fake)
    loki.breaker.clock = lambda: clock[0]
    with pytest.raises(BackendError, match="unreachable"):
        loki.search(["checkout"], T0, T0 + 3600)
    clock[0] = 10.0
    with pytest.raises(BackendError, match=r"10 s ago; not asked again for 5 s"):
        loki.search(["checkout"], T0, T0 + 3600)
    assert len(fake.requests) == 3
    clock[0] = 16.0
    assert len(loki.search(["checkout"], T0, T0 + 3600).lines) == 13
    assert len(loki.search(["checkout"], T0, T0 + 3600).lines) == 13  # closed again


def test_a_500_then_success_is_retried():
    fake = FakeLoki(CHECKOUT, fail_first=2)
    assert len(backend(fake).search(["checkout"], T0, T0 + 3600).lines) == 13


def test_a_refused_connection_is_one_line_through_the_tool():
    registry = ToolRegistry()
    registry.register(SearchLogs(backend(FakeLoki([], fail_first=99, fault="refused")),
                                 ["checkout"]))
    result = registry.run("search_logs", {"start": T0, "end": T0 + 60})
    assert result.status is ToolStatus.ERROR
    assert result.summary.startswith("Loki at http://loki.test:3100 is unreachable")


@pytest.mark.parametrize("body", [
    {"status": "success", "data": {"resultType": "matrix", "result": []}},
    {"status": "success", "data": {"resultType": "streams", "result": [{"values": []}]}},
    {"status": "success", "data": {"resultType": "streams",
                                   "result": [{"stream": {}, "values": [["x", "line"]]}]}},
])
def test_malformed_bodies_are_backend_errors(body):
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/labels"):
            return httpx.Response(200, json={"status": "success", "data": ["service"]})
        return httpx.Response(200, json=body)

    b = LokiBackend(URL, httpx.Client(transport=httpx.MockTransport(handler)), backoff_s=0)
    with pytest.raises(BackendError, match="malformed"):
        b.search(["checkout"], T0, T0 + 60)


def test_truncated_json_is_malformed():
    b = LokiBackend(URL, httpx.Client(transport=httpx.MockTransport(
        lambda r: httpx.Response(200, text='{"status": "success", "data": {"resu'))),
        backoff_s=0)
    with pytest.raises(BackendError, match="malformed body: not JSON"):
        b.search(["checkout"], T0, T0 + 60)


def test_loki_warnings_mark_partial_data():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/labels"):
            return httpx.Response(200, json={"status": "success", "data": ["service"]})
        return httpx.Response(200, json={"status": "success", "warnings": ["query timed out "
                                                                            "on one querier"],
                                         "data": {"resultType": "streams", "result": CHECKOUT}})

    b = LokiBackend(URL, httpx.Client(transport=httpx.MockTransport(handler)), backoff_s=0)
    result = b.search(["checkout"], T0, T0 + 3600)
    assert len(result.lines) == 13 and result.warnings == ["query timed out on one querier"]
