"""Build a LangChain chat model from `LLMSettings`: switching provider is configuration only.

    provider=openai     any OpenAI-compatible Chat Completions endpoint: OpenAI itself, or vLLM,
                        Ollama's /v1, llama.cpp server, LM Studio, hosted APIs by `base_url`
    provider=anthropic  the Anthropic Messages API (`base_url` for a proxy or gateway)
    provider=ollama     Ollama's native /api/chat (`base_url` defaults to localhost:11434)

`transport` is the test seam: a transport (e.g. `httpx.MockTransport`) that every request of the
provider client goes through; `httpx` for openai and ollama, `httpx2` for anthropic (its SDK's
HTTP stack). Retries are off: a failed call falls back to the
deterministic answer instead of making the person wait.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

import httpx

from infra.settings import LLMSettings, SettingsError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

PROVIDERS = ("openai", "anthropic", "ollama")


def check_llm_settings(llm: LLMSettings) -> None:
    """Raise `SettingsError` naming the variable when LLM mode cannot work as configured."""
    if llm.provider == "none":
        raise SettingsError("LLM mode needs a provider: set OPSCOPILOT_LLM__PROVIDER to openai, "
                            "anthropic or ollama (and OPSCOPILOT_LLM__MODEL)")
    if not llm.model.strip():
        raise SettingsError(f"OPSCOPILOT_LLM__MODEL: name the {llm.provider} model to use "
                            "(e.g. gpt-4o-mini, claude-sonnet-4-5, qwen2.5:7b)")
    if llm.provider == "anthropic" and llm.api_key is None and llm.base_url is None:
        raise SettingsError("OPSCOPILOT_LLM__API_KEY: the Anthropic API needs a key")
    if llm.provider == "openai" and llm.api_key is None and llm.base_url is None:
        raise SettingsError("OPSCOPILOT_LLM__API_KEY: api.openai.com needs a key (or set "
                            "OPSCOPILOT_LLM__BASE_URL to a local OpenAI-compatible server)")


def build_chat_model(llm: LLMSettings, transport: Any = None) -> BaseChatModel:
    check_llm_settings(llm)
    key = llm.api_key.get_secret_value() if llm.api_key is not None else None
    base_url = str(llm.base_url).rstrip("/") if llm.base_url is not None else None
    if llm.provider == "openai":
        from langchain_openai import ChatOpenAI

        openai_kwargs: dict[str, Any] = {}
        if transport is not None:
            openai_kwargs["http_client"] = httpx.Client(transport=transport,
                                                        timeout=llm.timeout_s)
        return ChatOpenAI(
            model=llm.model, base_url=base_url,
            api_key=key or "not-needed",  # local servers take any key; the client wants one
            temperature=llm.temperature, max_completion_tokens=llm.max_tokens,
            timeout=llm.timeout_s, max_retries=0, use_responses_api=False, **openai_kwargs)
    if llm.provider == "anthropic":
        return _anthropic(llm, key, base_url, transport)
    if llm.provider == "ollama":
        from langchain_ollama import ChatOllama

        return ChatOllama(
            model=llm.model, base_url=base_url, temperature=llm.temperature,
            num_predict=llm.max_tokens, client_kwargs={"timeout": llm.timeout_s},
            sync_client_kwargs={"transport": transport} if transport is not None else {})
    raise SettingsError(f"OPSCOPILOT_LLM__PROVIDER: unknown provider {llm.provider!r}; "
                        f"choose one of {', '.join(PROVIDERS)}")


def _anthropic(llm: LLMSettings, key: str | None, base_url: str | None,
               transport: Any) -> BaseChatModel:
    import anthropic
    import httpx2
    from langchain_anthropic import ChatAnthropic

    class TransportChatAnthropic(ChatAnthropic):
        """ChatAnthropic has no `http_client` field: this seam routes its sync client through a
        given transport (tests replay the Messages API through `httpx.MockTransport`)."""

        @cached_property
        def _client(self) -> anthropic.Client:
            return anthropic.Client(**self._client_params,
                                    http_client=httpx2.Client(transport=transport,
                                                              timeout=llm.timeout_s))

    cls = ChatAnthropic if transport is None else TransportChatAnthropic
    return cls(model=llm.model, api_key=key or "not-needed", base_url=base_url,
               temperature=llm.temperature, max_tokens=llm.max_tokens,
               timeout=llm.timeout_s, max_retries=0)
