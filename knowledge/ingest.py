"""Ingestion: files -> documents -> chunks -> the store, idempotent and safe to interrupt.

Documents are redacted (`infra.redact.redact`) before anything is stored. A document
whose content hash is already stored (all chunks, no other version) is left alone,
so re-running an ingest changes nothing; an edited document replaces its old chunks. Documents
are written in batches (one embedding call and one upsert per batch); a bad file is skipped with
its reason and the rest goes in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from knowledge.chunking import Chunk, chunk_document
from knowledge.converters import load_path
from knowledge.documents import Document, DocumentError
from knowledge.store import KnowledgeStore

log = logging.getLogger(__name__)

BATCH_DOCS = 32

Progress = Callable[[int, int], None]  # (documents done, documents in total)


@dataclass
class IngestReport:
    """What an ingest did; `skipped` holds (file, reason) for every file left out."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    chunks: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def written(self) -> int:
        return len(self.added) + len(self.updated)

    def summary(self) -> str:
        return (f"{len(self.added)} added, {len(self.updated)} updated, "
                f"{len(self.unchanged)} unchanged, {self.chunks} chunks written, "
                f"{len(self.skipped)} skipped")


def collect(paths: Sequence[Path], kind: str = "auto"
            ) -> tuple[list[Document], list[tuple[str, str]]]:
    """Documents under the paths and (file, reason) for each file that cannot be used.

    A missing path raises `FileNotFoundError` (a user error for the whole command); two
    documents with the same id keep the first and report the second.
    """
    for path in paths:
        if not path.exists():
            raise FileNotFoundError(2, "no such file or directory", str(path))
    docs: list[Document] = []
    skipped: list[tuple[str, str]] = []
    seen: dict[str, str] = {}
    for path in paths:
        for file, item in load_path(path, kind):
            if isinstance(item, DocumentError):
                skipped.append((str(file), str(item)))
            elif item.id in seen:
                skipped.append((item.source or str(file),
                                f"duplicate id {item.id!r} (first in {seen[item.id]})"))
            else:
                seen[item.id] = item.source or str(file)
                docs.append(item)
    return docs, skipped


def ingest_documents(store: KnowledgeStore, docs: Iterable[Document],
                     progress: Progress | None = None,
                     batch_docs: int = BATCH_DOCS) -> IngestReport:
    """Write the documents that changed; leave identical ones untouched.

    What is stored is redacted first: a postmortem that quotes a token or an e-mail address keeps
    its text, and the knowledge base (and every search result) never holds the secret.
    """
    docs = [doc.redacted() for doc in docs]
    report = IngestReport()
    stored = store.stored_docs()
    pending: list[tuple[Document, list[Chunk]]] = []
    done = 0

    def flush() -> None:
        nonlocal pending
        if pending:
            store.write(pending, stored)
            report.chunks += sum(len(chunks) for _, chunks in pending)
            pending = []

    seen: set[str] = set()
    for doc in docs:
        if doc.id in seen:
            report.skipped.append((doc.source, f"duplicate id {doc.id!r}"))
            done += 1
            continue
        seen.add(doc.id)
        entry = stored.get(doc.id)
        if entry is not None and entry.is_current(doc.content_hash()):
            report.unchanged.append(doc.id)
        else:
            (report.updated if entry is not None else report.added).append(doc.id)
            pending.append((doc, chunk_document(doc)))
        done += 1
        if len(pending) >= batch_docs:
            flush()
        if progress and (not pending or done == len(docs)):
            progress(done, len(docs))
    flush()
    if progress:
        progress(len(docs), len(docs))
    log.info("ingest: %s", report.summary())
    return report


def ingest_paths(store: KnowledgeStore, paths: Sequence[Path], kind: str = "auto",
                 progress: Progress | None = None) -> IngestReport:
    """Ingest every postmortem and runbook under the paths; bad files are skipped, reported."""
    docs, skipped = collect(paths, kind)
    report = ingest_documents(store, docs, progress)
    report.skipped = skipped + report.skipped
    return report
