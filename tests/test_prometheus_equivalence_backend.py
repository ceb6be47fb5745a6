"""The issue's "done when": the same question about the same scenario gives the same findings
from the sandbox directly and from a real Prometheus backfilled with that scenario's metrics,
selected from settings like a team would (URL + a PromQL templates file)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.answer import Answer, Question
from bot.app import build_runtime
from infra.settings import load_settings
from tests.servers import backfilled_prometheus, needs
from tools.backends.prometheus import PrometheusBackend
from tools.catalog import METRICS
from tools.sandbox.backend import SandboxBackend
from tools.sandbox.simulator import Sandbox

pytestmark = needs("prometheus", "promtool", package="prometheus")

SCENARIO = "bad-deploy-checkout"
QUESTIONS = ("what is wrong with checkout?", "p99 latency of checkout over the last hour",
             "error rate of frontend in the last 30 minutes")


@pytest.fixture(scope="module")
def backfilled(tmp_path_factory) -> Iterator[tuple[str, Sandbox]]:
    with backfilled_prometheus(tmp_path_factory.mktemp("prom-equivalence"), SCENARIO) as served:
        yield served


def metric_findings(answer: Answer) -> dict[tuple[str, str | None], float | None]:
    return {(f.service, f.metric): f.value for f in answer.findings
            if f.kind in ("metric_anomaly", "metric_value")}


def test_same_findings_from_the_sandbox_and_a_backfilled_prometheus(backfilled, runtime_for,
                                                                      tmp_path):
    url, sb = backfilled
    templates = tmp_path / "promql.yaml"
    templates.write_text("templates:\n" + "".join(
        f"  {m}: 'opscopilot_sandbox_{m}{{$label=\"$service\"}}'\n" for m in METRICS))
    settings = load_settings(
        prometheus={"url": url, "templates_file": templates, "step_s": sb.step,
                    "alerts": False},
        sandbox={"scenario": SCENARIO, "fallback": "always"})
    direct = runtime_for(SCENARIO)
    router = direct.copilot.router
    services = list(router.services)
    try:
        real = build_runtime(settings, router=router)
    finally:
        router.services = services
    assert real.backends is not None and isinstance(real.backends.metrics, PrometheusBackend)
    assert isinstance(real.backends.logs, SandboxBackend)  # the sandbox fills the other seams
    when = direct.default_now()
    for text in QUESTIONS:
        a = direct.copilot.answer(Question(text, when))
        b = real.copilot.answer(Question(text, when))
        fa, fb = metric_findings(a), metric_findings(b)
        assert fa and fa.keys() == fb.keys(), text
        for key, value in fa.items():
            assert fb[key] == pytest.approx(value, rel=1e-3, abs=1e-3), (text, key)
        assert [c.service for c in a.root_causes] == [c.service for c in b.root_causes], text
        prom = [e for e in b.evidence if e.id.startswith("metric:")]  # each metric read
        assert prom and all(e.source == "prometheus" and "opscopilot_sandbox_" in e.query
                            and "/graph?" in (e.link or "") for e in prom), text
