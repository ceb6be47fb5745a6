"""Benchmark: from an Alertmanager notification to the posted investigation in Slack.

The receiver (bot/slack/alerts.py) serves on loopback in front of a real copilot over the
bad-deploy-checkout sandbox; the Web API is the loopback stand-in (bot.slack.testing.FakeSlackAPI).
Each round is a new alert group on one of the shop's services, at a start time inside the
scenario. Without `--alertmanager` the bench POSTs the webhook itself (what Alertmanager sends)
and times from that POST to the `chat.update` that puts the investigation in the thread. With
`--alertmanager` a real Alertmanager (Debian's prometheus-alertmanager, group_wait 0s) routes
alerts POSTed to its API, and the time runs from that POST: Alertmanager's dispatch included.

    .venv/bin/python -m evals.bench_alerts [--rounds 20] [--alertmanager] [--service checkout]

Target (issue 22): p50 < 3 s on this machine.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from bot.slack.testing import FakeSlackAPI

SECRET = "bench-alert-secret-0123"
CHANNEL = "C0ALERTS"
SERVICES = ("checkout", "payment", "cart", "frontend", "currency", "shipping")
START = datetime(2026, 11, 20, 18, 8, tzinfo=UTC)  # in bad-deploy-checkout's data


def build(fake: FakeSlackAPI) -> Any:  # noqa: ANN401 - AlertServer
    from bot.app import build_runtime
    from bot.router import Router
    from bot.slack.alerts import AlertReceiver, AlertServer
    from bot.slack.app import build_bot, make_client
    from infra.settings import AlertsSettings, load_settings
    from knowledge.corpus import demo_documents
    from knowledge.hashing import HashingEmbedder

    data = Path(tempfile.mkdtemp(prefix="opscopilot-bench-alerts-"))
    settings = load_settings(data_dir=data, kb={"model": "hashing-384"})
    runtime = build_runtime(settings, "bad-deploy-checkout",
                            router=Router(HashingEmbedder(), [], cache_dir=None))
    assert runtime.kb is not None
    runtime.kb.ingest(demo_documents())
    runtime.warm()
    bot = build_bot(settings, runtime)
    receiver = AlertReceiver(bot, make_client("xoxb-bench", fake.base_url),
                             AlertsSettings(channel=CHANNEL, secret=SECRET, posts_per_minute=1000),
                             runtime.copilot.topology.services())
    server = AlertServer(receiver)
    server.start_background()
    return server


def alert(i: int, service: str | None = None) -> dict[str, Any]:
    service = service or SERVICES[i % len(SERVICES)]
    return {"labels": {"alertname": f"BenchAlert{i}", "service": service, "severity": "critical"},
            "annotations": {"summary": f"{service}: bench alert {i}"},
            "startsAt": (START + timedelta(minutes=i % 12)).isoformat(),
            "generatorURL": "http://prom:9090/graph"}


def webhook(i: int, service: str | None = None) -> bytes:
    a = alert(i, service) | {"status": "firing", "endsAt": "0001-01-01T00:00:00Z",
                             "fingerprint": str(i)}
    return json.dumps({"version": "4", "groupKey": f"bench-{i}", "status": "firing",
                       "receiver": "opscopilot", "commonLabels": a["labels"],
                       "alerts": [a]}).encode()


def answered(fake: FakeSlackAPI, name: str) -> float | None:
    for call in fake.calls_to("chat.update"):
        text = json.dumps(call.body.get("blocks", []))
        if f"BenchAlert{name} on" in text and "Data:" in text:
            return call.at
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_alertmanager(url: str, folder: Path) -> tuple[subprocess.Popen, str]:
    config = folder / "am.yml"
    config.write_text(f"""route:
  receiver: opscopilot
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
receivers:
  - name: opscopilot
    webhook_configs:
      - url: {url}
        http_config: {{authorization: {{credentials: {SECRET}}}}}
""")
    port, cluster = _free_port(), _free_port()
    proc = subprocess.Popen(
        ["prometheus-alertmanager", f"--config.file={config}", f"--storage.path={folder}/d",
         f"--web.listen-address=127.0.0.1:{port}", f"--cluster.listen-address=127.0.0.1:{cluster}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/-/ready", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("alertmanager did not become ready")
        time.sleep(0.2)
    return proc, f"http://127.0.0.1:{port}/api/v2/alerts"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--alertmanager", action="store_true",
                        help="route through a real Alertmanager")
    parser.add_argument("--service", help="every alert on this service (checkout: the injected "
                                          "fault, the full ranking); default: the shop in turn")
    args = parser.parse_args()
    with FakeSlackAPI() as fake:
        server = build(fake)
        proc = None
        if args.alertmanager:
            proc, am = start_alertmanager(server.url, Path(tempfile.mkdtemp()))
        latencies = []
        try:
            with httpx.Client(timeout=30) as http:
                for i in range(args.rounds):
                    sent = time.monotonic()
                    if proc is not None:
                        http.post(am, json=[alert(i, args.service)]).raise_for_status()
                    else:
                        http.post(server.url, content=webhook(i, args.service),
                                  headers={"Authorization": f"Bearer {SECRET}"}
                                  ).raise_for_status()
                    done = fake.wait_for(partial(answered, fake, str(i)), timeout=60)
                    latencies.append(done - sent)
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=30)
            server.shutdown()
            server.server_close()
            server.receiver.bot.answers.close()
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    path = "POST to Alertmanager" if args.alertmanager else "webhook POST"
    print(f"{len(latencies)} alert groups, {path} -> investigation posted in the thread: "
          f"p50 {statistics.median(latencies):.2f} s, p95 {p95:.2f} s, "
          f"max {ordered[-1]:.2f} s (target p50 < 3 s)")


if __name__ == "__main__":
    main()
