"""Redact secrets and personal data from everything sent to a model provider.

`infra.redact.redact` (credentials, provider keys, e-mail addresses, phone numbers) runs
first, the one set of patterns the project has. Operators add their own regexes with
OPSCOPILOT_LLM__REDACT_PATTERNS (a JSON list); OPSCOPILOT_LLM__REDACT=false turns it off (for a
model that runs inside the same trust boundary).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from infra.redact import redact
from infra.settings import LLMSettings, SettingsError

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage


class Redactor:
    """Apply the project's patterns, then the configured ones."""

    def __init__(self, enabled: bool = True, patterns: Sequence[str] = ()) -> None:
        self.enabled = enabled
        self._patterns: list[tuple[re.Pattern[str], str]] = []
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
        text = redact(text)
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
