"""The service-graph root-cause ranking on hand-made findings."""

from tests.conftest import SHOP
from tools.base import Finding
from tools.rootcause import rank_root_causes


def anomaly(service, metric, score=0.9, since=1000):
    return Finding("metric_anomaly", service, f"{metric} of {service}", score, metric=metric,
                   since=since, evidence=[f"metric:{service}:{metric}"])


def test_the_sick_leaf_beats_its_sicker_looking_callers():
    findings = [
        anomaly("frontend", "error_rate", 0.99, since=1060),
        anomaly("checkout", "error_rate", 0.95, since=1030),
        anomaly("payment", "latency_p99", 0.7, since=1000),
        anomaly("payment", "connections", 0.8, since=1000),
    ]
    ranked = rank_root_causes(findings, SHOP)
    assert [c.service for c in ranked] == ["payment", "checkout", "frontend"]
    assert ranked[0].metric == "connections"
    assert "none of its dependencies is abnormal" in ranked[0].reasons
    assert all(0 <= c.score <= 1 for c in ranked)


def test_a_deploy_just_before_the_onset_counts():
    findings = [
        anomaly("checkout", "error_rate", 0.9, since=1000),
        anomaly("cart", "latency_p99", 0.9, since=1000),
        Finding("change", "checkout", "deploy at 00:16 UTC: checkout v2", 0.5, since=950,
                evidence=["change:1"]),
    ]
    ranked = rank_root_causes(findings, SHOP)
    assert ranked[0].service == "checkout"
    assert "change:1" in ranked[0].evidence


def test_no_anomaly_no_candidate():
    assert rank_root_causes([Finding("change", "cart", "deploy", 0.5, since=1)], SHOP) == []
