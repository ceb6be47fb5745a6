"""End to end with real parts: a real Prometheus evaluating a real alerting rule over the
bad-deploy-checkout sandbox fault (backfilled with promtool, shifted so the fault is minutes old
now), a real Alertmanager routing to opscopilot's receiver, the copilot reading the same
Prometheus, and the Slack stand-in receiving one threaded investigation whose top cause is the
injected service."""

from __future__ import annotations

import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

from bot.slack.alerts import AlertReceiver, AlertServer
from infra.settings import AlertsSettings
from tests.servers import free_port, needs, wait_until_ready
from tests.slack_support import block_text, fresh_settings
from tools.sandbox.export import export_openmetrics
from tools.sandbox.scenario import scenario_dir

pytestmark = needs("prometheus", "promtool", "prometheus-alertmanager",
                   package="prometheus prometheus-alertmanager")

SCENARIO = "bad-deploy-checkout"
SECRET = "e2e-alert-secret-0123456"
CHANNEL = "C0ALERTS"
RULES = """groups:
  - name: shop
    interval: 1s
    rules:
      - alert: CheckoutErrorRate
        expr: opscopilot_sandbox_error_rate{service="checkout"} > 5
        labels: {severity: critical}
        annotations: {summary: "checkout error rate above 5 %"}
      - alert: CartErrorRate
        expr: opscopilot_sandbox_error_rate{service="cart"} > 5
        labels: {severity: critical}
"""


def scenario_now(folder: Path) -> Path:
    """bad-deploy-checkout moved in time so that its now (ten minutes into the fault) is the
    clock's now: the sandbox's logs and changes and the backfilled metrics then agree with the
    times Prometheus and Alertmanager stamp on the alert."""
    import yaml

    shipped = yaml.safe_load((scenario_dir() / f"{SCENARIO}.yaml").read_text())
    now = int(time.time()) // 60 * 60
    start = datetime.fromtimestamp(now - (18 * 3600 + 15 * 60), UTC)
    path = folder / "moved.yaml"
    path.write_text(yaml.safe_dump(shipped | {"start": start.isoformat(),
                                              "now": "18h15m"}))
    return path


def test_prometheus_alertmanager_receiver_slack(tmp_path, fake_slack):
    from bot.app import build_runtime
    from bot.router import Router
    from bot.slack.app import build_bot, make_client
    from knowledge.corpus import demo_documents
    from knowledge.hashing import HashingEmbedder
    from knowledge.ingest import ingest_documents
    from tools.sandbox.simulator import load_sandbox

    moved = scenario_now(tmp_path)
    sb = load_sandbox(str(moved))
    with (tmp_path / "shop.om").open("w") as fh:
        export_openmetrics(sb, fh, start=sb.now - 2 * 3600, end=sb.now + 600)
    subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics",
                    str(tmp_path / "shop.om"), str(tmp_path / "prom")],
                   check=True, capture_output=True, timeout=300)

    settings = fresh_settings(prometheus={"step_s": sb.step},
                              sandbox={"scenario": str(moved), "fallback": "always"})
    am_port, cluster, prom_port, receiver_port = (free_port() for _ in range(4))
    prom_url = f"http://127.0.0.1:{prom_port}"
    settings.prometheus.url = prom_url  # type: ignore[assignment]
    templates = tmp_path / "promql.yaml"
    from tools.catalog import METRICS

    templates.write_text("templates:\n" + "".join(
        f"  {m}: 'opscopilot_sandbox_{m}{{$label=\"$service\"}}'\n" for m in METRICS))
    settings.prometheus.templates_file = templates
    (tmp_path / "rules.yml").write_text(RULES)
    (tmp_path / "prometheus.yml").write_text(
        "global: {evaluation_interval: 1s}\n"
        f"rule_files: [{tmp_path / 'rules.yml'}]\n"
        "alerting:\n  alertmanagers:\n"
        f"    - static_configs: [{{targets: ['127.0.0.1:{am_port}']}}]\n")
    (tmp_path / "am.yml").write_text(f"""route:
  receiver: opscopilot
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
receivers:
  - name: opscopilot
    webhook_configs:
      - url: http://127.0.0.1:{receiver_port}/alertmanager
        http_config: {{authorization: {{credentials: {SECRET}}}}}
""")
    server = None
    procs = [subprocess.Popen(
        ["prometheus-alertmanager", f"--config.file={tmp_path / 'am.yml'}",
         f"--storage.path={tmp_path / 'am'}", f"--web.listen-address=127.0.0.1:{am_port}",
         f"--cluster.listen-address=127.0.0.1:{cluster}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    procs.append(subprocess.Popen(
        ["prometheus", f"--config.file={tmp_path / 'prometheus.yml'}",
         f"--storage.tsdb.path={tmp_path / 'prom'}", f"--web.listen-address=127.0.0.1:{prom_port}",
         "--storage.tsdb.retention.time=100y",
         "--rules.alert.resend-delay=1s"],  # the first send can precede discovering the AM
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    try:
        assert wait_until_ready(f"http://127.0.0.1:{am_port}/-/ready", procs[0])
        assert wait_until_ready(f"{prom_url}/-/ready", procs[1])
        # the copilot is built once Prometheus answers: it discovers the services there
        runtime = build_runtime(settings, router=Router(HashingEmbedder(), [], cache_dir=None))
        assert runtime.kb is not None
        ingest_documents(runtime.kb.store, demo_documents())
        bot = build_bot(settings, runtime)
        client = make_client("xoxb-test-token", fake_slack.base_url)
        receiver = AlertReceiver(bot, client, AlertsSettings(channel=CHANNEL, secret=SECRET),
                                 runtime.copilot.topology.services())
        server = AlertServer(receiver, port=receiver_port)
        server.start_background()

        def posts():
            return [c for c in fake_slack.calls_to("chat.postMessage")
                    if c.body.get("channel") == CHANNEL and not c.body.get("thread_ts")]

        parent = fake_slack.wait_for(posts, timeout=60)[0]
        assert "CheckoutErrorRate" in block_text(parent.body["blocks"])
        ts = parent.reply["ts"]
        placeholder = fake_slack.wait_for(lambda: [
            c for c in fake_slack.calls_to("chat.postMessage")
            if c.body.get("thread_ts") == ts], timeout=30)[0]
        answer = fake_slack.wait_for(lambda: [
            c for c in fake_slack.calls_to("chat.update")
            if c.body.get("ts") == placeholder.reply["ts"]], timeout=60)[0]
        text = block_text(answer.body["blocks"])
        assert "Suspected root causes" in text and "1. *checkout*" in text, text
        assert "prometheus" in text  # the evidence was read from the real Prometheus
        time.sleep(2)  # the cart rule never fires: the fault is on checkout only
        assert len(posts()) == 1
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)
        if server is not None:
            server.shutdown()
            server.server_close()
            bot.answers.close()
