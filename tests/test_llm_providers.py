"""LLM mode through each provider's real client, replaying its documented HTTP API through
httpx.MockTransport: tool calls in the replies, accounting, settings errors, redaction of the
bytes that would leave the process."""

from __future__ import annotations

import json

import pytest

from bot.grounding import ungrounded_numbers
from bot.llm.redaction import Redactor
from bot.llm.replay import Call, Reply
from infra.settings import LLMSettings, SettingsError
from tests.llm_support import (
    PlantedLogs,
    ask,
    fast_runtime,
    llm_settings,
    scripted_copilot,
    window,
)

PROVIDERS = ["openai", "anthropic", "ollama"]
PATHS = {"openai": "/v1/chat/completions", "anthropic": "/v1/messages", "ollama": "/api/chat"}


def _tool_names(provider: str, body: dict) -> set[str]:
    if provider == "anthropic":
        return {t["name"] for t in body["tools"]}
    return {t["function"]["name"] for t in body["tools"]}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_tool_calls_through_each_provider_fill_the_same_answer(provider):
    runtime = fast_runtime()
    w = window(runtime)
    script = [
        Reply.tools(Call("detect_metric_anomalies", {"services": [], **w}),
                    Call("recent_changes", {"services": ["checkout"], **w}),
                    input_tokens=1000, output_tokens=50),
        Reply.say("Checkout is not healthy: its error rate rose after a deploy.",
                  input_tokens=2000, output_tokens=40),
    ]
    copilot, provider_double, progress = scripted_copilot(
        script, provider, price_input_per_mtok=3.0, price_output_per_mtok=15.0)
    answer = ask(copilot, runtime, "what is wrong with checkout?")

    assert answer.mode == "llm"
    assert answer.tools == ["detect_metric_anomalies", "recent_changes"]
    assert answer.summary.startswith("Checkout is not healthy")
    # findings and evidence are the tools', not the model's words
    evidence_ids = {e.id for e in answer.evidence}
    assert answer.findings and all(set(f.evidence) <= evidence_ids for f in answer.findings)
    assert answer.root_causes and answer.root_causes[0].service == "checkout"
    assert ungrounded_numbers(answer) == []
    assert answer.llm["input_tokens"] == 3000 and answer.llm["output_tokens"] == 90
    assert answer.llm["cost_usd"] == pytest.approx((3000 * 3.0 + 90 * 15.0) / 1e6)
    assert [r.url.path for r in provider_double.requests] == [PATHS[provider]] * 2
    first = json.loads(provider_double.bodies[0])
    assert {"search_logs", "detect_metric_anomalies"} <= _tool_names(provider, first)
    # the tool results went back to the model in the second request, labelled as data
    assert b'trust=\\"untrusted\\"' in provider_double.bodies[1]
    assert progress.kinds()[0] == "model" and progress.kinds()[-1] == "answer"
    assert "tool_done" in progress.kinds()
    keys = set(answer.to_json())
    assert {"answer", "findings", "evidence", "tool_calls", "mode", "llm"} <= keys


def test_openai_compatible_endpoint_by_base_url():
    runtime = fast_runtime()
    copilot, provider_double, _ = scripted_copilot(
        [Reply.say("Nothing to look at.")], "openai", base_url="http://vllm.internal:8000/v1",
        api_key=None)
    ask(copilot, runtime, "hello")
    request = provider_double.requests[0]
    assert str(request.url) == "http://vllm.internal:8000/v1/chat/completions"
    assert json.loads(provider_double.bodies[0])["model"] == "scripted-model"


@pytest.mark.parametrize(("llm", "needle"), [
    ({"provider": "none"}, "OPSCOPILOT_LLM__PROVIDER"),
    ({"provider": "openai", "model": ""}, "OPSCOPILOT_LLM__MODEL"),
    ({"provider": "anthropic", "model": "claude"}, "OPSCOPILOT_LLM__API_KEY"),
    ({"provider": "openai", "model": "gpt"}, "OPSCOPILOT_LLM__API_KEY"),
])
def test_settings_that_cannot_work_name_the_variable(llm, needle):
    from bot.llm.providers import build_chat_model

    with pytest.raises(SettingsError, match=needle):
        build_chat_model(LLMSettings(**llm))


def test_bad_redaction_pattern_names_the_variable():
    with pytest.raises(SettingsError, match="OPSCOPILOT_LLM__REDACT_PATTERNS"):
        Redactor(True, ["(unclosed"])


SECRETS = {
    "aws key": "AKIAIOSFODNN7EXAMPLE",
    "aws secret": "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY",
    "bearer": "abcDEF123456ghiJKL789",
    "url password": "hunter2hunter2",
    "private key": "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7",
    "email": "jane.doe@example.com",
    "github": "ghp_" + "A1b2C3d4E5" * 4,
    "slack": "xoxb-123456789012-abcdefghijkl",
    "openai": "sk-proj-Zz9Yy8Xx7Ww6Vv5Uu4Tt3",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib2IifQ.c2lnbmF0dXJlc2ln",
    "password": "CorrectHorseBattery",
    "phone": "+1 415 555 0199",
    "custom": "cust-884213",
}
LEAKY_LINES = [
    f"boto: using aws_access_key_id={SECRETS['aws key']} "
    f"aws_secret_access_key={SECRETS['aws secret']}",
    f"GET /pay Authorization: Bearer {SECRETS['bearer']}",
    f"connecting to postgres://app:{SECRETS['url password']}@db:5432/orders",
    "-----BEGIN RSA PRIVATE KEY-----\n" + SECRETS["private key"]
    + "\n-----END RSA PRIVATE KEY-----",
    f"payment failed for customer {SECRETS['email']} ({SECRETS['phone']})",
    f"git clone https://{SECRETS['github']}@github.com/shop/checkout",
    f"slack notify token {SECRETS['slack']} and key {SECRETS['openai']}",
    f"session {SECRETS['jwt']} expired; DB_PASSWORD={SECRETS['password']}",
    f"order for {SECRETS['custom']} stuck",
]


def _planted_runtime(lines):
    from bot.app import Runtime
    from bot.copilot import Copilot
    from tools.base import ToolRegistry

    base = fast_runtime()
    registry = ToolRegistry()
    for tool in base.copilot.registry:
        registry.register(tool)
    registry.register(PlantedLogs(lines))
    copilot = Copilot(base.copilot.router, registry, base.copilot.topology, base.copilot.settings)
    return Runtime(copilot, base.sandbox)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_secrets_never_reach_the_provider(provider):
    runtime = _planted_runtime(LEAKY_LINES)
    script = [Reply.tools(Call("planted_logs", {"services": ["checkout"]})),
              Reply.say("The logs show failed payments.")]
    copilot, provider_double, _ = scripted_copilot(
        script, provider, runtime=runtime, redact_patterns=[r"cust-\d{6}"])
    answer = ask(copilot, runtime, f"why do payments fail? ask {SECRETS['email']}")
    assert answer.mode == "llm"
    sent = provider_double.sent
    assert b"planted_logs" in sent and b"[REDACTED" in sent
    leaked = [name for name, value in SECRETS.items() if value.encode() in sent]
    assert leaked == []


def test_redaction_off_sends_the_data_as_is():
    """The same corpus with OPSCOPILOT_LLM__REDACT=false: proves the check above can fail."""
    runtime = _planted_runtime(LEAKY_LINES)
    script = [Reply.tools(Call("planted_logs", {"services": ["checkout"]})), Reply.say("ok")]
    copilot, provider_double, _ = scripted_copilot(script, "openai", runtime=runtime,
                                                   redact=False)
    ask(copilot, runtime, "why do payments fail?")
    assert SECRETS["aws key"].encode() in provider_double.sent


def test_settings_from_the_environment(monkeypatch):
    from infra.settings import load_settings

    monkeypatch.setenv("OPSCOPILOT_LLM__PROVIDER", "ollama")
    monkeypatch.setenv("OPSCOPILOT_LLM__MODEL", "qwen2.5:7b")
    monkeypatch.setenv("OPSCOPILOT_LLM__MAX_STEPS", "4")
    monkeypatch.setenv("OPSCOPILOT_LLM__REDACT_PATTERNS", '["cust-\\\\d+"]')
    llm = load_settings().llm
    assert (llm.provider, llm.model, llm.max_steps, llm.redact_patterns) == (
        "ollama", "qwen2.5:7b", 4, [r"cust-\d+"])
    assert llm_settings("ollama").llm.provider == "ollama"
