"""Redact secrets and personal data from everything sent to a model provider.

`tools.redact.redact` (credentials) runs first; the patterns below add what a prompt must not carry
either: provider API keys, cloud secrets, e-mail addresses and phone numbers. Operators add their
own regexes with OPSCOPILOT_LLM__REDACT_PATTERNS (a JSON list); OPSCOPILOT_LLM__REDACT=false turns
it off (for a model that runs inside the same trust boundary).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bot.settings import LLMSettings, SettingsError
from tools.redact import redact as redact_credentials

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage

# Before tools.redact: its key=value rule would take "Bearer" as the value of "Authorization:"
# and leave the token itself in place.
_FIRST: tuple[tuple[str, str], ...] = (
    (r"(?i)\b(bearer|basic|token)\s+[a-z0-9._~+/=-]{8,}", r"\1 [REDACTED]"),
)
_EXTRA: tuple[tuple[str, str], ...] = (
    # any key whose name contains secret/token/password/api key, also inside longer names
    (r"(?i)\b([a-z0-9_.-]*(?:secret|token|passw(?:or)?d|pwd|api[_-]?key|access[_-]?key)"
     r"[a-z0-9_.-]*)([\"']?\s*[=:]\s*)(?!\[REDACTED)(\"[^\"]*\"|'[^']*'|\S+)", r"\1\2[REDACTED]"),
    (r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{16,}", "[REDACTED-API-KEY]"),
    (r"\bgh[pousr]_[A-Za-z0-9]{30,}", "[REDACTED-GITHUB-TOKEN]"),
    (r"\bglpat-[A-Za-z0-9_-]{20,}", "[REDACTED-GITLAB-TOKEN]"),
    (r"\bAIza[0-9A-Za-z_-]{35}\b", "[REDACTED-GOOGLE-KEY]"),
    (r"\b(?:ASIA|AKIA)[0-9A-Z]{16}\b", "[REDACTED-AWS-KEY]"),
    (r"\b[sr]k_(?:live|test)_[A-Za-z0-9]{16,}", "[REDACTED-STRIPE-KEY]"),
    (r"(?i)\b[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}\b", "[REDACTED-EMAIL]"),
    (r"(?<![\w.:])\+\d{1,3}[\s.-]?\(?\d{1,4}\)?(?:[\s.-]?\d{2,4}){2,4}\b", "[REDACTED-PHONE]"),
)


class Redactor:
    """Apply the credential patterns, the extras above and the configured ones, in that order."""

    def __init__(self, enabled: bool = True, patterns: Sequence[str] = ()) -> None:
        self.enabled = enabled
        self._first = [(re.compile(p), r) for p, r in _FIRST]
        self._patterns: list[tuple[re.Pattern[str], str]] = [
            (re.compile(p), r) for p, r in _EXTRA]
        for i, pattern in enumerate(patterns):
            try:
                self._patterns.append((re.compile(pattern), "[REDACTED]"))
            except re.error as exc:
                raise SettingsError(f"OPSCOPILOT_LLM__REDACT_PATTERNS: pattern {i} is not a "
                                    f"valid regular expression ({exc})") from None

    @classmethod
    def from_settings(cls, llm: LLMSettings) -> Redactor:
        return cls(llm.redact, llm.redact_patterns)

    def text(self, text: str) -> str:
        if not self.enabled or not text:
            return text
        for pattern, replacement in self._first:
            text = pattern.sub(replacement, text)
        text = redact_credentials(text)
        for pattern, replacement in self._patterns:
            text = pattern.sub(replacement, text)
        return text

    def value(self, value: Any) -> Any:
        """Redact strings inside JSON-like values (tool-call arguments)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        return value

    def messages(self, messages: Sequence[BaseMessage]) -> list[BaseMessage]:
        """Copies of `messages` with every text part and tool-call argument redacted."""
        if not self.enabled:
            return list(messages)
        out = []
        for m in messages:
            update: dict[str, Any] = {}
            if isinstance(m.content, str):
                update["content"] = self.text(m.content)
            else:
                update["content"] = [
                    {**part, "text": self.text(part["text"])}
                    if isinstance(part, dict) and isinstance(part.get("text"), str)
                    else self.text(part) if isinstance(part, str) else part
                    for part in m.content]
            calls = getattr(m, "tool_calls", None)
            if calls:
                update["tool_calls"] = [{**c, "args": self.value(c["args"])} for c in calls]
            out.append(m.model_copy(update=update))
        return out
