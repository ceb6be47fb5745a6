"""The knowledge base's unit of content: a `Document` (a postmortem or a runbook) and its fields.

Every converter produces `Document`s; chunking, the store and search only ever see this type.
Errors a person can fix (a file that cannot be parsed) raise `DocumentError` with one line.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Literal

from infra.redact import redact

Kind = Literal["postmortem", "runbook"]
KINDS: tuple[str, ...] = ("postmortem", "runbook")
SEVERITIES: tuple[str, ...] = ("sev1", "sev2", "sev3", "sev4")


class DocumentError(ValueError):
    """A source that cannot become a document (bad front matter, unknown format); one line."""


@dataclass
class Document:
    """One postmortem or runbook, already normalised by a converter.

    `body` is Markdown whose `##` headings become addressable sections; `id` is stable across
    re-ingests (front matter `id`, else derived from the source path), so an edited file replaces
    its old chunks instead of adding new ones.
    """

    id: str
    kind: Kind
    title: str
    body: str
    source: str = ""
    date: date | None = None
    severity: str = ""
    services: list[str] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    symptoms: list[str] = field(default_factory=list)
    root_cause: str = ""
    resolution: str = ""
    action_items: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)

    def content_hash(self) -> str:
        """A hash of everything that ends up in the store: equal hash, nothing to re-ingest."""
        payload = json.dumps(self.to_dict(), sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def redacted(self) -> Document:
        """A copy whose prose carries no credentials, e-mail addresses or phone numbers."""
        return replace(
            self, title=redact(self.title), body=redact(self.body),
            symptoms=[redact(s) for s in self.symptoms],
            root_cause=redact(self.root_cause), resolution=redact(self.resolution),
            action_items=[redact(a) for a in self.action_items])

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "kind": self.kind, "title": self.title, "body": self.body,
            "source": self.source, "date": self.date.isoformat() if self.date else None,
            "severity": self.severity, "services": self.services, "alerts": self.alerts,
            "symptoms": self.symptoms, "root_cause": self.root_cause,
            "resolution": self.resolution, "action_items": self.action_items, "tags": self.tags,
        }


def slugify(text: str, limit: int = 60) -> str:
    """Lower-case words joined by '-': a readable, stable id fragment."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:limit].rstrip("-") or "untitled"


def as_list(value: Any) -> list[str]:
    """Front matter lists come as YAML lists or comma-separated strings; normalise both."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value if str(v).strip()]
    return [str(value)]


def as_date(value: Any) -> date | None:
    """A YAML date, an ISO date string or an ISO time string; `DocumentError` for anything else."""
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value if type(value) is date else value.date()  # type: ignore[attr-defined]
    text = str(value).strip()
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise DocumentError(f"bad date {text!r}: expected YYYY-MM-DD") from None


def normalise_severity(value: Any) -> str:
    """'SEV-1', 'sev1', 1, 'P1', 'critical' -> 'sev1'; unknown words are kept lower-cased."""
    if value is None or value == "":
        return ""
    text = str(value).strip().lower().replace("-", "").replace(" ", "")
    words = {"critical": "sev1", "major": "sev2", "high": "sev2", "minor": "sev3",
             "medium": "sev3", "low": "sev4", "warning": "sev3", "info": "sev4"}
    if text in words:
        return words[text]
    match = re.fullmatch(r"(?:sev|p)?([0-4])", text)
    if match:
        return f"sev{max(1, int(match.group(1)))}"
    return text
