"""Alert correlation: grouping by time, graph and text, with reasons; sandbox incidents."""

from __future__ import annotations

from dataclasses import dataclass

from tools.anomaly.correlation import AlertCorrelator, compression, hop_distances
from tools.sandbox.simulator import load_sandbox

CALLS = {"frontend": ["checkout"], "checkout": ["payment"], "payment": ["postgres"],
         "postgres": [], "ad": []}


@dataclass
class A:
    name: str
    service: str
    starts_at: int
    ends_at: int | None
    summary: str


def test_hop_distances_are_undirected():
    d = hop_distances(CALLS, 2)
    assert d[("postgres", "checkout")] == 2
    assert ("postgres", "frontend") not in d


def test_related_alerts_group_and_unrelated_ones_do_not():
    alerts = [A("HighErrorRate", "payment", 0, None, "payment: error rate above 5 %"),
              A("HighErrorRate", "checkout", 60, None, "checkout: error rate above 5 %"),
              A("CPUSaturated", "ad", 90, None, "ad: CPU above 90 %"),
              A("HighLatencyP99", "frontend", 7200, None, "frontend: p99 latency high")]
    incidents = AlertCorrelator(CALLS).group(alerts)
    assert [[a.service for a in i.alerts] for i in incidents] == [
        ["payment", "checkout"], ["ad"], ["frontend"]]
    assert "1 call from HighErrorRate on payment" in incidents[0].reasons[1]
    assert compression(len(alerts), incidents) == 4 / 3


def test_refiring_alert_rejoins_its_incident():
    alerts = [A("MemoryNearLimit", "ad", t, t + 60, "ad: memory above 90 %")
              for t in (0, 900, 1800)]
    incidents = AlertCorrelator(CALLS).group(alerts)
    assert len(incidents) == 1
    assert "firing again" in incidents[0].reasons[1]


def test_sandbox_incident_is_one_group():
    sb = load_sandbox("disk-full-postgres")
    calls = {s: sb.topology.services[s].calls for s in sb.topology.names()}
    incidents = AlertCorrelator(calls).group(sb.all_alerts())
    assert len(incidents) == 1
    assert len(incidents[0].alerts) == len(sb.all_alerts()) >= 5
