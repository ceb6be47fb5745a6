"""`opscopilot status`: each part asked once, reported in one line, failures named, no secret
shown, exit code 1 only when something configured failed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.main import app
from evals.fault_servers import FAULTS, FaultServer
from tests.servers import backfilled_prometheus, needs
from tools.sandbox.simulator import Sandbox

runner = CliRunner()
SECRET = "xoxb-123456789012-abcdefghijABCDEFGHIJ"


def status(env: dict[str, str], *args: str) -> tuple[int, dict]:
    done = runner.invoke(app, ["status", "--json", *args], env=env)
    assert done.exception is None or isinstance(done.exception, SystemExit), done.output
    assert "Traceback" not in done.output
    return done.exit_code, json.loads(done.stdout)


def parts(report: dict) -> dict[str, dict]:
    return {p["part"]: p for p in report["parts"]}


def test_the_sandbox_serves_every_seam() -> None:
    code, report = status({}, "--scenario", "bad-deploy-checkout")
    assert code == 0 and report["ok"] is True
    seen = parts(report)
    for seam in ("topology", "metrics", "logs", "traces", "alerts", "changes"):
        assert seen[seam]["state"] == "ok" and seen[seam]["source"] == "sandbox", seen[seam]
    assert seen["alerts"]["detail"].endswith("firing")
    assert {"knowledge base", "state database", "anomaly detector", "slack", "llm"} <= set(seen)


def test_an_empty_knowledge_base_says_to_seed_it(tmp_path: Path) -> None:
    code, report = status({"OPSCOPILOT_DATA_DIR": str(tmp_path)}, "-s", "quiet")
    kb = parts(report)["knowledge base"]
    assert code == 0 and kb["state"] == "missing" and "kb seed" in kb["detail"]


def test_slack_tokens_are_only_said_to_be_set() -> None:
    done = runner.invoke(app, ["status", "-s", "quiet"], env={
        "OPSCOPILOT_SLACK__BOT_TOKEN": SECRET, "OPSCOPILOT_SLACK__MODE": "http"})
    assert SECRET not in done.output and SECRET[:12] not in done.output
    assert "OPSCOPILOT_SLACK__SIGNING_SECRET" in done.output  # http mode without its secret
    assert done.exit_code == 1


@pytest.mark.parametrize("fault", FAULTS)
def test_a_failing_prometheus_is_named_and_the_rest_still_reported(fault: str) -> None:
    with FaultServer(fault) as server:
        code, report = status({"OPSCOPILOT_PROMETHEUS__URL": server.url,
                               "OPSCOPILOT_PROMETHEUS__TIMEOUT_S": "1",
                               "OPSCOPILOT_PROMETHEUS__RETRIES": "0"})
    seen = parts(report)
    assert code == 1 and report["ok"] is False
    assert seen["metrics"]["state"] == "failed"
    assert seen["metrics"]["source"] == f"prometheus at {server.url}"
    assert seen["metrics"]["ms"] < 3000  # within the timeout, asked once
    assert seen["logs"]["state"] == "missing" and "OPSCOPILOT_LOKI__URL" in seen["logs"]["detail"]
    assert seen["knowledge base"]["state"] in ("ok", "missing")  # still checked


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory) -> Iterator[tuple[str, Sandbox]]:
    with backfilled_prometheus(tmp_path_factory.mktemp("prom-status"), "bad-deploy-checkout",
                               hours_before=1, hours_after=0) as served:
        yield served


@needs("prometheus", "promtool", package="prometheus")
def test_a_real_prometheus_is_ok_with_its_services(prometheus) -> None:
    url, sb = prometheus
    code, report = status({"OPSCOPILOT_PROMETHEUS__URL": url})
    seen = parts(report)
    assert seen["metrics"]["state"] == "ok", seen["metrics"]
    assert seen["metrics"]["detail"].startswith(f"{len(sb.topology.names())} services")
    assert seen["alerts"]["state"] == "ok"  # Prometheus' own /api/v1/alerts
    assert code == 0
