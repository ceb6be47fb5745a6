"""Whole answers over a Prometheus that fails (issue 19, "failing fast"): refused, hanging, 500,
truncated JSON, an HTML page, on real loopback servers (evals/fault_servers.py), and a real
Prometheus (Debian's package) going down and coming back under a running copilot. The answer
arrives within the backend timeout + 2 s, names the source, still uses the other sources, and
never turns the fault into a statement about the service."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from bot.answer import Answer, Question
from bot.app import Runtime, build_runtime
from bot.router import Router
from evals.fault_servers import FAULTS, FaultServer
from infra.settings import Settings, load_settings
from tests.servers import backfilled_prometheus, needs
from tools.backends.health import BreakerState
from tools.catalog import METRICS
from tools.sandbox.simulator import Sandbox

SCENARIO = "bad-deploy-checkout"
QUESTION = "what is wrong with checkout?"
TIMEOUT_S = 1.0
WRONG = ("unknown service", "Nothing found", "No alerts firing", "looks normal")
LINES = {"down": "is unreachable: connection refused", "hang": "did not answer within 1 s",
         "500": "answered HTTP 500",
         "truncated": "returned a malformed body: not JSON (cut off or invalid)",
         "html": "returned a malformed body: not JSON but an HTML page"}


@pytest.fixture
def router(runtime_for) -> Iterator[Router]:
    """The session's trained router, its services put back afterwards. One answer first, so the
    timings below do not include the embedding model's first load."""
    warm = runtime_for(SCENARIO)
    warm.copilot.answer(Question(QUESTION, warm.default_now()))
    shared = warm.copilot.router
    before = list(shared.services)
    yield shared
    shared.services, shared.services_incomplete = before, False


def fault_settings(url: str, cooldown_s: float = 15.0, **prometheus: object) -> Settings:
    return load_settings(prometheus={"url": url, "timeout_s": TIMEOUT_S, **prometheus},
                         sandbox={"scenario": SCENARIO, "fallback": "always"},
                         breaker={"cooldown_s": cooldown_s})


def timed(runtime: Runtime) -> tuple[float, Answer]:
    started = time.monotonic()
    answer = runtime.copilot.answer(Question(QUESTION, runtime.default_now()))
    return time.monotonic() - started, answer


def assert_names_the_source(answer: Answer, url: str, fault: str) -> None:
    assert f"Prometheus at {url} {LINES[fault]}" in answer.summary, answer.summary
    assert answer.services == ["checkout"]
    assert not any(w in answer.summary for w in WRONG), answer.summary


@pytest.mark.parametrize("fault", FAULTS)
def test_a_failing_prometheus_costs_one_wait_and_the_answer_says_which_source(router, fault):
    with FaultServer(fault) as server:
        started = time.monotonic()
        runtime = build_runtime(fault_settings(server.url), router=router)
        answer = runtime.copilot.answer(Question(QUESTION, runtime.default_now()))
        took = time.monotonic() - started
        asked = server.requests
    assert took <= TIMEOUT_S + 2, took  # discovery at start and the whole answer
    assert_names_the_source(answer, server.url, fault)
    # Discovery, a dozen series and the alerts: one failed read (3 tries for a 500), then none.
    assert asked <= 3
    # The sandbox still answers for logs and changes: the deploy and the panics are reported.
    kinds = {f.kind for f in answer.findings}
    assert {"change", "log_errors"} <= kinds, kinds
    assert runtime.backends is not None
    [health] = [s for s in runtime.backends.health.states() if s.system == "Prometheus"]
    assert health.state is BreakerState.OPEN and LINES[fault] in health.reason


def test_after_the_cooldown_one_answer_waits_once_however_many_series_it_reads(router):
    with FaultServer("hang") as server:
        runtime = build_runtime(fault_settings(server.url, cooldown_s=0.2), router=router)
        time.sleep(0.3)
        before = server.requests
        took, answer = timed(runtime)
        assert server.requests - before == 1  # the probe; the answer remembers its failure
    assert took <= TIMEOUT_S + 2, took
    assert_names_the_source(answer, server.url, "hang")


def test_with_no_breaker_the_answer_alone_still_asks_a_failed_server_once(router):
    with FaultServer("500") as server:
        runtime = build_runtime(fault_settings(server.url, cooldown_s=0), router=router)
        before = server.requests
        _, first = timed(runtime)
        _, second = timed(runtime)
        assert server.requests - before == 6  # each answer: one read, three tries
    assert_names_the_source(first, server.url, "500")
    assert_names_the_source(second, server.url, "500")


def test_a_burst_of_answers_after_the_cooldown_sends_one_probe(router):
    with FaultServer("hang") as server:
        runtime = build_runtime(fault_settings(server.url, cooldown_s=0.2), router=router)
        time.sleep(0.3)
        before = server.requests
        results: list[tuple[float, Answer]] = []
        lock = threading.Lock()

        def ask() -> None:
            result = timed(runtime)
            with lock:
                results.append(result)

        threads = [threading.Thread(target=ask) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert server.requests - before == 1  # one probe; the others failed at once
    assert len(results) == 4 and max(s for s, _ in results) <= TIMEOUT_S + 2
    for _, answer in results:
        assert f"Prometheus at {server.url} did not answer within 1 s" in answer.summary


def test_several_hanging_systems_cost_one_timeout_not_their_sum(router):
    """Prometheus, Loki and Alertmanager all hanging: the answer's parts read them side by side,
    so it waits about one timeout (2 s), not the sum, and names each source it could not use."""
    slow = 2.0
    with FaultServer("hang") as prom, FaultServer("hang") as loki, FaultServer("hang") as am:
        settings = load_settings(
            prometheus={"url": prom.url, "timeout_s": slow, "retries": 0},
            loki={"url": loki.url, "timeout_s": slow, "retries": 0},
            alertmanager={"url": am.url, "timeout_s": slow, "retries": 0},
            sandbox={"scenario": SCENARIO, "fallback": "always"}, breaker={"cooldown_s": 0})
        runtime = build_runtime(settings, router=router)
        took, answer = timed(runtime)
        asked = prom.requests, loki.requests, am.requests
    assert took <= slow * 1.6, took  # one after another it took 3 x 2 s
    for system, server in (("Prometheus", prom), ("Loki", loki)):
        assert f"{system} at {server.url} did not answer within 2 s" in answer.summary, (
            system, answer.summary)
    # The scenario's now is in the past: Alertmanager, which keeps only the current state, is
    # named with that, not asked.
    assert f"Alertmanager at {am.url} keeps only the current alerts" in answer.summary
    assert not any(w in answer.summary for w in WRONG), answer.summary
    # Once by discovery at start and once by the answer (no cool-down here): never more.
    assert asked[0] <= 2 and asked[1] <= 2 and asked[2] <= 1, asked


# -- a real Prometheus going down and coming back under a running copilot


@pytest.fixture(scope="module")
def backfilled(tmp_path_factory) -> Iterator[tuple[str, Sandbox]]:
    with backfilled_prometheus(tmp_path_factory.mktemp("prom-faults"), SCENARIO) as served:
        yield served


def metric_reads(answer: Answer) -> list[str]:
    return [e.source for e in answer.evidence if e.id.startswith("metric:")]


@needs("prometheus", "promtool", package="prometheus")
def test_prometheus_down_and_back_the_answers_follow(router, backfilled, tmp_path):
    url, sb = backfilled
    templates = tmp_path / "promql.yaml"
    templates.write_text("templates:\n" + "".join(
        f"  {m}: 'opscopilot_sandbox_{m}{{$label=\"$service\"}}'\n" for m in METRICS))
    with FaultServer("up", upstream=url) as proxy:
        settings = fault_settings(proxy.url, cooldown_s=0.5, templates_file=templates,
                                  step_s=sb.step, alerts=False, timeout_s=3.0)
        runtime = build_runtime(settings, router=router)
        assert runtime.backends is not None
        health = runtime.backends.health
        _, up = timed(runtime)
        assert metric_reads(up) and set(metric_reads(up)) == {"prometheus"}
        assert "checkout" in up.summary and f"Prometheus at {proxy.url}" not in up.summary

        proxy.mode = "hang"
        time.sleep(0.6)  # the cool-down of any earlier failure is over
        took, down = timed(runtime)
        assert took <= 3.0 + 2, took
        assert f"Prometheus at {proxy.url} did not answer within 3 s" in down.summary
        assert not metric_reads(down) and not any(w in down.summary for w in WRONG)
        assert [s.state for s in health.states()] == [BreakerState.OPEN]

        proxy.mode = "up"
        time.sleep(0.6)  # after the cool-down the next read probes, finds it up, closes it
        _, back = timed(runtime)
        assert set(metric_reads(back)) == {"prometheus"}
        assert f"Prometheus at {proxy.url}" not in back.summary
        assert [s.state for s in health.states()] == [BreakerState.CLOSED]
        assert {(f.service, f.metric) for f in back.findings if f.kind == "metric_anomaly"} \
            == {(f.service, f.metric) for f in up.findings if f.kind == "metric_anomaly"}
