"""A real Prometheus (Debian's package), backfilled from a sandbox scenario with promtool, read
through PrometheusBackend: the export, the backfill and the backend agree on every number."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from tests.servers import backfilled_prometheus, needs
from tools.backends.prometheus import PrometheusBackend
from tools.base import ToolRegistry, ToolStatus
from tools.catalog import METRICS
from tools.metrics import DetectMetricAnomalies
from tools.sandbox.simulator import Sandbox

pytestmark = needs("prometheus", "promtool", package="prometheus")

SCENARIO = "bad-deploy-checkout"
# The export names every metric opscopilot_sandbox_<metric> with a service label.
TEMPLATES = {m: 'opscopilot_sandbox_' + m + '{{{label}="{service}"}}' for m in METRICS}


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory) -> Iterator[tuple[str, Sandbox]]:
    with backfilled_prometheus(tmp_path_factory.mktemp("prometheus"), SCENARIO) as served:
        yield served


def make_backend(url: str) -> PrometheusBackend:
    return PrometheusBackend(url, httpx.Client(), templates=TEMPLATES, step_s=15)


def test_backfilled_series_read_back_exactly(prometheus):
    url, sb = prometheus
    backend = make_backend(url)
    assert "checkout" in backend.services()
    start, end = sb.now - 1800, sb.now
    series = backend.range_query("checkout", "error_rate", start, end)
    ts, vs = sb.series("checkout", "error_rate", start, end)
    common, ia, ib = np.intersect1d(series.timestamps, ts, return_indices=True)
    assert len(common) >= len(ts) - 1
    assert np.allclose(series.values[ia], vs[ib], atol=1e-4)


def test_the_anomaly_scan_finds_the_bad_deploy_in_real_prometheus(prometheus):
    url, sb = prometheus
    registry = ToolRegistry()
    registry.register(DetectMetricAnomalies(make_backend(url)))
    result = registry.run("detect_metric_anomalies", {
        "services": ["checkout"], "metrics": ["error_rate", "latency_p99"],
        "start": sb.now - 1800, "end": sb.now})
    assert result.status is ToolStatus.OK, result.summary
    top = result.findings[0]
    truth = next(a for g in sb.ground_truth for a in g.affected
                 if (a.service, a.metric) == ("checkout", "error_rate"))
    assert (top.service, top.metric) == ("checkout", "error_rate")
    assert top.value == pytest.approx(truth.observed, rel=0.2)
    assert result.evidence[0].source == "prometheus" and "/graph?" in result.evidence[0].link
