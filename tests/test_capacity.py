"""Capacity forecasts in the copilot: regime detection, resets, the forecast_capacity tool over
the sandbox and over Prometheus' API (replayed), the planner and the grounded answer."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from bot.copilot import Question
from bot.grounding import ungrounded_numbers
from tests.test_prometheus_backend import URL, FakePrometheus
from tools.anomaly.forecast import forecast_recent
from tools.backends.prometheus import PrometheusBackend, TemplateFileError, load_templates
from tools.base import ToolStatus
from tools.capacity import ForecastCapacity, ForecastCapacityParams
from tools.catalog import METRICS

T0 = 1_700_000_000


def test_a_runaway_after_a_calm_hour_is_forecast_from_where_it_began():
    rng = np.random.default_rng(3)
    ts = np.arange(T0, T0 + 6 * 3600, 15.0)
    vs = 60 + 0.5 * (ts - T0) / 3600 + rng.normal(0, 0.05, len(ts))
    ramp = ts >= ts[-1] - 120  # the last 2 minutes grow 8 % a minute
    vs[ramp] += 8 * (ts[ramp] - ts[ramp][0]) / 60
    f = forecast_recent(ts, vs, 100.0)
    assert f is not None and f.eta_s is not None
    truth = (100 - vs[-1]) / (8 / 60)
    assert f.eta_s == pytest.approx(truth, rel=0.1)
    assert f.eta_low_s is not None and f.eta_high_s is not None
    assert f.eta_low_s <= f.eta_s <= f.eta_high_s
    calm = forecast_recent(ts[~ramp], vs[~ramp], 100.0)  # no runaway: the 6 h trend, days away
    assert calm is not None and calm.eta_s is not None and calm.eta_s > 60 * 3600


def test_just_after_a_restart_there_is_no_forecast_yet():
    ts = np.arange(T0, T0 + 3600, 15.0)
    vs = np.where(ts < ts[-3], 200 + (ts - T0) / 5, 100.0)  # killed two points ago
    assert forecast_recent(ts, vs, 1024.0) is None


def ask(runtime, text):
    return runtime.copilot.answer(Question(text, runtime.default_now()))


def test_disk_trend_and_memory_leak_answers_are_grounded(runtime_for):
    quiet = ask(runtime_for("quiet"), "when will the disk of postgres fill up?")
    assert [c.tool for c in quiet.tool_calls] == ["query_metrics", "forecast_capacity"]
    [disk] = [f for f in quiet.findings if f.kind == "forecast"]
    assert "days" in disk.text and "90 % band" in disk.text and disk.score <= 0.5
    assert ungrounded_numbers(quiet) == []
    leak = ask(runtime_for("memory-leak-cart"), "how long until cart runs out of memory?")
    [memory] = [f for f in leak.findings if f.kind == "forecast"]
    assert memory.service == "cart" and memory.metric == "memory" and memory.score >= 0.9
    assert "min" in memory.text and ungrounded_numbers(leak) == []


def test_unknown_limits_are_said_not_guessed(runtime_for):
    backends = runtime_for("quiet").backends
    tool = ForecastCapacity(backends.metrics, backends)
    params = ForecastCapacityParams(services=["frontend"], metrics=["connections"],
                                    start=T0, end=T0 + 60)
    result = tool.run(params)  # frontend has no pool: nothing to forecast
    assert result.status is ToolStatus.NO_DATA and "has disk, memory or pool" in result.summary
    fake = FakePrometheus(value_of=lambda t: 300.0)
    prom = PrometheusBackend(URL, httpx.Client(transport=httpx.MockTransport(fake)),
                             backoff_s=0, capacity_templates={})  # no limit query configured
    result = ForecastCapacity(prom, prom).run(ForecastCapacityParams(
        services=["checkout"], metrics=["memory"], start=T0, end=T0 + 3600))
    assert result.status is ToolStatus.NO_DATA
    assert result.summary == "no limit known for memory of checkout"
    with pytest.raises(ValueError, match="forecasts cover"):
        ForecastCapacityParams(metrics=["latency_p99"], start=T0, end=T0 + 60)


def test_prometheus_reads_the_memory_limit_and_a_teams_capacity_query(tmp_path):
    fake = FakePrometheus(value_of=lambda t: 2048.0)
    client = httpx.Client(transport=httpx.MockTransport(fake))
    prom = PrometheusBackend(URL, client, backoff_s=0)
    assert prom.capacity("checkout", "memory", T0) == 2048.0
    assert "kube_pod_container_resource_limits" in fake.requests[-1].url.params["query"]
    assert prom.capacity("checkout", "disk", T0) == 100.0
    assert prom.capacity("checkout", "connections", T0) is None  # nothing configured
    team = tmp_path / "promql.yaml"
    team.write_text("templates: {}\ncapacity:\n  connections: "
                    "max(pool_max_connections{service=\"$service\"})\n")
    loaded = load_templates(team, list(METRICS))
    assert loaded.capacity == {"connections": 'max(pool_max_connections{service="$service"})'}
    team.write_text("templates: {}\ncapacity:\n  speed: up\n")
    with pytest.raises(TemplateFileError, match="unknown metric 'speed' in 'capacity'"):
        load_templates(team, list(METRICS))


def test_forecast_over_prometheus_series(runtime_for):
    growth = lambda t: 500.0 + (t - T0) / 60  # noqa: E731  1 MB a minute from 500 MB
    fake = FakePrometheus(value_of=lambda t: 1024.0 if "limits" in fake.last else growth(t))
    client = httpx.Client(transport=httpx.MockTransport(lambda r: (
        setattr(fake, "last", r.url.params.get("query", "")), fake(r))[1]))
    prom = PrometheusBackend(URL, client, backoff_s=0)
    tool = ForecastCapacity(prom, prom)
    end = T0 + 2 * 3600
    result = tool.run(ForecastCapacityParams(services=["checkout"], metrics=["memory"],
                                             start=end - 3600, end=end))
    [f] = result.findings
    assert f.baseline == 1024.0 and f.value == pytest.approx(620.0, abs=1.0)
    assert "at this rate it reaches the limit in about 6 h 44 min" in f.text


def test_a_full_pool_answer_quotes_one_value_and_since_when(runtime_for):
    answer = ask(runtime_for("pool-exhaustion-payment"), "db connections payment")
    [pool] = [f for f in answer.findings if f.kind == "forecast"]
    assert "is 20.0 of 20.0: at its limit since" in pool.text
    assert "reaches the limit" not in answer.summary and ungrounded_numbers(answer) == []
