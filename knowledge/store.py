"""The vector store: one Chroma collection of chunks, embedded locally or behind a Chroma server.

`KnowledgeStore.open(path=...)` uses an embedded `PersistentClient` (one writer process at a
time); `KnowledgeStore.open(url=...)` talks to `chroma run` through `HttpClient` (several
replicas). chromadb is imported inside functions only. Vectors are computed by our `Embedder`
and passed to Chroma explicitly; the collection also carries a registered embedding function
that delegates to the same model, so Chroma never falls back to its downloading ONNX default.

Each chunk's id is `<doc id>#<content hash>#<n>`: writing a document upserts its new chunks,
then deletes chunks of the same document with another hash. An interruption between the two
leaves both complete versions, which the next ingest cleans up; search shows one hit per document.

Every write bumps a generation number kept in the collection's metadata and stamps it on the
chunks it writes (`gen`); removals by this process are logged with theirs. A search index can
then catch up with a store by reading only the chunks newer than its generation (see
knowledge/search.py).

Errors:

    StoreError              the store cannot be opened or was built with another model
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import numpy as np

from knowledge.chunking import Chunk
from knowledge.documents import Document
from knowledge.embeddings import MODEL_NAME, Embedder, shared_embedder
from knowledge.hashing import HASHING_NAME, HashingEmbedder

if TYPE_CHECKING:
    from chromadb.api.models.Collection import Collection

log = logging.getLogger(__name__)

COLLECTION = "opscopilot_kb"
EF_NAME = "opscopilot-embedder"
TEXT_FIELDS = 600  # characters of root cause / resolution kept in chunk metadata
_PAGE = 5000
GEN_KEY = "opscopilot_generation"


def saved_generation(path: Path) -> tuple[str, int] | None:
    """(collection id, generation) of the on-disk store at `path`, read from Chroma's SQLite
    file read-only, without importing chromadb (about 0.8 s); None when there is no such store
    or the file does not look as expected (then the caller opens the store the usual way).

    Only an answer to "is my saved index still current?": a wrong None costs speed, never
    results, because the caller then opens Chroma and catches up.
    """
    import sqlite3

    db = path / "chroma.sqlite3"
    if not db.is_file():
        return None
    try:
        with sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True, timeout=1) as conn:
            row = conn.execute(
                "SELECT c.id, m.int_value FROM collections c LEFT JOIN collection_metadata m "
                "ON m.collection_id = c.id AND m.key = ? WHERE c.name = ?",
                (GEN_KEY, COLLECTION)).fetchone()
    except sqlite3.Error:
        return None
    if row is None:
        return None
    return str(row[0]), int(row[1] or 0)


class StoreError(RuntimeError):
    """The knowledge store cannot be used as asked; the message says why in one line."""


def embedder_for(model: str) -> Embedder:
    """The process-wide embedder for a model name saved in a collection's configuration."""
    if model == MODEL_NAME:
        return shared_embedder()
    if model == HASHING_NAME:
        return HashingEmbedder()
    raise StoreError(f"the knowledge store was built with unknown embedding model {model!r}")


_ef_class: type | None = None


def embedding_function_class() -> type:
    """Define and register (once per process) the Chroma embedding function.

    Chroma rebuilds a collection's embedding function from its saved config by name, so the
    class must be registered before any collection is opened; defining it lazily keeps chromadb
    out of module import.
    """
    global _ef_class
    if _ef_class is not None:
        return _ef_class
    from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
    from chromadb.utils.embedding_functions import register_embedding_function

    @register_embedding_function
    class OpsCopilotEmbeddingFunction(EmbeddingFunction[Documents]):
        """Delegates to `embedder_for(model)`; the model itself is cached once per process."""

        def __init__(self, model: str = MODEL_NAME) -> None:
            self.model = model

        def __call__(self, input: Documents) -> Embeddings:
            return list(embedder_for(self.model).embed(list(input)))

        @staticmethod
        def name() -> str:
            return EF_NAME

        def get_config(self) -> dict[str, Any]:
            return {"model": self.model}

        @staticmethod
        def build_from_config(config: dict[str, Any]) -> OpsCopilotEmbeddingFunction:
            return OpsCopilotEmbeddingFunction(str(config.get("model", MODEL_NAME)))

        def default_space(self) -> str:  # type: ignore[override]
            return "cosine"

    _ef_class = OpsCopilotEmbeddingFunction
    return _ef_class


def _chroma_settings() -> Any:
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False, allow_reset=False)


def _date_num(doc: Document) -> int:
    return int(doc.date.strftime("%Y%m%d")) if doc.date else 0


def chunk_metadata(doc: Document, chunk: Chunk, doc_hash: str, n_chunks: int) -> dict[str, Any]:
    """Flat metadata Chroma can filter on; services also as `svc_<name>` flags for `where`."""
    meta: dict[str, Any] = {
        "doc_id": doc.id, "doc_hash": doc_hash, "n_chunks": n_chunks, "ordinal": chunk.ordinal,
        "kind": doc.kind, "title": doc.title, "section": chunk.section, "heading": chunk.heading,
        "passage": chunk.text, "source": doc.source, "date": doc.date.isoformat() if doc.date
        else "", "date_num": _date_num(doc), "severity": doc.severity,
        "services": ",".join(doc.services), "alerts": ",".join(doc.alerts),
        "tags": ",".join(doc.tags),
        "root_cause": doc.root_cause[:TEXT_FIELDS], "resolution": doc.resolution[:TEXT_FIELDS],
    }
    for service in doc.services:
        meta[f"svc_{service}"] = True
    return meta


@dataclass
class StoredDoc:
    """What the store holds for one document id: chunk ids per content hash."""

    chunks_by_hash: dict[str, list[str]] = field(default_factory=dict)
    n_chunks: dict[str, int] = field(default_factory=dict)

    def is_current(self, doc_hash: str) -> bool:
        """Exactly one version, this one, with all its chunks."""
        return (list(self.chunks_by_hash) == [doc_hash]
                and len(self.chunks_by_hash[doc_hash]) == self.n_chunks[doc_hash])

    def stale_ids(self, doc_hash: str) -> list[str]:
        return [cid for h, ids in self.chunks_by_hash.items() if h != doc_hash for cid in ids]


class KnowledgeStore:
    """Chunks of postmortems and runbooks in one Chroma collection, with their vectors."""

    def __init__(self, collection: Collection, embedder: Embedder, location: str,
                 client: Any = None) -> None:
        self.collection = collection
        self.embedder = embedder
        self.location = location
        self.client = client
        self.version = 0  # bumped on every write by this process; search caches key on it
        self.opened_at_gen = self._stored_generation()
        self._removals: list[tuple[int, list[str]]] = []  # (generation, chunk ids) by this process
        self._own: set[int] = set()  # generations this process wrote
        self._gen = self.opened_at_gen

    @classmethod
    def open(cls, path: Path | None = None, url: str | None = None,
             embedder: Embedder | None = None) -> KnowledgeStore:
        """Open (creating when needed) the store at `path`, or on the Chroma server at `url`."""
        embedder = embedder or shared_embedder()
        ef_class = embedding_function_class()
        try:
            import chromadb

            if url:
                parsed = urlparse(url)
                if parsed.scheme not in ("http", "https") or not parsed.hostname:
                    raise StoreError(f"bad Chroma URL {url!r}: expected http://host:port")
                client = chromadb.HttpClient(
                    host=parsed.hostname, port=parsed.port or (443 if parsed.scheme == "https"
                                                               else 8000),
                    ssl=parsed.scheme == "https", settings=_chroma_settings())
                location = url
            elif path is not None:
                path.mkdir(parents=True, exist_ok=True)
                client = chromadb.PersistentClient(path=str(path), settings=_chroma_settings())
                location = str(path)
            else:
                raise StoreError("give the knowledge store a path or a Chroma server URL")
            collection = client.get_or_create_collection(
                COLLECTION, embedding_function=ef_class(embedder.name),
                configuration={"hnsw": {"space": "cosine"}},
            )
        except StoreError:
            raise
        except (ValueError, ConnectionError) as exc:  # a conflict, bad settings, no server
            raise StoreError(f"cannot open the knowledge store at {url or path}: "
                             f"{str(exc).splitlines()[0].strip(chr(39)) if str(exc) else exc!r}"
                             ) from None
        stored_model = (collection.configuration or {}).get("embedding_function")
        saved = getattr(stored_model, "model", None)
        if saved and saved != embedder.name:
            raise StoreError(f"the knowledge store at {url or path} was built with {saved}, "
                             f"not {embedder.name}: rebuild it or use the same model")
        return cls(collection, embedder, location, client)

    # -- generations ------------------------------------------------------------------------

    def _stored_generation(self) -> int:
        meta = self.collection.metadata or {}
        return int(meta.get(GEN_KEY, 0))

    def generation(self) -> int:
        """The store's generation as saved now (re-read: another process may have written)."""
        if self.client is not None:
            try:
                fresh = self.client.get_collection(self.collection.name,
                                                   embedding_function=self.collection._embedding_function)
                self._gen = max(self._gen, int((fresh.metadata or {}).get(GEN_KEY, 0)))
            except (ValueError, ConnectionError) as exc:  # deleted meanwhile, server gone
                log.warning("cannot re-read the knowledge store's generation: %s", exc)
        return self._gen

    def _next_generation(self) -> int:
        return self.generation() + 1

    def _save_generation(self, gen: int) -> None:
        self._gen = gen
        self._own.add(gen)
        self.collection.modify(metadata={**(self.collection.metadata or {}), GEN_KEY: gen})

    def removed_since(self, gen: int) -> list[str] | None:
        """Chunk ids this process removed after `gen`; None when its log does not reach back
        that far (the store was opened later, or another process wrote meanwhile)."""
        current = self.generation()
        if gen < self.opened_at_gen or any(g not in self._own for g in range(gen + 1, current + 1)):
            return None
        return [cid for g, ids in self._removals if g > gen for cid in ids]

    def records_since(self, gen: int) -> Iterable[tuple[str, dict[str, Any], str | None]]:
        """(id, metadata, text) of every chunk written after generation `gen`."""
        return self.iter_records(("metadatas", "documents"), where={"gen": {"$gt": gen}})

    def all_ids(self) -> set[str]:
        return set(self.collection.get(include=[])["ids"])

    # -- reading ----------------------------------------------------------------------------

    def count(self) -> int:
        """Number of chunks."""
        return self.collection.count()

    def iter_records(self, include: Sequence[str] = ("metadatas",),
                     where: dict[str, Any] | None = None
                     ) -> Iterable[tuple[str, dict[str, Any], str | None]]:
        """(chunk id, metadata, document text or None) for every chunk, page by page."""
        offset = 0
        while True:
            page = self.collection.get(include=list(include), limit=_PAGE,  # type: ignore[arg-type]
                                       offset=offset, where=where)
            ids = page["ids"]
            metas = page.get("metadatas") or [{}] * len(ids)
            texts = page.get("documents")
            docs: list[str | None] = list(texts) if texts else [None] * len(ids)
            for cid, meta, text in zip(ids, metas, docs, strict=True):
                yield cid, dict(meta or {}), text
            if len(ids) < _PAGE:
                return
            offset += _PAGE

    def vectors(self, ids: Sequence[str]) -> np.ndarray | None:
        """The stored vectors of `ids`, in that order (float32, one row each); None when one of
        them is gone (written over meanwhile: the caller then searches through Chroma)."""
        rows: list[np.ndarray] = []
        for start in range(0, len(ids), _PAGE):
            part = list(ids[start:start + _PAGE])
            page = self.collection.get(ids=part, include=["embeddings"])  # type: ignore[list-item]
            got = page.get("embeddings")
            found = dict(zip(page["ids"], got if got is not None else [], strict=True))
            if any(cid not in found for cid in part):
                return None
            rows.extend(np.asarray(found[cid], dtype=np.float32) for cid in part)
        return np.vstack(rows) if rows else np.zeros((0, 0), dtype=np.float32)

    def stored_docs(self) -> dict[str, StoredDoc]:
        """Every document id in the store, with its chunk ids grouped by content hash."""
        out: dict[str, StoredDoc] = {}
        for cid, meta, _ in self.iter_records():
            entry = out.setdefault(str(meta.get("doc_id")), StoredDoc())
            doc_hash = str(meta.get("doc_hash"))
            entry.chunks_by_hash.setdefault(doc_hash, []).append(cid)
            entry.n_chunks[doc_hash] = int(meta.get("n_chunks", 0))
        return out

    def nearest(self, vector: np.ndarray, n: int, where: dict[str, Any] | None = None
                ) -> list[tuple[str, float]]:
        """Nearest chunks as (chunk id, cosine distance), closest first; ids only, so cheap."""
        total = self.count()
        if total == 0 or n <= 0:
            return []
        result = self.collection.query(
            query_embeddings=[vector.astype(np.float32).tolist()], n_results=min(n, total),
            where=where, include=["distances"],  # type: ignore[list-item]
        )
        distances = (result.get("distances") or [[]])[0]
        return [(cid, float(d)) for cid, d in zip(result["ids"][0], distances, strict=True)]

    def stats(self) -> dict[str, Any]:
        """Documents per kind, chunk count, services and the date span."""
        kinds: dict[str, set[str]] = {}
        services: dict[str, int] = {}
        dates: list[str] = []
        chunks = 0
        for _, meta, _ in self.iter_records():
            chunks += 1
            doc_id = str(meta.get("doc_id"))
            if doc_id in kinds.setdefault(str(meta.get("kind")), set()):
                continue
            kinds[str(meta.get("kind"))].add(doc_id)
            for service in filter(None, str(meta.get("services", "")).split(",")):
                services[service] = services.get(service, 0) + 1
            if meta.get("date"):
                dates.append(str(meta["date"]))
        return {
            "location": self.location, "model": self.embedder.name, "chunks": chunks,
            "documents": sum(len(v) for v in kinds.values()),
            "by_kind": {k: len(v) for k, v in sorted(kinds.items())},
            "services": dict(sorted(services.items(), key=lambda kv: (-kv[1], kv[0]))),
            "first_date": min(dates) if dates else None, "last_date": max(dates) if dates else None,
        }

    # -- writing ----------------------------------------------------------------------------

    def write(self, batch: Sequence[tuple[Document, list[Chunk]]],
              stored: dict[str, StoredDoc] | None = None) -> None:
        """Upsert the chunks of several documents in one call, then drop their older versions."""
        if not batch:
            return
        ids: list[str] = []
        texts: list[str] = []
        metas: list[dict[str, Any]] = []
        hashes: dict[str, str] = {}
        gen = self._next_generation()
        for doc, chunks in batch:
            doc_hash = doc.content_hash()
            hashes[doc.id] = doc_hash
            for chunk in chunks:
                ids.append(f"{doc.id}#{doc_hash}#{chunk.ordinal}")
                texts.append(chunk.indexed_text)
                metas.append({**chunk_metadata(doc, chunk, doc_hash, len(chunks)), "gen": gen})
        vectors = self.embedder.embed(texts)
        self.collection.upsert(ids=ids, embeddings=vectors, documents=texts,  # type: ignore[arg-type]
                               metadatas=metas)  # type: ignore[arg-type]
        self.version += 1
        stored = stored if stored is not None else self._stored_for(list(hashes))
        stale = [cid for doc_id, h in hashes.items() if doc_id in stored
                 for cid in stored[doc_id].stale_ids(h)]
        if stale:
            self.collection.delete(ids=stale)
            self._removals.append((gen, stale))
        self._save_generation(gen)

    def _stored_for(self, doc_ids: list[str]) -> dict[str, StoredDoc]:
        out: dict[str, StoredDoc] = {}
        where: Any = {"doc_id": {"$in": list(doc_ids)}}
        page = self.collection.get(where=where, include=["metadatas"])
        for cid, meta in zip(page["ids"], page["metadatas"] or [], strict=True):
            entry = out.setdefault(str(meta["doc_id"]), StoredDoc())
            entry.chunks_by_hash.setdefault(str(meta["doc_hash"]), []).append(cid)
            entry.n_chunks[str(meta["doc_hash"])] = int(meta.get("n_chunks", 0))  # type: ignore[arg-type]
        return out

    def remove(self, doc_ids: Sequence[str]) -> int:
        """Delete every chunk of these documents; returns how many chunks went."""
        if not doc_ids:
            return 0
        where: Any = {"doc_id": {"$in": list(doc_ids)}}
        page = self.collection.get(where=where, include=[])
        if page["ids"]:
            gen = self._next_generation()
            self.collection.delete(ids=page["ids"])
            self._removals.append((gen, list(page["ids"])))
            self._save_generation(gen)
            self.version += 1
        return len(page["ids"])
