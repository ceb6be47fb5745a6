"""`opscopilot alerts investigate`: a saved Alertmanager webhook payload (version 4) through the
same investigation as `ask`, at the alerts' time; bad payloads end with one line."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from bot.alerting import alert_question, parse_payload
from bot.cli.alerts import mount

ASK_KEYS = {"answer", "intent", "tools", "findings", "root_causes", "similar_incidents",
            "runbooks", "evidence", "latency_ms", "question", "window"}

app = typer.Typer()
mount(app)


@app.callback()
def _root() -> None:
    """A root with the `alerts` group mounted the way bot/cli/main.py mounts it."""


def webhook(service="checkout", starts="2026-11-20T18:10:00Z", status="firing", key="g1",
            name="HighErrorRate", label="service", **extra):
    labels = {"alertname": name, label: service, "severity": "critical"}
    return {"version": "4", "groupKey": key, "truncatedAlerts": 0, "status": status,
            "receiver": "opscopilot", "groupLabels": {"alertname": name}, "commonLabels": labels,
            "commonAnnotations": {}, "externalURL": "http://am:9093",
            "alerts": [{"status": status, "labels": labels,
                        "annotations": {"summary": f"{service} error rate above 5 %"},
                        "startsAt": starts, "endsAt": "0001-01-01T00:00:00Z",
                        "generatorURL": "http://prom:9090/graph?g0.expr=up", "fingerprint": "f1"}],
            **extra}


def run(tmp_path, payload, *args):
    path = tmp_path / "payload.json"
    path.write_text(payload if isinstance(payload, str) else json.dumps(payload))
    return CliRunner().invoke(app, ["alerts", "investigate", str(path), *args])


def test_the_json_has_the_keys_of_ask_and_the_group(tmp_path):
    result = run(tmp_path, webhook(), "--scenario", "bad-deploy-checkout", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert set(out) >= ASK_KEYS
    assert out["group_key"] == "g1" and out["status"] == "firing"
    assert [a["name"] for a in out["alerts"]] == ["HighErrorRate"]
    assert out["alerts"][0]["ends_at"] is None
    assert out["intent"] == "investigate" and out["services"][:1] == ["checkout"]
    assert out["root_causes"][0]["service"] == "checkout"
    assert out["window"]["end"] == 1795198200  # 18:10 UTC: the alert's start, not the clock
    assert out["answer"].startswith("Alert: HighErrorRate on checkout")
    assert "http://prom:9090/graph?g0.expr=up" in out["answer"]


def test_the_job_label_names_the_service_and_unknown_names_investigate_everything():
    group = parse_payload(json.dumps(webhook(label="job")))
    assert alert_question(group, ["checkout", "cart"]).text == "what is wrong with checkout?"
    other = parse_payload(json.dumps(webhook(service="billing-v2")))
    question = alert_question(other, ["checkout", "cart"])
    assert question.text == "is anything broken right now?" and question.thread == "g1"
    assert question.time.isoformat() == "2026-11-20T18:10:00+00:00"


@pytest.mark.parametrize(("payload", "message"), [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "expected a JSON object"),
    (webhook(version="3"), "version: Input should be '4'"),
    ({k: v for k, v in webhook().items() if k != "groupKey"}, "groupKey: Field required"),
    (webhook(alerts=[]), "alerts: List should have at least 1 item"),
    (webhook(starts="yesterday"), "alerts.0.startsAt"),
])
def test_bad_payloads_end_with_one_line(tmp_path, payload, message):
    result = run(tmp_path, payload)
    assert result.exit_code == 2
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_an_alert_outside_the_scenario_is_one_line(tmp_path):
    result = run(tmp_path, webhook(starts="2020-01-01T00:00:00Z"), "-s", "bad-deploy-checkout")
    assert result.exit_code == 2 and "outside the scenario's data" in result.output


def test_a_missing_file_is_one_line(tmp_path):
    result = CliRunner().invoke(app, ["alerts", "investigate", str(tmp_path / "nope.json")])
    assert result.exit_code == 2 and "nope.json" in result.output


def test_alerts_serve_without_a_secret_is_one_line(monkeypatch):
    monkeypatch.setenv("OPSCOPILOT_SLACK__BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("OPSCOPILOT_ALERTS__CHANNEL", "C0ALERTS")
    monkeypatch.delenv("OPSCOPILOT_ALERTS__SECRET", raising=False)
    result = CliRunner().invoke(app, ["alerts", "serve", "--port", "0"])
    assert result.exit_code == 2 and "OPSCOPILOT_ALERTS__SECRET" in result.output
    assert "Traceback" not in result.output
