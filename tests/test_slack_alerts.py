"""The Alertmanager receiver: a real Alertmanager routing to it, the Slack Web API stand-in
receiving one message per group with the investigation in its thread, edited in place on
resolve and re-fire; forged webhooks refused; a storm held to a handful of posts; a group
handled once by two replicas."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from bot.answer import Answer
from bot.slack.alerts import AlertReceiver, AlertServer
from infra.settings import AlertsSettings
from tests.servers import free_port, needs, wait_until_ready
from tests.slack_support import block_text, fresh_settings
from tools.backends.webhook import sign

SECRET = "alert-secret-0123456789"
CHANNEL = "C0ALERTS"


def receiver(harness, **limits) -> AlertServer:
    settings = AlertsSettings(channel=CHANNEL, secret=SECRET, **limits)
    server = AlertServer(AlertReceiver(harness.bot, harness.client, settings,
                                       ["checkout", "cart", "payment", "redis"]))
    server.start_background()
    return server


def webhook(key="g1", status="firing", n=1, name="HighErrorRate", service="checkout"):
    alerts = [{"status": status,
               "labels": {"alertname": name, "service": service, "pod": f"p{i}",
                          "severity": "critical"},
               "annotations": {"summary": f"{service} error rate above 5 %"},
               "startsAt": "2026-11-20T18:10:00Z", "endsAt": "0001-01-01T00:00:00Z",
               "generatorURL": "http://prom:9090/graph", "fingerprint": f"f{i}"}
              for i in range(n)]
    return json.dumps({"version": "4", "groupKey": key, "status": status, "receiver": "ops",
                       "groupLabels": {"alertname": name},
                       "commonLabels": {"alertname": name, "service": service},
                       "alerts": alerts}).encode()


def bearer(body: bytes, token: str = SECRET) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def top_level_posts(fake):
    return [c for c in fake.calls_to("chat.postMessage")
            if c.body.get("channel") == CHANNEL and not c.body.get("thread_ts")]


class QuickCopilot:
    """A copilot that answers at once: the storm test measures posts, not investigations."""

    def answer(self, question, conversation=None):
        return Answer(question=question.text, intent="investigate", summary="looked")


def test_forged_oversized_and_bad_webhooks_are_refused(harness, fake_slack):
    server = receiver(harness, max_body_bytes=4096)
    try:
        body = webhook()
        for headers in ({}, bearer(body, "wrong-token"),
                        {"X-Opscopilot-Signature": sign("wrong-secret", body)},
                        {"X-Opscopilot-Signature": sign(SECRET, body + b" ")}):
            reply = httpx.post(server.url, content=body, headers=headers, timeout=10)
            assert reply.status_code == 401, headers
        big = webhook(n=40)
        assert len(big) > 4096
        reply = httpx.post(server.url, content=big, headers=bearer(big), timeout=10)
        assert reply.status_code == 413
        bad = b'{"version": "3"}'
        reply = httpx.post(server.url, content=bad, headers=bearer(bad), timeout=10)
        assert reply.status_code == 400 and "version" in reply.json()["error"]
        assert top_level_posts(fake_slack) == []
        signed = {"X-Opscopilot-Signature": sign(SECRET, body)}
        reply = httpx.post(server.url, content=body, headers=signed, timeout=10)
        assert reply.status_code == 200 and reply.json()["status"] == "posted"
    finally:
        server.shutdown()
        server.server_close()


def test_a_storm_of_a_thousand_alerts_becomes_a_handful_of_posts(make_harness, fake_slack):
    harness = make_harness(copilot=QuickCopilot())
    server = receiver(harness, posts_per_minute=5, group_interval_s=60)
    try:
        with httpx.Client(timeout=10) as http:
            for i in range(200):  # 200 groups of 5 alerts, as fast as they come
                body = webhook(key=f"storm-{i}", n=5, name=f"Alert{i % 7}")
                assert http.post(server.url, content=body, headers=bearer(body)).status_code == 200
            for _ in range(50):  # one group renotified again and again
                body = webhook(key="storm-0", n=5, name="Alert0")
                assert http.post(server.url, content=body, headers=bearer(body)).json()[
                    "status"] == "unchanged"
        harness.bot.answers.join(30)
        posts = top_level_posts(fake_slack)
        assert len(posts) == 6  # five groups and one storm message
        storm = fake_slack.wait_for(lambda: [
            c for c in fake_slack.calls_to("chat.update")
            if "195 more groups (975 alerts)" in block_text(c.body.get("blocks", []))], timeout=10)
        assert storm[-1].body["ts"] == posts[-1].reply["ts"]
        edits = [c for c in fake_slack.calls_to("chat.update")
                 if c.body.get("ts") in {p.reply["ts"] for p in posts[:5]}]
        assert len(edits) == 0
        assert len(fake_slack.calls_to("chat.update")) < 40  # the storm message, now and then
    finally:
        server.shutdown()
        server.server_close()


def test_two_replicas_post_a_group_once(make_harness, fake_slack):
    first = make_harness(copilot=QuickCopilot())
    second = make_harness(copilot=QuickCopilot(), settings=first.settings)
    servers = [receiver(first), receiver(second)]
    try:
        body = webhook(key="both")
        statuses = [httpx.post(s.url, content=body, headers=bearer(body), timeout=10).json()[
            "status"] for s in servers]
        assert statuses == ["posted", "unchanged"]
        assert len(top_level_posts(fake_slack)) == 1
    finally:
        for s in servers:
            s.shutdown()
            s.server_close()


def _am_alert(starts: datetime, ends: datetime | None = None) -> list[dict]:
    alert = {"labels": {"alertname": "HighErrorRate", "service": "checkout",
                        "severity": "critical"},
             "annotations": {"summary": "checkout: error rate above 5 %"},
             "startsAt": starts.isoformat(), "generatorURL": "http://prom:9090/graph"}
    if ends is not None:
        alert["endsAt"] = ends.isoformat()
    return [alert]


@needs("prometheus-alertmanager", package="prometheus-alertmanager")
def test_a_real_alertmanager_gets_one_threaded_investigation(harness, fake_slack, tmp_path):
    server = receiver(harness, group_interval_s=0)
    config = tmp_path / "am.yml"
    config.write_text(f"""
route:
  receiver: opscopilot
  group_by: [alertname, service]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: opscopilot
    webhook_configs:
      - url: {server.url}
        send_resolved: true
        http_config:
          authorization:
            credentials: {SECRET}
""")
    port, cluster = free_port(), free_port()
    proc = subprocess.Popen(
        ["prometheus-alertmanager", f"--config.file={config}",
         f"--storage.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
         f"--cluster.listen-address=127.0.0.1:{cluster}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    am = f"http://127.0.0.1:{port}/api/v2/alerts"
    starts = datetime(2026, 11, 20, 18, 10, tzinfo=UTC)  # inside the sandbox scenario's data
    try:
        assert wait_until_ready(f"http://127.0.0.1:{port}/-/ready", proc)
        httpx.post(am, json=_am_alert(starts), timeout=5).raise_for_status()
        parent = fake_slack.wait_for(lambda: top_level_posts(fake_slack), timeout=30)[0]
        ts = parent.reply["ts"]
        assert "HighErrorRate on checkout" in block_text(parent.body["blocks"])

        def answered():
            return [c for c in fake_slack.calls_to("chat.update")
                    if c.body.get("ts") != ts and "Suspected root causes" in
                    block_text(c.body.get("blocks", []))]

        answer = fake_slack.wait_for(answered, timeout=60)[0]
        text = block_text(answer.body["blocks"])
        assert "1. *checkout*" in text and "Alert: HighErrorRate on checkout" in text
        placeholder = next(c for c in fake_slack.calls_to("chat.postMessage")
                           if c.body.get("thread_ts") == ts)
        assert placeholder.reply["ts"] == answer.body["ts"]

        now = datetime.now(UTC)
        httpx.post(am, json=_am_alert(starts, now - timedelta(seconds=1)),
                   timeout=5).raise_for_status()
        resolved = fake_slack.wait_for(lambda: [
            c for c in fake_slack.calls_to("chat.update") if c.body.get("ts") == ts
            and ":white_check_mark:" in block_text(c.body["blocks"])], timeout=30)
        assert "resolved" in block_text(resolved[0].body["blocks"])

        httpx.post(am, json=_am_alert(starts + timedelta(minutes=1)),
                   timeout=5).raise_for_status()
        fake_slack.wait_for(lambda: [
            c for c in fake_slack.calls_to("chat.update") if c.body.get("ts") == ts
            and c.at > resolved[0].at and ":rotating_light:" in block_text(c.body["blocks"])],
            timeout=30)
        fake_slack.wait_for(lambda: [c for c in fake_slack.calls_to("chat.postMessage")
                                     if c.body.get("thread_ts") == ts
                                     and "Firing again" in c.body.get("text", "")], timeout=10)
        assert len(top_level_posts(fake_slack)) == 1  # one message for the group, throughout
        harness.bot.answers.join(60)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        server.shutdown()
        server.server_close()


def test_the_receiver_needs_a_channel_and_a_secret(harness):
    from infra.settings import SettingsError

    with pytest.raises(SettingsError, match="OPSCOPILOT_ALERTS__SECRET"):
        AlertReceiver(harness.bot, harness.client, AlertsSettings(channel=CHANNEL), [])
    with pytest.raises(SettingsError, match="OPSCOPILOT_ALERTS__CHANNEL"):
        AlertReceiver(harness.bot, harness.client, AlertsSettings(secret=SECRET), [])
    assert fresh_settings().alerts.posts_per_minute == 5


def test_a_group_with_long_generator_urls_fits_slacks_section_limit():
    from bot.alerting import parse_payload
    from bot.slack.alerts import group_blocks

    raw = json.loads(webhook(n=12))
    for alert in raw["alerts"]:
        alert["generatorURL"] = "http://prom:9090/graph?g0.expr=" + "x" * 900
    blocks = group_blocks(parse_payload(json.dumps(raw)))
    texts = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert len(texts) > 2 and all(len(t) <= 3000 for t in texts)
    assert "… and 2 more" in texts[-1]


def test_a_group_about_an_open_incidents_service_goes_to_its_channel(make_harness, fake_slack):
    harness = make_harness(copilot=QuickCopilot())
    incident = harness.bot.incidents.declare("checkout 500s", services=["checkout"])
    harness.bot.incidents.attach_channel(incident.id, "C0INC42", "inc-checkout")
    server = receiver(harness)
    try:
        for key, service in (("about-checkout", "checkout"), ("about-redis", "redis")):
            body = webhook(key=key, service=service)
            httpx.post(server.url, content=body, headers=bearer(body), timeout=10)
        posted = [c.body["channel"] for c in fake_slack.calls_to("chat.postMessage")
                  if not c.body.get("thread_ts")]
        assert posted == ["C0INC42", CHANNEL]
    finally:
        server.shutdown()
        server.server_close()


def test_only_the_configured_severities_post(make_harness, fake_slack):
    harness = make_harness(copilot=QuickCopilot())
    server = receiver(harness, severities=["critical"])
    try:
        raw = json.loads(webhook(key="warn"))
        raw["commonLabels"]["severity"] = "warning"
        body = json.dumps(raw).encode()
        reply = httpx.post(server.url, content=body, headers=bearer(body), timeout=10)
        assert reply.json()["status"] == "severity warning does not post"
        body = webhook(key="crit")
        assert httpx.post(server.url, content=body, headers=bearer(body),
                          timeout=10).json()["status"] == "posted"
        assert len(top_level_posts(fake_slack)) == 1
    finally:
        server.shutdown()
        server.server_close()
