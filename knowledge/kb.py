"""The knowledge base as the rest of the copilot sees it: a store plus its searcher, opened lazily.

Tools and the CLI hold a `KnowledgeBase`; nothing touches Chroma or the model until the first
search or ingest. `KnowledgeBase.from_settings(settings)` stores under
`settings.resolved_data_dir() / "kb"` unless a Chroma server URL is given.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from knowledge.embeddings import Embedder
from knowledge.search import ChunkTable, Hit, HybridSearcher, SearchFilter, fingerprint
from knowledge.store import KnowledgeStore, embedder_for, saved_generation

if TYPE_CHECKING:
    from infra.settings import Settings
    from knowledge.documents import Document
    from knowledge.ingest import IngestReport

def kb_path(settings: Settings) -> Path:
    return settings.resolved_data_dir() / "kb"


class KnowledgeBase:
    """A lazily opened `KnowledgeStore` with one `HybridSearcher`, safe to share across threads."""

    RECHECK_S = 5.0  # how long a table found current is trusted before the store is re-read

    def __init__(self, opener: Callable[[], KnowledgeStore],
                 index_file: Path | None = None, local_path: Path | None = None,
                 embedder: Callable[[], Embedder] | None = None) -> None:
        self._opener = opener
        self._index_file = index_file
        self._local_path = local_path  # an on-disk store: absent means empty, no chromadb needed
        self._embedder = embedder  # the store's model, for searching a saved table alone
        self._store: KnowledgeStore | None = None
        self._searcher: HybridSearcher | None = None
        self._saved: tuple[HybridSearcher | None, float] = (None, -1e9)  # (searcher, checked)
        self._lock = threading.Lock()

    @classmethod
    def from_store(cls, store: KnowledgeStore) -> KnowledgeBase:
        return cls(lambda: store)

    @classmethod
    def from_settings(cls, settings: Settings, url: str | None = None,
                      embedder: Embedder | None = None) -> KnowledgeBase:
        url = url or (str(settings.kb.chroma_url) if settings.kb.chroma_url else None)
        path = None if url else kb_path(settings)
        model = settings.kb.model
        # The keyword index is derived data: it lives in the cache folder, one file per store.
        where = hashlib.sha256(f"{url or path}|{model}".encode()).hexdigest()[:16]
        index_file = settings.resolved_cache_dir() / "kb-index" / f"{where}.pkl"
        def model_embedder() -> Embedder:
            return embedder or embedder_for(model)

        return cls(lambda: KnowledgeStore.open(path=path, url=url, embedder=model_embedder()),
                   index_file, local_path=path, embedder=model_embedder)

    @property
    def store(self) -> KnowledgeStore:
        with self._lock:
            if self._store is None:
                self._store = self._opener()
                self._searcher = HybridSearcher(self._store, index_file=self._index_file)
            return self._store

    @property
    def searcher(self) -> HybridSearcher:
        self.store  # noqa: B018 - opens the store and builds the searcher
        assert self._searcher is not None
        return self._searcher

    def warm(self) -> None:
        """Open the store, load the model and build the keyword index now (at start-up), so
        the first question does not pay for them."""
        self.searcher.search("warm up", 1)

    def ingest(self, docs: list[Document],
               progress: Callable[[int, int], None] | None = None) -> IngestReport:
        """Add or update documents (idempotent, see knowledge/ingest.py); when anything was
        written, bring the keyword index up to date and save it, so the next process to start
        loads it instead of reading every chunk back."""
        from knowledge.ingest import ingest_documents

        report = ingest_documents(self.store, docs, progress=progress)
        if report.written:
            self.refresh_index()
        return report

    def refresh_index(self) -> None:
        """Bring the keyword index up to date with the store and save it (after an ingest), so
        the next process to start loads it instead of reading every chunk back."""
        self.searcher.search("refresh", 1)
        self.searcher.flush()

    def _saved_searcher(self) -> HybridSearcher | None:
        """A searcher over the saved keyword-and-vector table when it is current with the
        on-disk store (same collection and generation, read from Chroma's file without
        importing chromadb, about 0.8 s); None when there is none or the store must be opened.
        Trusted for RECHECK_S, then the generation is read again (another process may write).
        """
        if (self._store is not None or self._local_path is None or self._index_file is None
                or self._embedder is None):
            return None
        with self._lock:
            searcher, checked = self._saved
            if searcher is not None and time.monotonic() - checked < self.RECHECK_S:
                return searcher
            current = saved_generation(self._local_path)
            table = None if searcher is None else searcher.table
            if current is not None and (table is None or table.gen != current[1]):
                embedder = self._embedder()
                table = ChunkTable.load(self._index_file, fingerprint(current[0], embedder.name))
                searcher = (HybridSearcher(None, table=table, embedder=embedder)
                            if table is not None and table.vectors is not None else None)
            if current is None or table is None or table.gen != current[1]:
                searcher = None
            self._saved = (searcher, time.monotonic())
            return searcher

    def is_empty(self) -> bool:
        if (self._store is None and self._local_path is not None
                and not (self._local_path / "chroma.sqlite3").exists()):
            return True  # never seeded: answer without importing chromadb (about 0.6 s)
        if (saved := self._saved_searcher()) is not None:
            return saved.table.live == 0
        return self.store.count() == 0

    def count(self) -> int:
        """Chunks stored (from the saved table when it is current: chromadb stays unloaded)."""
        if (saved := self._saved_searcher()) is not None:
            return saved.table.live
        return self.store.count()

    def search(self, query: str, k: int = 5, filt: SearchFilter | None = None) -> list[Hit]:
        if (saved := self._saved_searcher()) is not None:
            return saved.search(query, k, filt)
        return self.searcher.search(query, k, filt)
