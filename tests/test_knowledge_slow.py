"""The knowledge base with the real MiniLM model, a fresh process, and a real Chroma server."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from knowledge.corpus import demo_documents
from knowledge.hashing import HashingEmbedder
from knowledge.ingest import ingest_documents
from knowledge.kb import KnowledgeBase
from knowledge.search import HybridSearcher, SearchFilter
from knowledge.store import KnowledgeStore
from tests.servers import free_port, wait_until_ready
from tools.base import ToolRegistry, ToolStatus
from tools.knowledge import SearchIncidents, SuggestRunbooks

REPO = Path(__file__).resolve().parents[1]
CHROMA = REPO / ".venv" / "bin" / "chroma"
END = date(2026, 11, 1)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def minilm_store(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeStore:
    store = KnowledgeStore.open(tmp_path_factory.mktemp("kb-minilm"))
    ingest_documents(store, demo_documents(end=END))
    return store


@pytest.mark.parametrize(("query", "expected"), [
    ("cart pods keep getting OOMKilled every few hours", "INC-1006"),
    ("every page is exactly 800ms slower, no errors", "INC-1012"),
    ("postgres says no space left on device", "INC-1019"),
    ("payment provider returning 401 after the deploy", "INC-1024"),
    ("FATAL sorry too many clients already", "INC-1034"),
])
def test_symptoms_find_the_past_incident(minilm_store: KnowledgeStore, query: str,
                                         expected: str) -> None:
    hits = HybridSearcher(minilm_store).search(query, 5, SearchFilter(kinds=("postmortem",)))
    assert hits[0].id == expected


def test_tools_with_the_model(minilm_store: KnowledgeStore) -> None:
    kb = KnowledgeBase.from_store(minilm_store)
    registry = ToolRegistry()
    registry.register(SearchIncidents(kb))
    registry.register(SuggestRunbooks(kb))
    incidents = registry.run("search_incidents", {"query": "checkout 500 errors right after a "
                                                           "release", "services": ["checkout"]})
    assert incidents.status is ToolStatus.OK
    assert incidents.data["incidents"][0]["id"] == "INC-1023"
    runbooks = registry.run("suggest_runbooks", {"query": "how do I roll back a bad release"})
    first = runbooks.data["runbooks"][0]  # the procedure, in its prose or executable form
    assert (first["prose"], first["executable"]) == ("runbook-roll-back-a-deploy",
                                                     "roll-back-deploy")


def test_a_fresh_process_restores_the_embedding_function(minilm_store: KnowledgeStore) -> None:
    """Chroma rebuilds the embedding function from the saved config; nothing is downloaded."""
    script = (
        "from pathlib import Path\n"
        "from knowledge.store import KnowledgeStore\n"
        f"store = KnowledgeStore.open(Path({minilm_store.location!r}))\n"
        "found = store.collection.query(query_texts=['browsers warn connection not private'],"
        " n_results=1, include=['metadatas'])\n"
        "print(found['metadatas'][0][0]['doc_id'])\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() in {"INC-1038", "runbook-rotate-certificate"}


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[str]:
    if not CHROMA.exists() and not shutil.which("chroma"):
        pytest.skip("the chroma CLI is not installed in the venv")
    port = free_port()
    log = (tmp_path / "chroma.log").open("w")
    proc = subprocess.Popen(
        [str(CHROMA if CHROMA.exists() else shutil.which("chroma")), "run", "--path",
         str(tmp_path / "server"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "ANONYMIZED_TELEMETRY": "False"})
    url = f"http://127.0.0.1:{port}"
    try:
        if not wait_until_ready(f"{url}/api/v2/heartbeat", proc):
            pytest.fail("chroma run did not start: " + (tmp_path / "chroma.log").read_text())
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_against_a_chroma_server(chroma_server: str) -> None:
    store = KnowledgeStore.open(url=chroma_server, embedder=HashingEmbedder())
    docs = demo_documents(end=END)
    first = ingest_documents(store, docs)
    assert len(first.added) == len(docs) > 50
    again = ingest_documents(store, demo_documents(end=END))
    assert again.written == 0
    hits = HybridSearcher(store).search("MISCONF Redis is configured to save RDB snapshots", 3,
                                        SearchFilter(services=("redis",), kinds=("postmortem",)))
    assert hits[0].id == "INC-1020"
    assert KnowledgeStore.open(url=chroma_server, embedder=HashingEmbedder()).count() \
        == store.count()
