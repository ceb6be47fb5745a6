"""`opscopilot mcp` driven by the `mcp` SDK's own client over both transports: a stdio
subprocess, and streamable HTTP on a loopback port (a real uvicorn server in a thread).

One session per transport runs the same script of calls (tools, investigate, resources, prompts,
a runbook request); the tests check what each returned. Secrets are planted in the settings,
an incident, a question and a prompt argument, and must appear in no output.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import anyio
import httpx
import pytest
import yaml
from mcp import Client
from mcp.shared.exceptions import MCPError
from pydantic import BaseModel
from typer.testing import CliRunner

from bot.cli import app
from bot.mcp.server import build_server, http_app
from bot.mcp.service import InvestigateParams, McpService, RequestRunbookParams
from bot.mcp.testing import http_client, serving, stdio_client
from infra.audit import AuditLog
from infra.settings import load_settings
from tools.base import ToolRegistry, ToolResult, ToolStatus
from tools.runbooks.build import build_service

SCENARIO = "bad-deploy-checkout"
QUESTION = "what is wrong with checkout?"
TOKEN = "mcp-test-token-7f3a9c2e5b1d4680"
SLACK_TOKEN = "xoxb-1234567890-abcdefghijklmnop"
INCIDENT_SECRET = "hunter2-incident-secret"
QUESTION_SECRET = "tok-question-secret-31337"
PROMPT_SECRET = "prompt-arg-secret-4242"
SECRETS = (TOKEN, SLACK_TOKEN, INCIDENT_SECRET, QUESTION_SECRET, PROMPT_SECRET)
ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow

POLICY = {"rules": [{"runbooks": ["*"], "risks": ["read-only", "low", "high"],
                     "requesters": ["mcp"], "approvers": ["bob", "carol"]}]}


@pytest.fixture(scope="module")
def policy_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("mcp") / "policy.yaml"
    path.write_text(yaml.safe_dump(POLICY), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def env(policy_file: Path) -> dict[str, str]:
    """What the server sees: the policy, the token, a Slack token it must never print, and a
    data folder of its own (incidents, requests, the audit log, no other test's models)."""
    return {"OPSCOPILOT_RUNBOOKS__POLICY_FILE": str(policy_file), "OPSCOPILOT_MCP__TOKEN": TOKEN,
            "OPSCOPILOT_SLACK__BOT_TOKEN": SLACK_TOKEN,
            "OPSCOPILOT_DATA_DIR": str(policy_file.parent / "data")}


@pytest.fixture(scope="module")
def mcp_settings(env: dict[str, str]):
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield load_settings()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="module")
def incident(mcp_settings) -> str:
    from bot.incidents import IncidentStore

    inc = IncidentStore(mcp_settings).declare(
        f"checkout 500s, db password={INCIDENT_SECRET}", "sev2", declared_by="alice",
        services=["checkout"])
    return inc.id


@pytest.fixture(scope="module")
def sandbox_now() -> int:
    from tools.sandbox.simulator import load_sandbox

    return int(load_sandbox(SCENARIO).now)


async def _text(coro: Any) -> dict[str, Any]:
    result = await coro
    return {"is_error": result.is_error, "text": result.content[0].text}


async def exercise(client: Client, now: int, incident: str) -> dict[str, Any]:
    """The same calls over any transport; every text returned is kept for the secret check."""
    out: dict[str, Any] = {"tools": (await client.list_tools()).tools}
    out["alerts"] = await _text(client.call_tool("firing_alerts", {"at": now}))
    out["logs"] = await _text(client.call_tool("search_logs", {
        "services": ["checkout"], "start": now - 1800, "end": now, "level": "ERROR"}))
    fill = {"start": now - 1800, "end": now, "at": now, "services": ["checkout"],
            "query": "checkout errors after a deploy"}
    out["every_tool"] = {}
    for tool in out["tools"]:
        if tool.name not in ("investigate", "request_runbook"):
            args = {k: fill[k] for k in tool.input_schema.get("required", [])}
            out["every_tool"][tool.name] = await _text(client.call_tool(tool.name, args))
    out["investigate"] = await _text(client.call_tool("investigate", {"question": QUESTION}))
    out["secret_question"] = await _text(client.call_tool("investigate", {
        "question": f"what is wrong with checkout? token={QUESTION_SECRET}"}))
    out["other_scenario"] = await _text(client.call_tool("investigate", {
        "question": "what is wrong with cart?", "scenario": "memory-leak-cart", "at": "now"}))
    out["cart"] = await _text(client.call_tool("investigate", {
        "question": "what is wrong with cart?", "scenario": "memory-leak-cart"}))
    out["bad_at"] = await _text(client.call_tool("investigate",
                                                 {"question": QUESTION, "at": "teatime"}))
    out["no_question"] = await _text(client.call_tool("investigate", {}))
    out["unknown_tool"] = await _text(client.call_tool("run_runbook", {"request_id": "x"}))
    out["resources"] = [str(r.uri) for r in (await client.list_resources()).resources]
    out["templates"] = [t.uri_template for t in
                        (await client.list_resource_templates()).resource_templates]
    reads = {}
    for uri in (*out["resources"], f"opscopilot://incidents/{incident}",
                "opscopilot://runbooks/restart-deployment"):
        reads[uri] = (await client.read_resource(uri)).contents[0].text
    out["reads"] = reads
    try:
        await client.read_resource("opscopilot://runbooks/no-such-runbook")
        out["missing_runbook"] = None
    except MCPError as exc:
        out["missing_runbook"] = exc.message
    out["prompts"] = {p.name: [a.name for a in p.arguments or []]
                      for p in (await client.list_prompts()).prompts}
    out["prompt"] = (await client.get_prompt("error_logs", {"service": "checkout"})
                     ).messages[0].content.text
    secret_prompt = await client.get_prompt(
        "seen_before", {"symptom": f"errors with api_key={PROMPT_SECRET}"})
    out["secret_prompt"] = secret_prompt.messages[0].content.text
    out["request"] = await _text(client.call_tool("request_runbook", {
        "runbook": "restart-deployment", "params": {"service": "checkout"},
        "reason": "checkout panics after the deploy"}))
    out["refused_request"] = await _text(client.call_tool("request_runbook", {
        "runbook": "restart-deployment", "params": {"service": "Not A Service!"}}))
    return out


def all_text(result: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in result.items() if k != "tools"}, default=str) + json.dumps(
        [t.model_dump(mode="json") for t in result["tools"]])


def comparable(answer: dict[str, Any]) -> dict[str, Any]:
    """An answer without what differs between two runs of the same question (timings)."""
    answer = dict(answer)
    answer.pop("latency_ms")
    answer["tool_calls"] = [{k: v for k, v in c.items() if k != "duration_ms"}
                            for c in answer["tool_calls"]]
    return answer


@pytest.fixture(scope="module")
def ask_json(mcp_settings) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["ask", QUESTION, "--json", "--scenario", SCENARIO])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def stdio_run(env, incident, sandbox_now) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        async with stdio_client([], env, ROOT) as client:
            return await exercise(client, sandbox_now, incident)

    return anyio.run(run)


@pytest.fixture(scope="module")
def http_service(mcp_settings, runtime_for) -> McpService:
    from bot.app import build_runtime

    runtime = build_runtime(mcp_settings, SCENARIO, router=runtime_for(SCENARIO).copilot.router)
    return McpService(mcp_settings, runtime, SCENARIO, transport="http")


@pytest.fixture(scope="module")
def http_url(http_service, mcp_settings) -> Iterator[str]:
    with serving(http_app(http_service, mcp_settings)) as url:
        yield url


@pytest.fixture(scope="module")
def http_run(http_url, incident, sandbox_now) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        async with http_client(http_url, TOKEN) as client:
            return await exercise(client, sandbox_now, incident)

    return anyio.run(run)


@pytest.fixture(scope="module", params=["stdio", "http"])
def run(request: pytest.FixtureRequest) -> dict[str, Any]:
    return request.getfixturevalue(f"{request.param}_run")


def test_tools_are_the_read_only_tools_with_their_parameter_models(run, runtime_for):
    listed = {t.name: t for t in run["tools"]}
    registry = runtime_for(SCENARIO).copilot.registry
    expected = {t.name: t.Params.model_json_schema() for t in registry if not t.side_effects}
    assert len(expected) >= 10
    assert set(listed) == set(expected) | {"investigate", "request_runbook"}
    for name, schema in expected.items():
        assert listed[name].input_schema == schema, name
        assert listed[name].annotations.read_only_hint is True
    assert listed["investigate"].input_schema == InvestigateParams.model_json_schema()
    assert listed["request_runbook"].input_schema == RequestRunbookParams.model_json_schema()
    assert listed["request_runbook"].annotations.read_only_hint is False


def test_read_only_tools_answer_from_the_sandbox(run):
    alerts = json.loads(run["alerts"]["text"])
    assert not run["alerts"]["is_error"] and alerts["tool"] == "firing_alerts"
    assert alerts["status"] == "ok" and any(f["service"] == "checkout" for f in alerts["findings"])
    logs = json.loads(run["logs"]["text"])
    assert logs["status"] == "ok", logs["summary"]
    assert logs["evidence"] and all(e["query"] for e in logs["evidence"])


def test_every_read_only_tool_answers_from_the_sandbox(run):
    assert len(run["every_tool"]) >= 10
    for name, reply in run["every_tool"].items():
        result = json.loads(reply["text"])
        assert not reply["is_error"], (name, result)
        assert result["tool"] == name and result["status"] in ("ok", "no_data", "needs_approval")
        assert all(e["query"] for e in result["evidence"]), name
    assert json.loads(run["every_tool"]["detect_metric_anomalies"]["text"])["findings"]


def test_investigate_matches_ask_json(run, ask_json):
    assert not run["investigate"]["is_error"]
    answer = json.loads(run["investigate"]["text"])
    assert comparable(answer) == comparable(ask_json)
    assert answer["root_causes"][0]["service"] == "checkout"
    assert answer["evidence"] and all(e["query"] for e in answer["evidence"])


def test_investigate_another_scenario(run):
    """`at` is checked against that scenario's data; "now" is not a time."""
    assert run["other_scenario"]["is_error"]
    assert "now" in json.loads(run["other_scenario"]["text"])["error"]
    assert not run["cart"]["is_error"], run["cart"]["text"]
    answer = json.loads(run["cart"]["text"])
    assert "cart" in answer["services"] and answer["intent"] == "investigate"


def test_bad_calls_are_one_line_errors(run):
    for key, needle in (("bad_at", "teatime"), ("no_question", "question"),
                        ("unknown_tool", "run_runbook")):
        assert run[key]["is_error"], key
        error = json.loads(run[key]["text"])["error"]
        assert needle in error and "\n" not in error and "Traceback" not in error


def test_resources_incidents_and_runbooks(run, incident):
    assert set(run["resources"]) == {"opscopilot://incidents/open", "opscopilot://incidents/past",
                                     "opscopilot://runbooks", "opscopilot://runbook-requests"}
    assert set(run["templates"]) == {"opscopilot://incidents/{id}", "opscopilot://runbooks/{name}"}
    reads = {uri: json.loads(text) for uri, text in run["reads"].items()}
    open_ids = [i["id"] for i in reads["opscopilot://incidents/open"]]
    assert incident in open_ids
    assert incident not in [i["id"] for i in reads["opscopilot://incidents/past"]]
    one = reads[f"opscopilot://incidents/{incident}"]
    assert one["timeline"][0]["kind"] == "declared" and "[REDACTED]" in one["title"]
    names = {r["name"] for r in reads["opscopilot://runbooks"]}
    assert {"restart-deployment", "roll-back-deploy"} <= names
    assert reads["opscopilot://runbooks/restart-deployment"]["steps"]
    assert "no-such-runbook" in run["missing_runbook"]


def test_prompts(run):
    assert {"whats_wrong", "what_changed", "firing_alerts", "error_logs",
            "seen_before"} <= set(run["prompts"])
    assert run["prompts"]["error_logs"] == ["service", "scenario"]
    assert "show me the error logs of checkout" in run["prompt"]
    assert "investigate" in run["prompt"] and "approval" in run["prompt"]


def test_a_runbook_request_lands_as_pending_and_runs_nothing(run, mcp_settings):
    assert not run["request"]["is_error"], run["request"]["text"]
    request = json.loads(run["request"]["text"])
    assert request["status"] == "pending" and request["requester"] == "mcp"
    assert request["steps"] == [] and request["executed_by"] is None
    view = build_service(mcp_settings).status(request["id"])
    assert view.status == "pending" and view.steps == [] and view.approvals == []
    audit = AuditLog.from_settings(mcp_settings)
    actions = [e.action for e in audit.entries(f"request:{request['id']}")]
    assert actions == ["proposal"]  # requested, nothing approved, nothing executed
    assert run["refused_request"]["is_error"]
    assert "service" in json.loads(run["refused_request"]["text"])["error"]


def test_every_call_is_audited(run, mcp_settings):
    entries = AuditLog.from_settings(mcp_settings).entries()
    calls = [e for e in entries if e.action == "mcp_tool_call" and e.actor == "mcp"]
    subjects = {e.subject for e in calls}
    assert {"mcp:investigate", "mcp:firing_alerts", "mcp:request_runbook",
            "mcp:run_runbook"} <= subjects
    assert any(e.action == "mcp_read" for e in entries)
    assert any(e.action == "mcp_prompt" for e in entries)
    refused = [e for e in calls if e.subject == "mcp:run_runbook"]
    assert refused and all(e.details["status"] == "error" for e in refused)
    assert QUESTION_SECRET not in json.dumps([e.details for e in entries])


def test_no_secret_in_any_output(run):
    text = all_text(run)
    for secret in SECRETS:
        assert secret not in text
    assert "[REDACTED]" in run["secret_prompt"]
    assert "[REDACTED]" in json.loads(run["secret_question"]["text"])["question"]


def test_http_without_or_with_a_wrong_token_is_refused(http_url):
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "t", "version": "0"}}}
    headers = {"Accept": "application/json, text/event-stream"}
    for auth in ({}, {"Authorization": "Bearer wrong-token-0123456789"},
                 {"Authorization": f"Basic {TOKEN}"}, {"Authorization": TOKEN}):
        reply = httpx.post(http_url, json=initialize, headers=headers | auth, timeout=10)
        assert reply.status_code == 401, auth
        assert TOKEN not in reply.text
    ok = httpx.post(http_url, json=initialize, timeout=10,
                    headers=headers | {"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200

    async def wrong() -> None:
        async with http_client(http_url, "wrong-token-0123456789") as client:
            await client.list_tools()

    with pytest.raises(ExceptionGroup) as caught:  # the SDK client's task group, around:
        anyio.run(wrong)
    assert caught.group_contains(MCPError)
    assert TOKEN not in str(caught.value)


def test_http_serves_metrics_behind_the_token(http_url):
    metrics = http_url.rsplit("/", 1)[0] + "/metrics"
    assert httpx.get(metrics, timeout=10).status_code == 401
    reply = httpx.get(metrics, timeout=10, headers={"Authorization": f"Bearer {TOKEN}"})
    assert reply.status_code == 200 and "opscopilot_tool_duration_seconds" in reply.text
    assert reply.headers["content-type"].startswith("text/plain; version=")


def test_http_needs_a_token_and_listens_on_loopback(monkeypatch):
    monkeypatch.delenv("OPSCOPILOT_MCP__TOKEN", raising=False)
    assert load_settings().mcp.host == "127.0.0.1"
    result = CliRunner().invoke(app, ["mcp", "--transport", "http"])
    assert result.exit_code == 2
    assert "OPSCOPILOT_MCP__TOKEN" in result.output and "Traceback" not in result.output
    monkeypatch.setenv("OPSCOPILOT_MCP__TOKEN", "short")
    assert CliRunner().invoke(app, ["mcp", "--transport", "http"]).exit_code == 2
    assert CliRunner().invoke(app, ["mcp", "--transport", "smoke"]).exit_code == 2


class _Args(BaseModel):
    service: str = "checkout"


class _Recording:
    Params: ClassVar[type[BaseModel]] = _Args
    side_effects: ClassVar[bool] = False

    def __init__(self, name: str, side_effects: bool) -> None:
        self.name, self.side_effects, self.description = name, side_effects, name  # type: ignore[misc]
        self.calls: list[Any] = []

    def run(self, params: Any) -> ToolResult:
        self.calls.append(params)
        return ToolResult(self.name, ToolStatus.OK, f"{self.name} ran")


def test_a_tool_with_side_effects_is_never_offered_nor_run(mcp_settings):
    registry = ToolRegistry()
    safe, dangerous = _Recording("look", False), _Recording("restart_everything", True)
    registry.register(safe)
    registry.register(dangerous)
    runtime = SimpleNamespace(copilot=SimpleNamespace(registry=registry))
    server = build_server(McpService(mcp_settings, runtime))  # type: ignore[arg-type]

    async def run() -> tuple[list[str], bool, bool]:
        async with Client(server) as client:
            names = [t.name for t in (await client.list_tools()).tools]
            looked = await client.call_tool("look", {})
            refused = await client.call_tool("restart_everything", {"service": "checkout"})
            return names, looked.is_error, refused.is_error

    names, look_failed, refused = anyio.run(run)
    assert "look" in names and "restart_everything" not in names
    assert not look_failed and refused
    assert len(safe.calls) == 1 and dangerous.calls == []
