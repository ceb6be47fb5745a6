"""Hybrid search: dense (MiniLM in Chroma) and BM25 keyword rankings fused by reciprocal rank.

Both retrievers rank chunks; each ranking is collapsed to documents (a document takes the rank
of its best chunk), the two document rankings are fused with RRF, and every document is shown
once with its best-matching passage. Filters (service, severity, kind, date range) are applied
inside Chroma through `where` and to the keyword side in Python, with the same meaning.
"""

from __future__ import annotations

import logging
import os
import pickle
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.embeddings import Embedder
from knowledge.keyword import BM25Index
from knowledge.store import KnowledgeStore

log = logging.getLogger(__name__)

RRF_K = 60
CANDIDATES = 60  # chunks taken from each retriever before fusion
MAX_OVERFETCH = 3000  # unfiltered nearest chunks fetched to filter in memory (ids only: cheap)
VECTOR_CAP = 20_000  # up to this many chunks the table holds their vectors: exact dense search
# in numpy, and a process whose saved table is current never opens Chroma (import alone ~0.8 s)


@dataclass(frozen=True)
class SearchFilter:
    """Which documents a search may return; empty fields do not filter."""

    services: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    date_from: date | None = None
    date_to: date | None = None

    def where(self) -> dict[str, Any] | None:
        """A Chroma `where`; several conditions are wrapped in an explicit `$and`."""
        clauses: list[dict[str, Any]] = []
        if self.services:
            flags = [{f"svc_{s}": True} for s in self.services]
            clauses.append(flags[0] if len(flags) == 1 else {"$or": flags})
        if self.kinds:
            clauses.append({"kind": {"$in": list(self.kinds)}})
        if self.severities:
            clauses.append({"severity": {"$in": list(self.severities)}})
        if self.date_from:
            clauses.append({"date_num": {"$gte": int(self.date_from.strftime("%Y%m%d"))}})
        if self.date_to:
            clauses.append({"date_num": {"$lte": int(self.date_to.strftime("%Y%m%d"))}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def matches(self, meta: dict[str, Any]) -> bool:
        """The same test as `where()`, for chunks scored outside Chroma."""
        if self.services and not any(meta.get(f"svc_{s}") for s in self.services):
            return False
        if self.kinds and meta.get("kind") not in self.kinds:
            return False
        if self.severities and meta.get("severity") not in self.severities:
            return False
        day = int(meta.get("date_num") or 0)
        if self.date_from and day < int(self.date_from.strftime("%Y%m%d")):
            return False
        return not (self.date_to and day > int(self.date_to.strftime("%Y%m%d")))


@dataclass
class Hit:
    """One document that answers the query, with the passage that matched best."""

    id: str
    title: str
    kind: str
    score: float  # fused RRF score scaled to 0..1 (1: first in both rankings)
    passage: str
    section: str
    source: str
    metadata: dict[str, Any] = field(default_factory=dict)
    dense_rank: int | None = None
    keyword_rank: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "kind": self.kind,
                "score": round(self.score, 4), "passage": self.passage,
                "section": self.section, "source": self.source}


class ChunkTable:
    """Every stored chunk's id and metadata, the BM25 index over their text, and filter columns.

    Dense results are joined with this table by chunk id, so Chroma is asked for ids and
    distances only; filters are evaluated here as boolean masks (much faster than a `where`).
    Reading every chunk back from Chroma costs about 0.15 ms each (45 s at 300,000 chunks), so a
    table is built once, saved, and then caught up with the store: `caught_up` reads only the
    chunks written since its generation and drops removed ones. A table is never changed in
    place (`caught_up` returns a new one), so a saved or in-use table stays consistent.
    """

    FORMAT = 3  # 2: keyword segments are plain numpy (1 held scipy matrices); 3: vectors

    def __init__(self, gen: int = 0) -> None:
        self.gen = gen  # the store generation this table reflects
        self.ids: list[str] = []
        self.metas: list[dict[str, Any]] = []
        self.row: dict[str, int] = {}
        self.index = BM25Index()
        self.kind = np.zeros(0, dtype=object)
        self.severity = np.zeros(0, dtype=object)
        self.date_num = np.zeros(0, dtype=np.int64)
        self._services: dict[str, np.ndarray] = {}
        # One unit vector per index row (removed rows included until compaction), or None when
        # the store is too large to hold them (then Chroma answers dense queries).
        self.vectors: np.ndarray | None = np.zeros((0, 0), dtype=np.float32)

    @classmethod
    def build(cls, store: KnowledgeStore) -> ChunkTable:
        gen = store.generation()  # read first: a write during the scan is caught up later
        records = list(store.iter_records(("metadatas", "documents")))
        return cls(gen)._with(records, [], gen, _vectors_of(store, records))

    @property
    def live(self) -> int:
        return int(self.index.alive.sum())

    def caught_up(self, store: KnowledgeStore) -> ChunkTable:
        """This table brought up to the store's current generation (self when nothing changed)."""
        gen = store.generation()
        if gen == self.gen and store.count() == self.live:
            return self
        added = list(store.records_since(self.gen))
        vectors = _vectors_of(store, added) if self.vectors is not None else None
        removed = store.removed_since(self.gen)
        if removed is None:  # another process wrote: compare ids
            now = store.all_ids()
            removed = [cid for cid, r in self.row.items() if cid not in now]
        table = self._with(added, removed, gen, vectors)
        if table.live != store.count():  # chunks without a generation (an older store): rebuild
            log.info("knowledge index out of step with the store (%d vs %d chunks): rebuilding",
                     table.live, store.count())
            return ChunkTable.build(store)
        return table

    def _with(self, added: list[tuple[str, dict[str, Any], str | None]], removed: list[str],
              gen: int, vectors: np.ndarray | None) -> ChunkTable:
        twin = ChunkTable(gen)
        twin.vectors = _stacked(self.vectors, vectors, self.index.size + len(added))
        twin.index = self.index.copy()
        twin.ids, twin.metas, twin.row = list(self.ids), list(self.metas), dict(self.row)
        gone = [twin.row.pop(cid) for cid in removed if cid in twin.row]
        gone += [twin.row.pop(cid) for cid, _, _ in added if cid in twin.row]  # rewritten
        twin.index.remove(gone)
        rows = twin.index.add([text or "" for _, _, text in added])
        for row, (cid, meta, _) in zip(rows, added, strict=True):
            twin.ids.append(cid)
            twin.metas.append(meta)
            twin.row[cid] = row
        twin.kind = np.concatenate([self.kind, np.array(
            [str(m.get("kind", "")) for _, m, _ in added], dtype=object)])
        twin.severity = np.concatenate([self.severity, np.array(
            [str(m.get("severity", "")) for _, m, _ in added], dtype=object)])
        twin.date_num = np.concatenate([self.date_num, np.array(
            [int(m.get("date_num") or 0) for _, m, _ in added], dtype=np.int64)])
        if len(twin.index.segments) > 8 or twin.live < 0.75 * twin.index.size:
            twin._compact()
        return twin

    def _compact(self) -> None:
        self.index, new_row = self.index.compacted()
        keep = np.flatnonzero(new_row >= 0)
        self.ids = [self.ids[i] for i in keep]
        self.metas = [self.metas[i] for i in keep]
        self.row = {cid: i for i, cid in enumerate(self.ids)}
        self.kind, self.severity = self.kind[keep], self.severity[keep]
        self.date_num = self.date_num[keep]
        if self.vectors is not None:
            self.vectors = self.vectors[keep]

    # -- saved copy -------------------------------------------------------------------------

    def save(self, path: Path, fingerprint: str) -> None:
        """Write atomically (temp file + rename); a reader never sees half a table."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        with open(tmp, "wb") as fh:
            pickle.dump((self.FORMAT, fingerprint, self), fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path, fingerprint: str) -> ChunkTable | None:
        """The saved table, or None when absent, unreadable or saved for another store."""
        try:
            with open(path, "rb") as fh:
                fmt, saved_for, table = pickle.load(fh)
        except FileNotFoundError:
            return None
        except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError,
                AttributeError) as exc:
            log.warning("ignoring the saved knowledge index %s: %s", path, exc)
            return None
        if fmt != cls.FORMAT or saved_for != fingerprint or not isinstance(table, ChunkTable):
            return None
        return table

    # -- queries ----------------------------------------------------------------------------

    def _service(self, service: str) -> np.ndarray:
        if service not in self._services:
            key = f"svc_{service}"
            self._services[service] = np.array([bool(m.get(key)) for m in self.metas], dtype=bool)
        return self._services[service]

    def mask(self, filt: SearchFilter) -> np.ndarray | None:
        """Rows the filter allows; None when it allows everything."""
        if filt == SearchFilter():
            return None
        ok = self.index.alive.copy()
        if filt.services:
            ok &= np.logical_or.reduce([self._service(s) for s in filt.services])
        if filt.kinds:
            ok &= np.isin(self.kind, list(filt.kinds))
        if filt.severities:
            ok &= np.isin(self.severity, list(filt.severities))
        if filt.date_from:
            ok &= self.date_num >= int(filt.date_from.strftime("%Y%m%d"))
        if filt.date_to:
            ok &= self.date_num <= int(filt.date_to.strftime("%Y%m%d"))
        return ok

    def keyword(self, query: str, n: int, allowed: np.ndarray | None
                ) -> list[tuple[str, float, dict]]:
        scores = self.index.scores(query)
        if allowed is not None:
            scores = np.where(allowed, scores, 0.0)
        top = np.flatnonzero(scores > 0)
        top = top[np.argsort(-scores[top], kind="stable")][:n]
        return [(self.ids[i], float(scores[i]), self.metas[i]) for i in top]


def _vectors_of(store: KnowledgeStore,
                records: list[tuple[str, dict[str, Any], str | None]]) -> np.ndarray | None:
    """Unit vectors of the records' chunks, or None when they are too many to hold."""
    if len(records) > VECTOR_CAP:
        return None
    found = store.vectors([cid for cid, _, _ in records])
    if found is None or not len(found):
        return found
    return found / np.clip(np.linalg.norm(found, axis=1, keepdims=True), 1e-12, None)


def _stacked(held: np.ndarray | None, added: np.ndarray | None, rows: int) -> np.ndarray | None:
    """`held` with `added` below it, or None once either is missing or `rows` passes the cap."""
    if held is None or added is None or rows > VECTOR_CAP:
        return None
    if not len(held):
        return added
    if not len(added):
        return held
    return np.vstack([held, added]) if held.shape[1] == added.shape[1] else None


def fingerprint(collection_id: str, model: str) -> str:
    """What a saved table was built for: one collection, one embedding model."""
    return f"{collection_id}:{model}"


def _exact_nearest(table: ChunkTable, vector: np.ndarray, n: int,
                   allowed: np.ndarray | None) -> list[tuple[str, float, dict]]:
    """The n live (and allowed) chunks closest to `vector` by cosine, as (id, distance, meta)."""
    assert table.vectors is not None
    ok = np.flatnonzero(table.index.alive if allowed is None else allowed)
    if not len(ok) or n <= 0:
        return []
    unit = vector / max(float(np.linalg.norm(vector)), 1e-12)
    sims = table.vectors[ok] @ unit.astype(np.float32)
    best = np.argsort(-sims, kind="stable")[:n]
    return [(table.ids[ok[i]], 1.0 - float(sims[i]), table.metas[ok[i]]) for i in best]


def _doc_ranks(chunks: list[tuple[str, float, dict]]) -> dict[str, tuple[int, str, dict]]:
    """doc id -> (rank of its best chunk among documents, best chunk id, metadata)."""
    ranks: dict[str, tuple[int, str, dict]] = {}
    for cid, _, meta in chunks:
        doc_id = str(meta.get("doc_id"))
        if doc_id not in ranks:
            ranks[doc_id] = (len(ranks) + 1, cid, meta)
    return ranks


class HybridSearcher:
    """Searches one store, keeping its keyword table in step with it.

    With `index_file`, the table is saved there after it changes (in a background thread) and
    loaded at start, so a restart reads only the chunks written since, not the whole store.
    Writes by this process are seen at the next search; writes by other processes within
    `recheck_s` seconds (the store's generation is re-read no more often than that).
    """

    def __init__(self, store: KnowledgeStore | None, dense_weight: float = 1.0,
                 keyword_weight: float = 1.0, max_overfetch: int = MAX_OVERFETCH,
                 index_file: Path | None = None, recheck_s: float = 5.0,
                 exact: bool = True, table: ChunkTable | None = None,
                 embedder: Embedder | None = None) -> None:
        """`store` None: a searcher over `table` alone, which must hold its vectors, with
        `embedder` for queries (a process that found its saved table current, see
        `KnowledgeBase`); it never rechecks a store."""
        if store is not None:
            embedder = store.embedder
        elif table is None or table.vectors is None or embedder is None:
            raise ValueError("a searcher without a store needs a table with vectors and an "
                             "embedder")
        self.store = store
        self.embedder: Embedder = embedder
        self.exact = exact  # dense scores from the table's vectors when it holds them
        self.max_overfetch = max_overfetch
        self.dense_weight = dense_weight
        self.keyword_weight = keyword_weight
        self.index_file = index_file
        self.recheck_s = recheck_s
        self._chunks: ChunkTable | None = table if store is None else None
        self._checked: tuple[int, float] = (-1, 0.0)  # (store.version, monotonic time)
        self._lock = threading.Lock()
        self._saver: threading.Thread | None = None

    @property
    def table(self) -> ChunkTable:
        """The chunk table, caught up with the store first when one is open."""
        return self._table()

    def _fingerprint(self) -> str:
        assert self.store is not None
        return fingerprint(str(self.store.collection.id), self.store.embedder.name)

    def _table(self) -> ChunkTable:
        if self.store is None:
            assert self._chunks is not None
            return self._chunks
        with self._lock:
            version, now = self.store.version, time.monotonic()
            fresh = (self._chunks is not None and version == self._checked[0]
                     and now - self._checked[1] < self.recheck_s)
            if fresh:
                assert self._chunks is not None
                return self._chunks
            table = self._chunks
            if table is None and self.index_file is not None:
                table = ChunkTable.load(self.index_file, self._fingerprint())
            updated = ChunkTable.build(self.store) if table is None else table.caught_up(
                self.store)
            if updated is not table:
                self._save_later(updated)
            self._chunks = updated
            self._checked = (version, time.monotonic())
            return updated

    def _save_later(self, table: ChunkTable) -> None:
        if self.index_file is None:
            return
        path, fingerprint = self.index_file, self._fingerprint()

        def save() -> None:
            try:
                table.save(path, fingerprint)
            except OSError as exc:  # a full or read-only cache folder costs speed, not answers
                log.warning("cannot save the knowledge index to %s: %s", path, exc)

        previous = self._saver
        if previous is not None and previous.is_alive():
            previous.join()
        self._saver = threading.Thread(target=save, name="kb-index-save", daemon=True)
        self._saver.start()

    def flush(self) -> None:
        """Wait until the table is saved (tests, and before a process exits)."""
        if self._saver is not None:
            self._saver.join()

    def _dense(self, vector: np.ndarray, n: int, filt: SearchFilter, table: ChunkTable,
               allowed: np.ndarray | None) -> list[tuple[str, float, dict]]:
        """Nearest chunks that pass the filter, joined with their metadata."""
        if table.vectors is not None and (self.exact or self.store is None):
            return _exact_nearest(table, vector, n, allowed)
        assert self.store is not None
        if allowed is None:
            found = self.store.nearest(vector, n)
        else:
            share = float(allowed.mean())
            if share == 0:
                return []
            wanted = min(len(table.ids), int(n / share * 1.5) + 1)
            found = self.store.nearest(vector, wanted) if wanted <= self.max_overfetch else []
            found = [(cid, d) for cid, d in found if cid in table.row and allowed[table.row[cid]]]
            if len(found) < min(n, int(allowed.sum())):  # a selective filter: let Chroma do it
                found = self.store.nearest(vector, n, filt.where())
        return [(cid, d, table.metas[table.row[cid]]) for cid, d in found[:n]
                if cid in table.row]

    def search(self, query: str, k: int = 5, filt: SearchFilter | None = None,
               candidates: int = CANDIDATES) -> list[Hit]:
        """The `k` best documents for the query, one hit each, best first."""
        filt = filt or SearchFilter()
        if not query.strip() or (self.store is not None and self.store.count() == 0):
            return []
        table = self._table()
        if table.live == 0:
            return []
        allowed = table.mask(filt)
        vector = self.embedder.embed([query])[0]
        dense = self._dense(vector, candidates, filt, table, allowed)
        keyword = table.keyword(query, candidates, allowed)
        dense_docs, keyword_docs = _doc_ranks(dense), _doc_ranks(keyword)
        # Within a document, the passage is the chunk with the best fused chunk-level rank.
        chunk_score: dict[str, float] = {}
        for weight, ranked in ((self.dense_weight, dense), (self.keyword_weight, keyword)):
            for rank, (cid, _, _) in enumerate(ranked, 1):
                chunk_score[cid] = chunk_score.get(cid, 0.0) + weight / (RRF_K + rank)
        best: dict[str, tuple[float, str, dict]] = {}
        for ranked in (dense, keyword):
            for cid, _, meta in ranked:
                doc_id = str(meta.get("doc_id"))
                if doc_id not in best or chunk_score[cid] > best[doc_id][0]:
                    best[doc_id] = (chunk_score[cid], cid, meta)
        top = (self.dense_weight + self.keyword_weight) / (RRF_K + 1)
        hits: list[Hit] = []
        for doc_id in best:
            d, kw = dense_docs.get(doc_id), keyword_docs.get(doc_id)
            fused = ((self.dense_weight / (RRF_K + d[0]) if d else 0.0)
                     + (self.keyword_weight / (RRF_K + kw[0]) if kw else 0.0))
            meta = best[doc_id][2]
            hits.append(Hit(
                id=doc_id, title=str(meta.get("title", doc_id)), kind=str(meta.get("kind", "")),
                score=fused / top, passage=str(meta.get("passage", "")),
                section=str(meta.get("section", "")), source=str(meta.get("source", "")),
                metadata=meta, dense_rank=d[0] if d else None,
                keyword_rank=kw[0] if kw else None,
            ))
        # Ties (first in one ranking, second in the other) go to the exact-word match: an alert
        # name or an error string typed verbatim is the strongest evidence there is.
        far = 10**6
        hits.sort(key=lambda h: (-round(h.score, 9), h.keyword_rank or far, h.dense_rank or far,
                                 h.id))
        return hits[:k]
