"""The shipped rules for opscopilot itself (deploy/prometheus): valid, their unit tests pass
under `promtool test rules`, and every metric they read is one infra/telemetry.py exposes."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.servers import needs

RULES = Path(__file__).resolve().parents[1] / "deploy" / "prometheus"
promtool = needs("promtool", package="prometheus")


@promtool
def test_the_rules_are_valid():
    done = subprocess.run(["promtool", "check", "rules", "opscopilot-rules.yaml"], cwd=RULES,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


@promtool
def test_the_rules_unit_tests_pass():
    done = subprocess.run(["promtool", "test", "rules", "opscopilot-rules.test.yaml"],
                          cwd=RULES, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_every_metric_the_rules_read_is_exposed():
    from infra import telemetry
    from tools.backends.health import BackendHealth

    health = BackendHealth()
    health.breaker("Loki", "http://loki:3100")
    telemetry.watch_breakers(health.states)
    telemetry.watch_queue(lambda: 0)
    telemetry.record_answer("help", 0.01, [])
    telemetry.record_tool("query_metrics", "error", 0.01, "prometheus")
    telemetry.record_ack(0.01)
    telemetry.record_runbook_run("run", "succeeded")
    exposed = {line.split("{")[0].split(" ")[0]
               for line in telemetry.exposition()[0].decode().splitlines()
               if line and not line.startswith("#")}
    read = set(re.findall(r"\bopscopilot_[a-z_]+", (RULES / "opscopilot-rules.yaml").read_text()))
    assert read, "the rules read no opscopilot metric"
    assert read <= exposed, read - exposed
