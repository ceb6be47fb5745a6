"""The fault suite over real sockets: a loopback server that answers slowly, trickles its body,
drops the connection mid-query, truncates its body, fails with 500 or is stopped. Every backend
ends each fault in one clear `BackendError` line, within a bound set by its timeout and retries,
and empty results end in NO_DATA."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tools.backends.alertmanager import AlertmanagerBackend
from tools.backends.jaeger import JaegerBackend
from tools.backends.loki import LokiBackend
from tools.backends.prometheus import PrometheusBackend
from tools.backends.tempo import TempoBackend
from tools.base import BackendError, BackendTimeout, ToolRegistry, ToolStatus
from tools.logs import SearchLogs
from tools.metrics import QueryMetrics

T0 = 1_700_000_000
TIMEOUT = 0.3
EMPTY = {
    "/api/v1/query_range": b'{"status":"success","data":{"resultType":"matrix","result":[]}}',
    "/api/v1/label/service/values": b'{"status":"success","data":["checkout"]}',
    "/loki/api/v1/labels": b'{"status":"success","data":["service"]}',
    "/loki/api/v1/query_range": b'{"status":"success","data":{"resultType":"streams",'
                                b'"result":[]}}',
}


class FaultServer(ThreadingHTTPServer):
    daemon_threads = True
    mode = "ok"

    def handle_error(self, request, client_address):  # the client hung up on a slow reply
        pass


class Handler(BaseHTTPRequestHandler):
    server: FaultServer

    def log_message(self, format, *args):  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        mode = self.server.mode
        if mode == "drop":  # the server dies mid-query: no status line at all
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if mode == "slow":
            time.sleep(1.5)
        if mode == "500":
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = EMPTY.get(self.path.split("?")[0], b"{}")
        if mode == "trickle":
            body += b" " * 60  # JSON may end in whitespace: long enough to trickle
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body) + (50 if mode == "truncate" else 0)))
        self.end_headers()
        if mode == "trickle":  # each byte resets a per-read timeout; the whole body does not
            for i in range(len(body)):
                self.wfile.write(body[i:i + 1])
                self.wfile.flush()
                time.sleep(0.05)
            return
        self.wfile.write(body)
        if mode == "truncate":
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)


@pytest.fixture(scope="module")
def server() -> Iterator[FaultServer]:
    srv = FaultServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


def url_of(srv: FaultServer) -> str:
    return f"http://127.0.0.1:{srv.server_address[1]}"


CALLS: dict[str, Callable[[str], object]] = {
    "Prometheus": lambda u: PrometheusBackend(u, httpx.Client(), timeout_s=TIMEOUT, retries=1,
                                              backoff_s=0.05).range_query("checkout", "cpu",
                                                                          T0, T0 + 60),
    "Loki": lambda u: LokiBackend(u, httpx.Client(), timeout_s=TIMEOUT, retries=1,
                                  backoff_s=0.05).search(["checkout"], T0, T0 + 60),
    "Jaeger": lambda u: JaegerBackend(u, httpx.Client(), TIMEOUT, 1, 0.05).find_traces(
        "checkout", T0, T0 + 60, 10),
    "Tempo": lambda u: TempoBackend(u, httpx.Client(), timeout_s=TIMEOUT, retries=1,
                                    backoff_s=0.05).find_traces(None, T0, T0 + 60, 10),
    "Alertmanager": lambda u: AlertmanagerBackend(u, httpx.Client(), timeout_s=TIMEOUT,
                                                  retries=1, backoff_s=0.05,
                                                  clock=lambda: T0).firing(T0),
}
FAULTS = {
    "slow": (BackendTimeout, "did not answer within 0.3 s"),
    "trickle": (BackendTimeout, "did not answer within 0.3 s"),
    "drop": (BackendError, "is unreachable: server disconnected"),
    "truncate": (BackendError, "is unreachable: peer closed connection"),
    "500": (BackendError, "answered HTTP 500"),
}


@pytest.mark.parametrize("system", list(CALLS))
@pytest.mark.parametrize("fault", list(FAULTS))
def test_each_fault_is_one_line_within_its_bound(server, system, fault):
    server.mode = fault
    kind, words = FAULTS[fault]
    started = time.monotonic()
    with pytest.raises(kind) as caught:
        CALLS[system](url_of(server))
    elapsed = time.monotonic() - started
    message = str(caught.value)
    assert message.startswith(f"{system} at {url_of(server)} ") and words in message
    assert "\n" not in message
    # Two tries, each at most about twice the timeout (connect + whole body), plus backoff and
    # slack for a loaded machine; waiting the server out would take 3 s or more.
    assert elapsed < 2 * (2 * TIMEOUT) + 1.0, elapsed


def test_a_stopped_server_is_unreachable_and_the_tool_says_so():
    srv = FaultServer(("127.0.0.1", 0), Handler)
    url = url_of(srv)
    srv.server_close()  # stopped: nothing listens any more
    registry = ToolRegistry()
    registry.register(QueryMetrics(PrometheusBackend(url, httpx.Client(), timeout_s=TIMEOUT,
                                                     retries=1, backoff_s=0.05)))
    result = registry.run("query_metrics", {"services": ["checkout"], "start": T0,
                                            "end": T0 + 60})
    assert result.status is ToolStatus.ERROR
    assert result.summary.startswith(f"Prometheus at {url} is unreachable")


def test_empty_results_are_no_data(server):
    server.mode = "ok"
    url = url_of(server)
    registry = ToolRegistry()
    registry.register(QueryMetrics(PrometheusBackend(url, httpx.Client(), timeout_s=TIMEOUT)))
    registry.register(SearchLogs(LokiBackend(url, httpx.Client(), timeout_s=TIMEOUT),
                                 ["checkout"]))
    metrics = registry.run("query_metrics", {"services": ["checkout"], "metrics": ["cpu"],
                                             "start": T0, "end": T0 + 60})
    logs = registry.run("search_logs", {"services": ["checkout"], "start": T0, "end": T0 + 60})
    assert metrics.status is ToolStatus.NO_DATA and "no CPU data for checkout" in metrics.summary
    assert logs.status is ToolStatus.NO_DATA and logs.evidence[0].source == "loki"
