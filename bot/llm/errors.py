"""Why an LLM answer could not be produced, and how provider exceptions map onto those reasons.

Every failure below makes `LLMCopilot` fall back to the deterministic answer and say so. The
`reason` is shown to people and contains no digits (the grounding check treats digits in an
answer as claims); `detail` keeps the specifics for logs and `--json`.

    LLMFailure                  the LLM answer is abandoned; the deterministic one is used
     +-- ProviderDown           connection refused, DNS, TLS: nothing answered
     +-- ProviderFailing        it answered with a server error (HTTP 5xx, overloaded)
     +-- ProviderTimeout        one model call or the whole answer took too long
     +-- RateLimited            HTTP 429 / the provider's rate-limit error
     +-- CredentialsRejected    HTTP 401 / 403: the API key is missing, wrong or not allowed
     +-- UnknownModel           HTTP 404: the provider has no model by that name
     +-- ContextOverflow        the prompt does not fit the model's context
     +-- MalformedToolCalls     the model kept sending tool calls that cannot be run
     +-- StepLimit              the model did not finish within its step budget
     +-- ProviderError          any other error the provider returned (4xx, a bad reply)
"""

from __future__ import annotations

import re


class LLMFailure(Exception):
    reason = "the model could not answer"

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or self.reason)
        self.detail = detail or self.reason


class ProviderDown(LLMFailure):
    reason = "the model provider could not be reached"


class ProviderFailing(LLMFailure):
    reason = "the model provider answered with a server error"


class CredentialsRejected(LLMFailure):
    reason = "the model provider rejected the API key (check OPSCOPILOT_LLM__API_KEY)"


class UnknownModel(LLMFailure):
    reason = "the model provider does not know that model (check OPSCOPILOT_LLM__MODEL)"


class ProviderTimeout(LLMFailure):
    reason = "the model provider did not answer in time"


class RateLimited(LLMFailure):
    reason = "the model provider is rate-limiting requests"


class ContextOverflow(LLMFailure):
    reason = "the question and tool results did not fit the model's context"


class MalformedToolCalls(LLMFailure):
    reason = "the model kept sending tool calls that could not be run"


class StepLimit(LLMFailure):
    reason = "the model did not finish within its step limit"


class ProviderError(LLMFailure):
    reason = "the model provider returned an error"


_CONTEXT = re.compile(r"context[ _-]?length|context window|maximum context|too many tokens|"
                      r"prompt is too long|input is too long|exceeds? the (?:model's )?context",
                      re.IGNORECASE)


def _status(exc: BaseException) -> int | None:
    for attr in ("status_code", "status"):
        value = getattr(exc, attr, None)
        if isinstance(value, int):
            return value
    response = getattr(exc, "response", None)
    code = getattr(response, "status_code", None)
    return code if isinstance(code, int) else None


def classify(exc: BaseException) -> LLMFailure:
    """Map an exception raised by a provider client (openai, anthropic, ollama, httpx) onto a
    reason. Works on names and status codes so no provider package needs importing here."""
    if isinstance(exc, LLMFailure):
        return exc
    names = {cls.__name__ for cls in type(exc).__mro__}
    detail = f"{type(exc).__name__}: {str(exc)[:300]}"
    status = _status(exc)
    if names & {"TimeoutError", "APITimeoutError", "TimeoutException", "ReadTimeout",
                "ConnectTimeout"}:
        return ProviderTimeout(detail)
    if status == 429 or "RateLimitError" in names:
        return RateLimited(detail)
    if _CONTEXT.search(str(exc)) or "ContextOverflowError" in names:
        return ContextOverflow(detail)
    if status is not None and status >= 500 or names & {"InternalServerError",
                                                        "OverloadedError"}:
        return ProviderFailing(detail)
    if status in (401, 403) or names & {"AuthenticationError", "PermissionDeniedError"}:
        return CredentialsRejected(detail)
    if status == 404 or "NotFoundError" in names:
        return UnknownModel(detail)
    if names & {"APIConnectionError", "ConnectError", "ConnectionError", "RemoteProtocolError",
                "NetworkError"}:
        return ProviderDown(detail)
    return ProviderError(detail)
