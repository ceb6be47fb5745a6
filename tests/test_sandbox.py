"""The sandbox's data: deterministic, each fault visible where its ground truth says, propagated."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tools.catalog import FAULT_KINDS, METRICS
from tools.sandbox.errors import UnknownSeries
from tools.sandbox.scenario import list_scenarios, load_scenario
from tools.sandbox.simulator import Sandbox, load_sandbox, simulate
from tools.sandbox.topology import Topology, default_services

SCENARIOS = [s.name for s in list_scenarios()]
FAULT_SCENARIOS = [s.name for s in list_scenarios() if s.faults]

# What each fault kind must move on the faulty service: (metric, +1 up / -1 down).
EXPECTED = {
    "bad_deploy": [("error_rate", 1)],
    "memory_leak": [("memory", 1)],
    "cpu_hog": [("cpu", 1), ("latency_p99", 1)],
    "latency_injection": [("latency_p50", 1), ("latency_p99", 1)],
    "network_delay": [("latency_p99", 1), ("error_rate", 1)],
    "disk_full": [("disk", 1), ("error_rate", 1)],
    "dependency_down": [("request_rate", -1)],
    "connection_pool_exhaustion": [("connections", 1), ("latency_p99", 1), ("error_rate", 1)],
    "certificate_expiry": [("cert_expiry", -1), ("request_rate", -1)],
}


def window_median(sb: Sandbox, service: str, metric: str, seconds: int = 300) -> float:
    _, values = sb.series(service, metric, sb.now - seconds, sb.now)
    return float(np.median(values))


def test_the_library_covers_every_fault_kind():
    kinds = {f.kind for s in list_scenarios() for f in s.faults}
    assert kinds == set(FAULT_KINDS)
    assert "quiet" in SCENARIOS and len(SCENARIOS) >= 10
    for sc in list_scenarios():
        for f in sc.faults:
            hour = (f.start - sc.start) / 3600
            assert 14 <= hour < 23, (sc.name, hour)
            assert sc.now == min(x.start for x in sc.faults) + 600


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_scenario_simulates(name):
    sb = load_sandbox(name)
    n = (sb.end - sb.start) // sb.step
    assert len(sb.timestamps) == n == 24 * 240
    assert sb.timestamps.dtype == np.int64
    for service in sb.topology.names():
        for metric in sb.metric_names(service):
            ts, vs = sb.series(service, metric, sb.start, sb.end)
            assert len(ts) == n and np.isfinite(vs).all(), (service, metric)
        ts, p50 = sb.series(service, "latency_p50", sb.start, sb.end)
        _, p95 = sb.series(service, "latency_p95", sb.start, sb.end)
        _, p99 = sb.series(service, "latency_p99", sb.start, sb.end)
        assert (p50 < p95).all() and (p95 < p99).all()
        _, err = sb.series(service, "error_rate", sb.start, sb.end)
        assert ((err >= 0) & (err <= 100)).all()


def test_metric_names_follow_the_service():
    sb = load_sandbox("quiet")
    postgres, payment = sb.metric_names("postgres"), sb.metric_names("payment")
    assert "disk" in postgres and "connections" not in postgres
    assert "connections" in payment and "disk" not in payment
    assert set(sb.metric_names("frontend")) == {"request_rate", "error_rate", "latency_p50",
                                                "latency_p95", "latency_p99", "cpu", "memory",
                                                "cert_expiry"}
    assert all(m in METRICS for s in sb.topology.names() for m in sb.metric_names(s))


def test_unknown_series_is_a_clear_key_error():
    sb = load_sandbox("quiet")
    with pytest.raises(KeyError, match="unknown service 'nope'"):
        sb.series("nope", "cpu", sb.start, sb.end)
    with pytest.raises(UnknownSeries, match="has no metric 'disk'.*it has: request_rate"):
        sb.series("cart", "disk", sb.start, sb.end)


def test_series_window_is_half_open():
    sb = load_sandbox("quiet")
    ts, vs = sb.series("cart", "cpu", sb.start + 60, sb.start + 120)
    assert ts.tolist() == [sb.start + 60, sb.start + 75, sb.start + 90, sb.start + 105]
    assert sb.series("cart", "cpu", sb.end, sb.end + 600)[0].size == 0


def test_deterministic_for_a_seed_and_different_across_seeds():
    sc = load_scenario("bad-deploy-checkout")
    a, b = simulate(sc), simulate(sc)
    other = simulate(dataclasses.replace(sc, seed=sc.seed + 1))
    for service in ("checkout", "redis"):
        for metric in a.metric_names(service):
            va = a.series(service, metric, a.start, a.end)[1]
            assert np.array_equal(va, b.series(service, metric, b.start, b.end)[1])
    assert not np.array_equal(a.series("cart", "cpu", a.start, a.end)[1],
                              other.series("cart", "cpu", a.start, a.end)[1])
    assert a.ground_truth == b.ground_truth
    assert a.events(a.start, a.end) == b.events(b.start, b.end)
    window = (a.now - 900, a.now)
    assert a.logs("checkout", *window) == b.logs("checkout", *window)
    assert a.logs("checkout", *window) != other.logs("checkout", *window)
    assert a.traces("payment", *window) == b.traces("payment", *window)


def test_daily_seasonality_is_smooth_and_low_at_night():
    sb = load_sandbox("quiet")
    ts, rate = sb.series("frontend", "request_rate", sb.start, sb.end)
    hourly = rate.reshape(24, -1).mean(axis=1)
    assert hourly[3] < 0.7 * hourly[15]
    assert np.max(np.abs(np.diff(hourly)) / hourly[:-1]) < 0.12


@pytest.mark.parametrize("name", FAULT_SCENARIOS)
def test_ground_truth_names_the_faults_own_metrics(name):
    sb = load_sandbox(name)
    assert len(sb.ground_truth) == len(sb.scenario.faults)
    gt = sb.ground_truth[0]
    own = {a.metric: a for a in gt.affected if a.service == gt.service}
    for metric, direction in EXPECTED[gt.kind]:
        assert metric in own, f"{name}: {metric} not in {sorted(own)}"
        a = own[metric]
        assert (a.observed - a.baseline) * direction > 0, a
    for a in gt.affected:
        change = abs(a.observed - a.baseline)
        assert change >= max(METRICS[a.metric].min_abs_change, 0.2 * abs(a.baseline)), a


@pytest.mark.parametrize("name", FAULT_SCENARIOS)
def test_ground_truth_values_match_the_series_near_now(name):
    sb = load_sandbox(name)
    for gt in sb.ground_truth:
        for a in gt.affected:
            seen = window_median(sb, a.service, a.metric)
            tolerance = max(METRICS[a.metric].min_abs_change, 0.1 * abs(a.observed))
            assert abs(seen - a.observed) <= tolerance, (a, seen)


@pytest.mark.parametrize("name", FAULT_SCENARIOS)
def test_the_faulty_services_changes_are_clearly_in_or_out(name):
    """No metric of the faulty service sits at the edge of the ground-truth threshold, where a
    detector's verdict would be a coin toss."""
    sb = load_sandbox(name)
    gt = sb.ground_truth[0]
    window = (sb.timestamps >= sb.now - 300) & (sb.timestamps < sb.now)
    for metric in sb.metric_names(gt.service):
        base = float(np.median(sb.normal.values[gt.service][metric][window]))
        seen = float(np.median(sb.clean.values[gt.service][metric][window]))
        margin = abs(seen - base) / max(METRICS[metric].min_abs_change, 0.2 * abs(base))
        assert not 0.7 < margin < 1.3, (metric, base, seen, margin)


@pytest.mark.parametrize(("name", "caller", "metric"), [
    ("dependency-down-redis", "cart", "error_rate"),
    ("dependency-down-redis", "frontend", "error_rate"),
    ("bad-deploy-checkout", "frontend", "error_rate"),
    ("cert-expiry-payment", "checkout", "error_rate"),
    ("disk-full-postgres", "payment", "error_rate"),
    ("latency-injection-currency", "checkout", "latency_p99"),
    ("cpu-hog-recommendation", "frontend", "latency_p99"),
    ("pool-exhaustion-payment", "checkout", "latency_p99"),
    ("network-delay-shipping", "checkout", "latency_p99"),
])
def test_faults_propagate_to_callers(name, caller, metric):
    sb = load_sandbox(name)
    gt = sb.ground_truth[0]
    assert caller in sb.topology.upstream(gt.service)
    moved = {(a.service, a.metric): a for a in gt.affected}
    assert (caller, metric) in moved
    a = moved[(caller, metric)]
    assert a.observed > a.baseline
    before = float(np.median(sb.series(caller, metric, gt.start - 1800, gt.start)[1]))
    assert window_median(sb, caller, metric) > before


def test_faults_do_not_move_unrelated_services():
    sb = load_sandbox("latency-injection-currency")
    touched = {a.service for a in sb.ground_truth[0].affected}
    assert touched <= {"currency", *sb.topology.upstream("currency")}
    assert "redis" not in touched and "postgres" not in touched


def test_memory_leak_is_a_sawtooth_with_restarts():
    sb = load_sandbox("memory-leak-cart")
    gt = sb.ground_truth[0]
    spec = sb.topology.services["cart"]
    _, mem = sb.series("cart", "memory", gt.start, gt.end)
    assert mem.max() > 0.95 * spec.memory_limit_mb
    drops = np.flatnonzero(np.diff(mem) < -0.3 * spec.memory_limit_mb)
    assert len(drops) >= 3  # OOM kills
    _, err = sb.series("cart", "error_rate", gt.start, gt.end)
    assert err[drops + 1].min() > 20  # error spikes at restarts
    early = window_median(sb, "cart", "memory", 60) - float(
        np.median(sb.series("cart", "memory", gt.start - 300, gt.start)[1]))
    assert early > 250  # +30-60 MB/min: obvious within 10 minutes


def test_quiet_has_no_ground_truth_and_now_is_the_end():
    sb = load_sandbox("quiet")
    assert sb.ground_truth == [] and sb.now == sb.end


def test_topology_of_the_shop():
    topo = Topology(default_services())
    assert len(topo.names()) == 12
    assert set(topo.dependencies("checkout")) == {"cart", "payment", "currency", "shipping",
                                                  "email", "catalog"}
    assert set(topo.callers("catalog")) == {"frontend", "checkout", "recommendation"}
    assert set(topo.upstream("redis")) == {"cart", "checkout", "frontend"}
    assert set(topo.downstream("recommendation")) == {"catalog", "postgres"}
    assert topo.roots() == ("frontend",)
    order = topo.order
    for s in topo.names():
        assert all(order.index(d) < order.index(s) for d in topo.dependencies(s))
    services = topo.services
    assert services["postgres"].has_disk and services["payment"].pool_size > 0
    assert services["catalog"].pool_size > 0 and services["redis"].kind == "cache"
