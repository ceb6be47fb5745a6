"""Answers while a source is down or missing (issue 26): the failed source is named, the others
are used, and nothing the copilot could not see is stated as a fact. A down Prometheus never
turns into "unknown service" or "bad arguments"; a missing changes backend never into "nothing
changed" or "none of them lines up"."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from bot.answer import Question
from bot.app import build_registry, build_runtime
from bot.copilot import Copilot
from bot.router import Router
from infra.settings import load_settings
from tests.test_loki_backend import FakeLoki, stream
from tools.backends.seams import Backends, Unconfigured
from tools.sandbox.backend import SandboxBackend
from tools.sandbox.simulator import load_sandbox

PROM, LOKI = "http://prom.test:9090", "http://loki.test:3100"
ASKED = datetime(2026, 11, 20, 18, 15, tzinfo=UTC)
T = int(ASKED.timestamp())
WRONG = ("unknown service", "bad arguments", "Nothing found", "None of them lines up")


@pytest.fixture
def router(runtime_for) -> Iterator[Router]:
    """The session's trained router; its services are put back afterwards."""
    shared = runtime_for("bad-deploy-checkout").copilot.router
    before = list(shared.services)
    yield shared
    shared.services, shared.services_incomplete = before, False


class Network:
    """Prometheus refuses every connection; Loki answers unless `loki_down`."""

    def __init__(self) -> None:
        self.loki = FakeLoki([stream({"service": "payment", "level": "error"},
                                     [(T - 60 * i, f"pool exhausted: waited 5000ms id={i}")
                                      for i in range(1, 9)])])
        self.loki_down = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "prom.test" or self.loki_down:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        return self.loki(request)


def prometheus_down_runtime(router: Router, network: Network):
    settings = load_settings(prometheus={"url": PROM, "timeout_s": 1, "retries": 0},
                             loki={"url": LOKI, "timeout_s": 1, "retries": 0},
                             sandbox={"fallback": "never"}, breaker={"cooldown_s": 0})
    return build_runtime(settings, router=router, transport=httpx.MockTransport(network))


def test_logs_are_searched_for_a_named_service_while_discovery_is_incomplete(router):
    """Both servers were down when the process started (no service list at all); Loki is back:
    the logs of the service the question names are searched, not refused as unknown."""
    network = Network()
    network.loki_down = True
    runtime = prometheus_down_runtime(router, network)
    network.loki_down = False
    answer = runtime.copilot.answer(Question("show error logs of payment", ASKED))
    assert answer.services == ["payment"]
    assert [f.service for f in answer.findings if f.kind.startswith("log")] == ["payment"], \
        answer.summary
    assert not any(w in answer.summary for w in WRONG), answer.summary


def nothing_discovered() -> Network:
    network = Network()
    network.loki_down = True  # no backend could list a service
    return network


def test_a_terse_metric_question_over_a_down_prometheus_names_it(router):
    runtime = prometheus_down_runtime(router, nothing_discovered())
    answer = runtime.copilot.answer(Question("db connections payment", ASKED))
    assert answer.services == ["payment"]
    assert f"Prometheus at {PROM} is unreachable: connection refused" in answer.summary
    assert not any(w in answer.summary for w in WRONG), answer.summary


def test_a_metric_question_naming_no_service_over_a_down_prometheus_names_it(router):
    runtime = prometheus_down_runtime(router, nothing_discovered())
    answer = runtime.copilot.answer(Question("p99 latency over the last hour", ASKED))
    assert f"Prometheus at {PROM} is unreachable: connection refused" in answer.summary
    assert not any(w in answer.summary for w in WRONG), answer.summary


def sandbox_copilot(router: Router, missing: tuple[str, ...]) -> tuple[Copilot, datetime]:
    """The sandbox serves every seam but `missing`, which no backend serves."""
    sb = load_sandbox("bad-deploy-checkout")
    s = SandboxBackend(sb)
    seams = {k: Unconfigured(k) if k in missing else s
             for k in ("metrics", "logs", "traces", "changes", "alerts")}
    backends = Backends(seams["metrics"], seams["logs"], seams["traces"], seams["changes"],
                        seams["alerts"], s, unconfigured=list(missing))
    router.services = backends.services()
    copilot = Copilot(router, build_registry(backends), backends.topology, load_settings())
    return copilot, datetime.fromtimestamp(sb.now, UTC)


def test_with_no_changes_backend_the_answer_first_says_it_could_not_look(router):
    copilot, now = sandbox_copilot(router, ("changes",))
    answer = copilot.answer(Question("what changed in the last 3 hours?", now))
    first = answer.summary.splitlines()[0]
    assert "no changes backend is configured" in first, answer.summary
    assert not any(w in answer.summary for w in WRONG), answer.summary
    # what it could see is still said: the current anomalies and their likely cause
    assert "checkout" in answer.summary and answer.root_causes


def test_with_no_metrics_backend_changes_are_listed_and_the_link_is_not_claimed(router):
    copilot, now = sandbox_copilot(router, ("metrics",))
    answer = copilot.answer(Question("what changed in the last 3 hours?", now))
    assert "deploy checkout v3.11.9 -> v3.12.0" in answer.summary
    assert "no metrics backend is configured" in answer.summary, answer.summary


def test_an_unreachable_knowledge_store_does_not_stop_a_long_lived_session(router):
    """`chat` and the Slack app warm the knowledge base at start; a Chroma server that is down
    ended `chat` before its first question. Now the session starts and answers say it."""
    from tests.servers import free_port

    settings = load_settings(kb={"chroma_url": f"http://127.0.0.1:{free_port()}"})
    runtime = build_runtime(settings, "bad-deploy-checkout", router=router)
    runtime.warm()
    answer = runtime.copilot.answer(Question("what is wrong with checkout?",
                                             runtime.default_now()))
    assert answer.root_causes and "Could not use search_incidents: knowledge base: cannot open" \
        in answer.summary, answer.summary
