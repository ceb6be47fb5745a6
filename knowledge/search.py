"""Hybrid search: dense (MiniLM in Chroma) and BM25 keyword rankings fused by reciprocal rank.

Both retrievers rank chunks; each ranking is collapsed to documents (a document takes the rank
of its best chunk), the two document rankings are fused with RRF, and every document is shown
once with its best-matching passage. Filters (service, severity, kind, date range) are applied
inside Chroma through `where` and to the keyword side in Python, with the same meaning.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np

from knowledge.keyword import BM25Index
from knowledge.store import KnowledgeStore

log = logging.getLogger(__name__)

RRF_K = 60
CANDIDATES = 60  # chunks taken from each retriever before fusion
MAX_OVERFETCH = 3000  # unfiltered nearest chunks fetched to filter in memory (ids only: cheap)


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


class _ChunkTable:
    """Every stored chunk's id and metadata, the BM25 index over their text, and filter columns.

    Dense results are joined with this table by chunk id, so Chroma is asked for ids and
    distances only; filters are evaluated here as boolean masks (much faster than a `where`).
    """

    def __init__(self, store: KnowledgeStore) -> None:
        ids: list[str] = []
        metas: list[dict[str, Any]] = []
        texts: list[str] = []
        for cid, meta, text in store.iter_records(("metadatas", "documents")):
            ids.append(cid)
            metas.append(meta)
            texts.append(text or "")
        self.ids = ids
        self.metas = metas
        self.row = {cid: i for i, cid in enumerate(ids)}
        self.index = BM25Index(texts)
        self.kind = np.array([str(m.get("kind", "")) for m in metas], dtype=object)
        self.severity = np.array([str(m.get("severity", "")) for m in metas], dtype=object)
        self.date_num = np.array([int(m.get("date_num") or 0) for m in metas], dtype=np.int64)
        self._services: dict[str, np.ndarray] = {}

    def _service(self, service: str) -> np.ndarray:
        if service not in self._services:
            key = f"svc_{service}"
            self._services[service] = np.array([bool(m.get(key)) for m in self.metas], dtype=bool)
        return self._services[service]

    def mask(self, filt: SearchFilter) -> np.ndarray | None:
        """Rows the filter allows; None when it allows everything."""
        if filt == SearchFilter():
            return None
        ok = np.ones(len(self.ids), dtype=bool)
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


def _doc_ranks(chunks: list[tuple[str, float, dict]]) -> dict[str, tuple[int, str, dict]]:
    """doc id -> (rank of its best chunk among documents, best chunk id, metadata)."""
    ranks: dict[str, tuple[int, str, dict]] = {}
    for cid, _, meta in chunks:
        doc_id = str(meta.get("doc_id"))
        if doc_id not in ranks:
            ranks[doc_id] = (len(ranks) + 1, cid, meta)
    return ranks


class HybridSearcher:
    """Searches one store; the keyword index is rebuilt only when the store has changed."""

    def __init__(self, store: KnowledgeStore, dense_weight: float = 1.0,
                 keyword_weight: float = 1.0, max_overfetch: int = MAX_OVERFETCH) -> None:
        self.store = store
        self.max_overfetch = max_overfetch
        self.dense_weight = dense_weight
        self.keyword_weight = keyword_weight
        self._chunks: _ChunkTable | None = None
        self._chunks_key: tuple[int, int] | None = None

    def _table(self) -> _ChunkTable:
        # count() catches writes by other processes; version catches same-size edits by ours.
        key = (self.store.count(), self.store.version)
        if self._chunks is None or key != self._chunks_key:
            self._chunks = _ChunkTable(self.store)
            self._chunks_key = key
        return self._chunks

    def _dense(self, vector: np.ndarray, n: int, filt: SearchFilter, table: _ChunkTable,
               allowed: np.ndarray | None) -> list[tuple[str, float, dict]]:
        """Nearest chunks that pass the filter, joined with their metadata."""
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
        if not query.strip() or self.store.count() == 0:
            return []
        table = self._table()
        allowed = table.mask(filt)
        vector = self.store.embedder.embed([query])[0]
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
