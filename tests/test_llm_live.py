"""LLM mode against a real OpenAI-compatible endpoint (vLLM, Ollama /v1, llama.cpp, LM Studio,
hosted): runs only when OPSCOPILOT_TEST_LLM_BASE_URL is set, e.g.
OPSCOPILOT_TEST_LLM_BASE_URL=http://localhost:11434/v1 OPSCOPILOT_TEST_LLM_MODEL=qwen2.5:7b."""

from __future__ import annotations

import os

import pytest

from bot.grounding import ungrounded_numbers
from tests.llm_support import ask, fast_runtime

BASE_URL = os.environ.get("OPSCOPILOT_TEST_LLM_BASE_URL")
pytestmark = pytest.mark.skipif(not BASE_URL,
                                reason="set OPSCOPILOT_TEST_LLM_BASE_URL to test a real endpoint")


def test_real_endpoint_answers_grounded():
    from bot.llm.copilot import build_llm_copilot
    from bot.settings import LLMSettings, load_settings

    llm = LLMSettings(provider="openai", base_url=BASE_URL,
                      model=os.environ.get("OPSCOPILOT_TEST_LLM_MODEL", "qwen2.5:7b"),
                      api_key=os.environ.get("OPSCOPILOT_TEST_LLM_API_KEY") or None,
                      timeout_s=120, answer_timeout_s=300)
    runtime = fast_runtime()
    copilot = build_llm_copilot(runtime, load_settings(llm=llm))
    answer = ask(copilot, runtime, "what is wrong with checkout?")
    assert answer.mode == "llm", answer.llm.get("fallback_detail")
    assert answer.tools and answer.llm["input_tokens"] > 0
    assert ungrounded_numbers(answer) == []
