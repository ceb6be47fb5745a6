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
    severity: str = "warning"


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


def test_a_long_firing_warning_joins_the_outage_on_its_own_service():
    day = 86400
    alerts = [A("CertificateExpiringSoon", "payment", 0, None, "payment: certificate expires"),
              A("CPUSaturated", "ad", 0, None, "ad: CPU above 90 %"),
              A("CertificateExpired", "payment", day, None, "payment: certificate expired"),
              A("HighErrorRate", "checkout", day + 60, None, "checkout: error rate above 5 %"),
              A("HighLatencyP99", "frontend", day + 90, None, "frontend: p99 latency high")]
    incidents = AlertCorrelator(CALLS).group(alerts)
    groups = [[a.name for a in i.alerts] for i in incidents]
    assert groups == [["CPUSaturated"], ["CertificateExpiringSoon", "CertificateExpired",
                                         "HighErrorRate", "HighLatencyP99"]]
    # ad's old alert holds nothing open; payment's joins the outage on payment
    assert "firing since 1440 min before" in incidents[1].reasons[1]
    assert "1 call from CertificateExpired on payment" in incidents[1].reasons[2]


def test_firing_alerts_answer_groups_them_with_reasons(runtime_for):
    from bot.copilot import Question

    runtime = runtime_for("cert-expiry-payment")
    answer = runtime.copilot.answer(Question("which alerts are firing?",
                                             runtime.default_now()))
    groups = [e for e in answer.evidence if e.id.startswith("alert-group:")]
    assert len(groups) == 1 and groups[0].values["alerts"] >= 4
    assert "in 1 group of related alerts" in answer.summary
    assert "CertificateExpiringSoon on payment" in answer.summary  # warned days before
    assert "joined because" in answer.summary


def test_concurrent_incidents_on_two_branches_stay_apart():
    calls = {"frontend": ["checkout", "cart"], "checkout": ["payment"], "payment": ["postgres"],
             "cart": ["redis"], "postgres": [], "redis": []}
    errors = "error rate above 5 %"
    alerts = [A("DiskAlmostFull", "postgres", 0, None, "postgres: data volume 90 % full"),
              A("HighErrorRate", "payment", 60, None, f"payment: {errors}"),
              A("HighErrorRate", "frontend", 60, None, f"frontend: {errors}"),
              A("ServiceDown", "redis", 900, None, "redis: not serving requests"),
              A("HighErrorRate", "cart", 900, None, f"cart: {errors}"),
              A("HighLatencyP99", "frontend", 960, None, "frontend: p99 latency high"),
              A("ErrorBudgetBurnSlow", "payment", 1500, None, f"payment: budget burn, {errors}")]
    incidents = AlertCorrelator(calls).group(alerts)
    assert [sorted(a.service for a in i.alerts) for i in incidents] == [
        ["frontend", "payment", "payment", "postgres"], ["cart", "frontend", "redis"]]
    # frontend's new symptom goes with the fresh cause below it, not its own older alert
    assert "1 call from HighErrorRate on cart" in incidents[1].reasons[2]


def test_same_alert_refiring_prefers_a_fresher_incident():
    calls = {"checkout": ["payment"], "payment": ["postgres"], "postgres": []}
    alerts = [A("HighErrorRate", "payment", 0, 1800, "payment: error rate above 5 %"),
              A("DiskAlmostFull", "postgres", 3300, None, "postgres: data volume 90 % full"),
              A("HighErrorRate", "payment", 3420, None, "payment: error rate above 5 %")]
    incidents = AlertCorrelator(calls).group(alerts)
    assert [[a.name for a in i.alerts] for i in incidents] == [
        ["HighErrorRate"], ["DiskAlmostFull", "HighErrorRate"]]
