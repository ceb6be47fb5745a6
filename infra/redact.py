"""Redaction of secrets and personal data: the one place these patterns live.

Logs, documents, questions and command output are data and may carry credentials, e-mail
addresses and phone numbers. Whatever we show (answers, Slack posts), keep (the knowledge base at
ingest, the answer log, the audit log) or send to a model provider passes `redact` first.
"""

from __future__ import annotations

import re
from typing import Any

_SECRET_KEY = (r"password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|"
               r"client[_-]?secret|authorization|credentials?")

# Names that contain a secret word but hold a number or a setting, not a secret.
_NOT_SECRET = re.compile(r"(?i)(count|limit|len|length|size|ttl|type|expir\w*|used|max\w*|min)$")


def _pair(match: re.Match[str]) -> str:
    key, sep, scheme, _ = match.groups()
    if _NOT_SECRET.search(key):
        return match.group(0)
    return f"{key}{sep}{scheme or ''}[REDACTED]"


_PATTERNS: tuple[tuple[re.Pattern[str], str | None], ...] = (
    # key=value / key: value pairs whose key names a secret, also inside longer names
    # (DB_PASSWORD, aws_secret_access_key, GITHUB_TOKEN); an auth scheme word is not the value
    (re.compile(rf"(?i)\b([\w.-]*?(?:{_SECRET_KEY})[\w.-]*)([\"']?\s*[=:]\s*)"
                r"((?:bearer|basic|token)\s+)?(\"[^\"]*\"|'[^']*'|\S+)"),
     None),
    (re.compile(r"(?i)\bbearer\s+(?!\[REDACTED)[a-z0-9._~+/=-]{8,}"), "Bearer [REDACTED]"),
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"), "[REDACTED-SLACK-TOKEN]"),
    (re.compile(r"\bxapp-[A-Za-z0-9-]{10,}"), "[REDACTED-SLACK-TOKEN]"),
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), "[REDACTED-AWS-KEY]"),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b"), "[REDACTED-GITHUB-TOKEN]"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), "[REDACTED-JWT]"),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----"),
     "[REDACTED-PRIVATE-KEY]"),
    (re.compile(r"(?i)(://[^/\s:@]*:)[^@\s/]+@"), r"\1[REDACTED]@"),  # user may be empty
    (re.compile(r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{16,}"), "[REDACTED-API-KEY]"),
    (re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}"), "[REDACTED-GITLAB-TOKEN]"),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"), "[REDACTED-GOOGLE-KEY]"),
    (re.compile(r"\b[sr]k_(?:live|test)_[A-Za-z0-9]{16,}"), "[REDACTED-STRIPE-KEY]"),
)
_PERSONAL: tuple[tuple[re.Pattern[str], str], ...] = (
    # the user part may be "[REDACTED]" already when a DSN's password sat before the @
    (re.compile(r"(?i)\b[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\b"),
     "[REDACTED-EMAIL]"),
    (re.compile(r"(?<![\w.:])\+\d{1,3}[\s.-]?\(?\d{1,4}\)?(?:[\s.-]?\d{2,4}){2,4}\b"),
     "[REDACTED-PHONE]"),
)


def redact(text: str) -> str:
    """Replace credentials and personal data in `text` with a marker; the rest is kept as it was."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement if replacement is not None else _pair, text)
    for personal, marker in _PERSONAL:
        text = personal.sub(marker, text)
    return text



def redact_data(value: Any) -> Any:
    """`redact` applied to every string inside a JSON-like value (dicts, lists, tuples); keys and
    other values are kept, so the shape a client parses does not change."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_data(v) for v in value]
    return value
