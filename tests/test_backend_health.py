"""The circuit breaker and the answer's memory of failed servers (tools/backends/health.py), read
through JsonReader against real loopback servers that fail (evals/fault_servers.py)."""

from __future__ import annotations

import contextvars
import re
import threading
import time

import httpx
import pytest

from evals.fault_servers import FaultServer, free_port
from tools.backends.health import BackendHealth, BreakerState, answer_scope
from tools.backends.http import JsonReader, plain_reason
from tools.backends.prometheus import PrometheusBackend
from tools.base import BackendError, BackendTimeout


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def reader(url: str, health: BackendHealth, timeout_s: float = 1.0, retries: int = 2,
           backoff_s: float = 0.01, client: httpx.Client | None = None) -> JsonReader:
    return JsonReader("Prometheus", url, client or httpx.Client(), timeout_s, retries, backoff_s,
                      health.breaker("Prometheus", url))


@pytest.mark.parametrize(("fault", "line"), [
    ("down", "is unreachable: connection refused"),
    ("hang", "did not answer within 1 s"),
    ("500", "answered HTTP 500"),
    ("truncated", "returned a malformed body: not JSON (cut off or invalid)"),
    ("html", "returned a malformed body: not JSON but an HTML page"),
])
def test_each_fault_is_one_line_and_opens_the_breaker(fault, line):
    health = BackendHealth(10)
    with FaultServer(fault) as server:
        r = reader(server.url, health)
        started = time.monotonic()
        said = "^" + re.escape(f"Prometheus at {server.url} {line}")
        with pytest.raises(BackendError, match=said) as first:
            r.get("/api/v1/labels")
        assert time.monotonic() - started < 1.5  # the read's budget, retries included
        asked = server.requests
        assert asked == {"down": 0, "500": 3}.get(fault, 1)  # timeouts, bad bodies: not retried
        with pytest.raises(type(first.value), match=r"\(0 s ago; not asked again for 10 s\)$"):
            r.get("/api/v1/labels")
        assert server.requests == asked
    [state] = health.states()
    assert state.state is BreakerState.OPEN and state.failures == 1
    assert state.line().startswith(f"Prometheus at {server.url}: open (Prometheus at ")


def test_half_open_after_the_cooldown_the_probe_closes_or_reopens_it():
    clock = Clock()
    health = BackendHealth(10, clock)
    with FaultServer("500") as server:
        r = reader(server.url, health, retries=0)
        breaker = health.breaker("Prometheus", server.url)
        with pytest.raises(BackendError, match="HTTP 500"):
            r.get("/api/v1/labels")
        clock.t = 11
        assert breaker.state() is BreakerState.HALF_OPEN
        with pytest.raises(BackendError, match="HTTP 500$"):  # the probe asked, and failed
            r.get("/api/v1/labels")
        assert server.requests == 2 and breaker.state() is BreakerState.OPEN
        assert breaker.health().failures == 2
        clock.t = 15
        with pytest.raises(BackendError, match="4 s ago; not asked again for 6 s"):
            r.get("/api/v1/labels")  # a fresh cool-down from the failed probe
        clock.t = 22
        server.mode = "up"
        assert r.get("/api/v1/labels") == (200, {"status": "success", "data": []})
        assert breaker.state() is BreakerState.CLOSED and health.states()[0].line().endswith(": ok")
        assert breaker.health().failures == 0


def test_half_open_lets_one_probe_through_the_others_fail_at_once():
    clock = Clock()
    health = BackendHealth(5, clock)
    with FaultServer("hang") as server:
        r = reader(server.url, health, timeout_s=1.0)
        with pytest.raises(BackendTimeout):
            r.get("/api/v1/labels")
        clock.t = 6
        probe: dict[str, BaseException] = {}

        def ask() -> None:
            try:
                r.get("/api/v1/labels")
            except BackendError as exc:
                probe["error"] = exc

        thread = threading.Thread(target=ask)
        thread.start()
        while server.requests < 2:  # the probe is waiting on the hanging server
            time.sleep(0.01)
        started = time.monotonic()
        with pytest.raises(BackendTimeout, match="another read is asking again"):
            r.get("/api/v1/labels")
        assert time.monotonic() - started < 0.2
        thread.join()
        assert isinstance(probe["error"], BackendTimeout) and server.requests == 2
    assert health.breaker("Prometheus", server.url).state() is BreakerState.OPEN


def test_a_read_that_ends_without_a_verdict_releases_the_probe():
    clock = Clock()
    health = BackendHealth(5, clock)
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(BackendError, match="connection refused"):
        reader(url, health).get("/")
    clock.t = 6

    def bug(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("a bug in a transport")

    with pytest.raises(RuntimeError):
        reader(url, health, client=httpx.Client(transport=httpx.MockTransport(bug))).get("/")
    with pytest.raises(BackendError, match="connection refused$"):  # admitted as the probe
        reader(url, health).get("/")


def test_retries_stop_when_the_reads_budget_is_spent():
    health = BackendHealth(10)
    with FaultServer("500") as server:
        started = time.monotonic()
        with pytest.raises(BackendError, match="HTTP 500"):
            reader(server.url, health, timeout_s=1.0, retries=5, backoff_s=0.4).get("/")
        assert time.monotonic() - started < 1.0
        assert server.requests == 2  # 0.4 s pause, then 0.8 s would end past the budget


def test_within_one_answer_a_failed_server_is_not_asked_again_after_the_cooldown():
    clock = Clock()
    health = BackendHealth(1, clock)
    with FaultServer("500") as server:
        r = reader(server.url, health, retries=0)
        with answer_scope():
            with pytest.raises(BackendError, match="HTTP 500$"):
                r.get("/api/v1/query_range")
            clock.t = 30  # long past the cool-down: an LLM answer can take this long
            with pytest.raises(BackendError, match="HTTP 500$"):
                r.get("/api/v1/query_range")
            assert server.requests == 1
        with answer_scope(), pytest.raises(BackendError, match="HTTP 500$"):
            r.get("/api/v1/query_range")  # the next answer probes again
        assert server.requests == 2


def test_a_breaker_refusal_is_remembered_for_the_rest_of_the_answer():
    clock = Clock()
    health = BackendHealth(5, clock)
    with FaultServer("500") as server:
        r = reader(server.url, health, retries=0)
        with pytest.raises(BackendError):
            r.get("/")
        with answer_scope():
            with pytest.raises(BackendError, match="not asked again for 5 s"):
                r.get("/")
            clock.t = 6  # the cool-down ends during the answer: still not asked
            with pytest.raises(BackendError, match="not asked again for 5 s"):
                r.get("/")
        assert server.requests == 1


def test_tool_threads_started_in_the_answers_context_share_its_memory():
    health = BackendHealth(0)  # no memory across answers: only the answer's own
    with FaultServer("500") as server:
        r = reader(server.url, health, retries=0)
        with answer_scope():
            thread = threading.Thread(target=contextvars.copy_context().run,
                                      args=(lambda: pytest.raises(BackendError, r.get, "/"),))
            thread.start()
            thread.join()
            assert server.requests == 1
            with pytest.raises(BackendError, match="HTTP 500$"):
                r.get("/")
            assert server.requests == 1
        with pytest.raises(BackendError):  # outside an answer, cool-down 0: asked every time
            r.get("/")
        with pytest.raises(BackendError):
            r.get("/")
        assert server.requests == 3


def test_a_reply_the_backend_cannot_use_opens_the_breaker_too():
    """200 with JSON that is not a Prometheus matrix: the server is broken for every series."""
    health = BackendHealth(10)
    with FaultServer("up") as server:  # answers {"status": "success", "data": []}
        prom = PrometheusBackend(server.url, httpx.Client(), timeout_s=1.0,
                                 breaker=health.breaker("Prometheus", server.url))
        with pytest.raises(BackendError, match="query_range did not return a matrix"):
            prom.range_query("checkout", "error_rate", 0, 600)
        with pytest.raises(BackendError, match="did not return a matrix .*not asked again"):
            prom.range_query("checkout", "latency_p99", 0, 600)
        assert server.requests == 1


def test_one_breaker_per_server_shared_by_its_readers():
    health = BackendHealth(10)
    a = health.breaker("Prometheus", "http://prom:9090/")
    assert health.breaker("Prometheus", "http://prom:9090") is a
    assert health.breaker("Loki", "http://prom:9090") is not a
    assert [s.state for s in health.states()] == [BreakerState.CLOSED] * 2


@pytest.mark.parametrize(("raised", "said"), [
    (httpx.ConnectError("[Errno 111] Connection refused"), "connection refused"),
    (httpx.ConnectError("[Errno -2] Name or service not known"), "name or service not known"),
    (httpx.RemoteProtocolError("Server disconnected without sending a response."),
     "server disconnected without sending a response"),
    (httpx.ConnectError("TLS handshake failed"), "TLS handshake failed"),
    (httpx.ConnectError(""), "ConnectError"),
])
def test_transport_errors_in_words(raised, said):
    assert plain_reason(raised) == said
