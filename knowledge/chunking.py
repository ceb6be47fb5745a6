"""Split a `Document` into section-sized chunks that stay addressable by section name.

A chunk never crosses a `#`/`##` heading, so "the resolution of INC-1012" is one chunk (or a few
consecutive ones when the section is long). Each chunk's indexed text starts with the document
title and section heading: a passage that says only "rolled back to v41" is still found by a
question about checkout errors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from knowledge.documents import Document

MAX_WORDS = 120  # MiniLM reads 256 word pieces; ~120 words plus the title prefix fit
OVERLAP_WORDS = 20

# Heading words -> canonical section keys, so filters and answers can name sections.
_SECTION_KEYS: tuple[tuple[str, str], ...] = (
    ("summary", "summary"), ("overview", "summary"), ("description", "summary"),
    ("impact", "impact"), ("timeline", "timeline"), ("root cause", "root_cause"),
    ("cause", "root_cause"), ("why", "root_cause"), ("resolution", "resolution"),
    ("remediation", "resolution"), ("fix", "resolution"), ("recovery", "resolution"),
    ("action item", "action_items"), ("follow", "action_items"), ("lessons", "action_items"),
    ("meaning", "meaning"), ("symptom", "symptoms"), ("diagnosis", "diagnosis"),
    ("investigat", "diagnosis"), ("mitigation", "mitigation"), ("steps", "steps"),
    ("procedure", "steps"), ("verify", "verification"), ("verification", "verification"),
    ("rollback", "rollback"), ("escalat", "escalation"),
)

_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_HEADING = re.compile(r"^(#{1,3})\s+(.+?)\s*#*\s*$")


@dataclass(frozen=True)
class Chunk:
    """One passage of a document: `text` is shown to people, `indexed_text` is embedded."""

    doc_id: str
    ordinal: int
    section: str  # canonical key: summary, timeline, root_cause, resolution, mitigation, ...
    heading: str  # the heading as written
    text: str
    indexed_text: str


def section_key(heading: str) -> str:
    """'Root Cause Analysis' -> 'root_cause'; unknown headings become their slug."""
    lowered = heading.lower()
    for word, key in _SECTION_KEYS:
        if word in lowered:
            return key
    return re.sub(r"[^a-z0-9]+", "_", lowered).strip("_") or "body"


def split_sections(body: str) -> list[tuple[str, str]]:
    """(heading, text) pairs in order; text before the first heading is the 'Summary'.

    A level-1 heading that only repeats the title is dropped; fenced code is kept verbatim.
    """
    sections: list[tuple[str, list[str]]] = [("Summary", [])]
    in_fence = False
    for line in body.splitlines():
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        if match and len(match.group(1)) >= 1:
            sections.append((match.group(2).strip(), []))
        else:
            sections[-1][1].append(line)
    out = [(h, "\n".join(lines).strip()) for h, lines in sections]
    return [(h, t) for h, t in out if t]


def _windows(text: str, max_words: int, overlap: int) -> list[str]:
    """Paragraph-aligned pieces of at most ~max_words words; long paragraphs split by words."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    pieces: list[str] = []
    current: list[str] = []
    count = 0
    for para in paragraphs:
        words = para.split()
        if len(words) > max_words:
            if current:
                pieces.append("\n\n".join(current))
                current, count = [], 0
            step = max_words - overlap
            for start in range(0, len(words), step):
                pieces.append(" ".join(words[start:start + max_words]))
                if start + max_words >= len(words):
                    break
            continue
        if count + len(words) > max_words and current:
            pieces.append("\n\n".join(current))
            current, count = [], 0
        current.append(para)
        count += len(words)
    if current:
        pieces.append("\n\n".join(current))
    return pieces


def _field_sections(doc: Document, present: set[str]) -> list[tuple[str, str]]:
    """Front-matter fields that the body does not already cover, as extra sections."""
    extra = []
    if doc.root_cause and "root_cause" not in present:
        extra.append(("Root cause", doc.root_cause))
    if doc.resolution and "resolution" not in present:
        extra.append(("Resolution", doc.resolution))
    if doc.action_items and "action_items" not in present:
        extra.append(("Action items", "\n".join(f"- {a}" for a in doc.action_items)))
    if doc.symptoms and "symptoms" not in present:
        extra.append(("Symptoms", "\n".join(f"- {s}" for s in doc.symptoms)))
    return extra


def chunk_document(doc: Document, max_words: int = MAX_WORDS,
                   overlap: int = OVERLAP_WORDS) -> list[Chunk]:
    """All chunks of a document, in reading order, never crossing a section heading."""
    sections = split_sections(doc.body)
    # A leading '# Title' section with no text of its own is dropped by split_sections already.
    present = {section_key(h) for h, _ in sections}
    sections += _field_sections(doc, present)
    if not sections:
        sections = [("Summary", doc.title)]
    prefix_bits = [doc.title]
    if doc.services:
        prefix_bits.append("services: " + ", ".join(doc.services))
    if doc.alerts:
        # 'KubeHpaMaxedOut (kube hpa maxed out)': the model reads words, not CamelCase.
        prefix_bits.append("alerts: " + ", ".join(
            f"{a} ({' '.join(_CAMEL.findall(a)).lower()})" for a in doc.alerts))
    prefix = " | ".join(prefix_bits)
    chunks: list[Chunk] = []
    for heading, text in sections:
        key = section_key(heading)
        for piece in _windows(text, max_words, overlap):
            chunks.append(Chunk(
                doc_id=doc.id, ordinal=len(chunks), section=key, heading=heading, text=piece,
                indexed_text=f"{prefix}\n{heading}: {piece}",
            ))
    return chunks
