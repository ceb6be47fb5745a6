"""The keyword index kept in step with the store: incremental catch-up equals a rebuild, the
saved index is reloaded by a new process, and writes by another process are noticed."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from knowledge.corpus import demo_documents
from knowledge.hashing import HashingEmbedder
from knowledge.ingest import ingest_documents
from knowledge.kb import KnowledgeBase
from knowledge.keyword import BM25Index
from knowledge.search import ChunkTable, HybridSearcher, SearchFilter
from knowledge.store import KnowledgeStore

END = date(2026, 11, 1)
QUERIES = ("redis max clients", "checkout deploy rollback errors", "disk full postgres",
           "certificate expired TLS handshake", "memory leak OOMKilled")


def keyword_view(table: ChunkTable, query: str) -> dict[str, float]:
    return {cid: round(score, 4) for cid, score, _ in table.keyword(query, 50, None)}


def test_bm25_add_and_remove_score_like_a_rebuild() -> None:
    texts = ["redis max clients reached", "postgres disk full", "unrelated words",
             "redis disk full again", "checkout errors after deploy"]
    grown = BM25Index(texts[:2])
    grown.add(texts[2:] + ["to be removed redis"])
    grown.remove([5])
    rebuilt = BM25Index(texts)
    for query in ("redis full", "deploy errors", "nothing matches"):
        assert np.allclose(grown.scores(query)[:5], rebuilt.scores(query))
        assert grown.scores(query)[5] == 0
    compact, new_rows = grown.compacted()
    assert list(new_rows) == [0, 1, 2, 3, 4, -1]
    assert np.allclose(compact.scores("redis full"), rebuilt.scores("redis full"))


def test_catching_up_equals_rebuilding(tmp_path: Path) -> None:
    docs = demo_documents(end=END)
    store = KnowledgeStore.open(tmp_path, embedder=HashingEmbedder())
    ingest_documents(store, docs[:40])
    before = ChunkTable.build(store)
    # add new documents, edit one, remove another
    edited = dataclasses.replace(docs[0], body=docs[0].body + "\n\nAlso: redis max clients.")
    ingest_documents(store, [*docs[40:], edited])
    store.remove([docs[1].id])
    caught_up = before.caught_up(store)
    assert caught_up is not before
    rebuilt = ChunkTable.build(store)
    assert caught_up.live == rebuilt.live == store.count()
    assert set(caught_up.row) == set(rebuilt.row)
    for query in QUERIES:
        assert keyword_view(caught_up, query) == keyword_view(rebuilt, query)
    assert caught_up.caught_up(store) is caught_up  # nothing changed since: same table


def test_saved_index_is_loaded_and_caught_up_by_a_new_process(tmp_path: Path, settings) -> None:
    settings = settings.model_copy(update={
        "data_dir": tmp_path / "data", "cache_dir": tmp_path / "cache",
        "kb": settings.kb.model_copy(update={"model": "hashing-384"})})
    docs = demo_documents(end=END)
    kb = KnowledgeBase.from_settings(settings, embedder=HashingEmbedder())
    ingest_documents(kb.store, docs[:30])
    kb.refresh_index()
    files = list((tmp_path / "cache" / "kb-index").glob("*.pkl"))
    assert len(files) == 1
    saved_gen = ChunkTable.load(files[0], kb.searcher._fingerprint())
    assert saved_gen is not None and saved_gen.live == kb.store.count()

    # a "new process": a new store object, then more documents written before its first search
    ingest_documents(kb.store, docs[30:])
    later = KnowledgeBase.from_settings(settings, embedder=HashingEmbedder())
    table = later.searcher._table()
    assert table.live == later.store.count()
    assert {h.id for h in later.search("redis max clients", 5)} == {
        h.id for h in HybridSearcher(later.store).search("redis max clients", 5)}


def test_writes_by_another_process_are_noticed(tmp_path: Path) -> None:
    docs = demo_documents(end=END)
    mine = KnowledgeStore.open(tmp_path, embedder=HashingEmbedder())
    ingest_documents(mine, docs[:20])
    searcher = HybridSearcher(mine, recheck_s=0)
    first = searcher._table()
    other = KnowledgeStore.open(tmp_path, embedder=HashingEmbedder())
    ingest_documents(other, docs[20:30])
    other.remove([docs[0].id])
    assert mine.removed_since(first.gen) is None  # not our writes: ids must be compared
    table = searcher._table()
    assert table.live == other.count()
    assert not any(cid.startswith(f"{docs[0].id}#") for cid in table.row)


def test_a_corrupt_or_foreign_index_file_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "index.pkl"
    path.write_bytes(b"not a pickle")
    assert ChunkTable.load(path, "x") is None
    ChunkTable(3).save(path, "store-a")
    assert ChunkTable.load(path, "store-b") is None
    loaded = ChunkTable.load(path, "store-a")
    assert loaded is not None and loaded.gen == 3


@pytest.mark.parametrize("n_segments", [12])
def test_many_small_writes_are_compacted(tmp_path: Path, n_segments: int) -> None:
    docs = demo_documents(end=END)
    store = KnowledgeStore.open(tmp_path, embedder=HashingEmbedder())
    table = ChunkTable.build(store)
    for i in range(n_segments):
        ingest_documents(store, docs[i * 3:(i + 1) * 3])
        table = table.caught_up(store)
    assert len(table.index.segments) <= 8
    rebuilt = ChunkTable.build(store)
    for query in QUERIES:
        assert keyword_view(table, query) == keyword_view(rebuilt, query)


_CHILD = """
import json, sys
from infra.settings import load_settings
from knowledge.kb import KnowledgeBase
from knowledge.search import SearchFilter
kb = KnowledgeBase.from_settings(load_settings())
found = {q: [h.id for h in kb.search(q, 5)] for q in sys.argv[1:]}
pm = SearchFilter(kinds=("postmortem",))
found["postmortems"] = [h.id for h in kb.search(sys.argv[1], 5, pm)]
print(json.dumps({"found": found, "empty": kb.is_empty(), "chromadb": "chromadb" in sys.modules}))
"""


def _child_search(tmp_path: Path, *queries: str) -> dict:
    import json
    import os
    import subprocess
    import sys

    env = os.environ | {"OPSCOPILOT_DATA_DIR": str(tmp_path / "data"),
                        "OPSCOPILOT_CACHE_DIR": str(tmp_path / "cache"),
                        "OPSCOPILOT_KB__MODEL": "hashing-384"}
    done = subprocess.run([sys.executable, "-c", _CHILD, *queries], env=env, check=True,
                          capture_output=True, text=True, timeout=120)
    return json.loads(done.stdout)


def test_a_current_saved_index_answers_without_opening_chroma(tmp_path: Path, settings) -> None:
    """A process whose saved table matches the store's generation searches it alone (no
    chromadb import, ~0.8 s saved on a cold `ask`) with the same results as the store; once
    another process writes, the next process opens the store and sees the new documents."""
    settings = settings.model_copy(update={
        "data_dir": tmp_path / "data", "cache_dir": tmp_path / "cache",
        "kb": settings.kb.model_copy(update={"model": "hashing-384"})})
    docs = demo_documents(end=END)
    kb = KnowledgeBase.from_settings(settings, embedder=HashingEmbedder())
    kb.ingest(docs[:40])
    kb.searcher.flush()

    def online(queries: tuple[str, ...]) -> dict[str, list[str]]:
        fresh = HybridSearcher(KnowledgeStore.open(tmp_path / "data" / "kb",
                                                   embedder=HashingEmbedder()), exact=False)
        out = {q: [h.id for h in fresh.search(q, 5)] for q in queries}
        out["postmortems"] = [h.id for h in fresh.search(queries[0], 5, SearchFilter(
            kinds=("postmortem",)))]
        return out

    child = _child_search(tmp_path, *QUERIES)
    assert child["chromadb"] is False and child["empty"] is False
    assert child["found"] == online(QUERIES)

    # another writer that does not refresh the saved table: it is now behind the store
    ingest_documents(KnowledgeStore.open(tmp_path / "data" / "kb", embedder=HashingEmbedder()),
                     docs[40:])
    child = _child_search(tmp_path, *QUERIES)
    assert child["chromadb"] is True  # the table was behind: the store was opened
    assert child["found"] == online(QUERIES)
