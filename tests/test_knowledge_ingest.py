"""Converters, chunking and ingestion into a real Chroma store (hashing embedder, no model)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from knowledge.chunking import chunk_document, section_key
from knowledge.converters import load_file, parse_front_matter, public_postmortems
from knowledge.documents import Document, DocumentError
from knowledge.hashing import HashingEmbedder
from knowledge.history import generate_history, to_markdown
from knowledge.ingest import collect, ingest_documents, ingest_paths
from knowledge.store import KnowledgeStore, StoreError

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"

POSTMORTEM = """---
id: PM-7
title: Checkout errors after deploy
date: 2026-03-04
severity: SEV-1
services: [checkout, cart]
root cause: a missing field in the tax request
resolution: rolled back to v2.13
action items:
  - contract tests
---

# Checkout errors after deploy

## Summary

Checkout returned 500 for most orders.

## Timeline

- 10:02 alert fired
- 10:15 rolled back

## Root cause

Release v2.14 required a region field.

## Resolution

Rolled checkout back to v2.13.
"""


@pytest.fixture
def store(tmp_path: Path) -> KnowledgeStore:
    return KnowledgeStore.open(tmp_path / "kb", embedder=HashingEmbedder())


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_front_matter_fields_are_read(tmp_path: Path) -> None:
    [doc] = load_file(write(tmp_path / "pm.md", POSTMORTEM))
    assert (doc.id, doc.kind, doc.severity) == ("PM-7", "postmortem", "sev1")
    assert doc.date == date(2026, 3, 4)
    assert doc.services == ["checkout", "cart"]
    assert doc.root_cause == "a missing field in the tax request"
    assert doc.action_items == ["contract tests"]


def test_bad_front_matter_is_a_one_line_error() -> None:
    with pytest.raises(DocumentError, match="bad front matter"):
        parse_front_matter("---\ntitle: [unclosed\n---\nbody\n")
    with pytest.raises(DocumentError, match="bad date"):
        load_file_text = "---\ndate: yesterday\n---\n\n## Summary\n\nx\n"
        from knowledge.converters import markdown_document

        markdown_document(load_file_text, Path("x.md"))


def test_chunks_keep_sections_addressable(tmp_path: Path) -> None:
    [doc] = load_file(write(tmp_path / "pm.md", POSTMORTEM))
    chunks = chunk_document(doc)
    assert [c.section for c in chunks] == ["summary", "timeline", "root_cause", "resolution",
                                           "action_items"]
    assert chunks[3].text == "Rolled checkout back to v2.13."
    assert chunks[3].indexed_text.startswith("Checkout errors after deploy")
    assert section_key("Root Cause Analysis") == "root_cause"


def test_long_sections_are_windowed_without_crossing_headings() -> None:
    body = "## Summary\n\n" + " ".join(f"w{i}" for i in range(300)) + "\n\n## Resolution\n\nok"
    chunks = chunk_document(Document("d", "postmortem", "T", body))
    assert [c.section for c in chunks].count("summary") == 3
    assert chunks[-1].section == "resolution" and chunks[-1].text == "ok"
    assert all(len(c.text.split()) <= 120 for c in chunks)


def test_json_and_csv_exports(tmp_path: Path) -> None:
    records = {"incidents": [{"id": "PD-1", "title": "Redis down", "service": "redis",
                              "priority": "P1", "created_at": "2026-01-02T03:04:05Z",
                              "resolution": "failed over", "timeline": [
                                  {"time": "03:04", "text": "paged"}]}]}
    [doc] = load_file(write(tmp_path / "x.json", json.dumps(records)))
    assert (doc.id, doc.severity, doc.services, doc.date) == ("PD-1", "sev1", ["redis"],
                                                              date(2026, 1, 2))
    assert "## Timeline" in doc.body and "## Resolution" in doc.body
    csv_text = "id,title,severity,services,root_cause\nJ-9,Disk full,sev2,\"postgres,email\",WAL\n"
    [row] = load_file(write(tmp_path / "x.csv", csv_text))
    assert (row.id, row.services, row.root_cause) == ("J-9", ["postgres", "email"], "WAL")
    with pytest.raises(DocumentError, match="bad JSON"):
        load_file(write(tmp_path / "bad.json", "{nope"))


def test_public_list_format() -> None:
    text = ("## Config Errors\n\n[Acme](https://a.example/1). A bad config took down the API.\n\n"
            "[Acme](https://a.example/2). DNS broke. It was bad.\n\n## Contributors\n\n"
            "[Someone](https://x.example). Thanks.\n")
    docs = public_postmortems(text, "list.md")
    assert [d.id for d in docs] == ["public-acme-1", "public-acme-2"]
    assert docs[1].title == "Acme: DNS broke." and docs[1].source == "https://a.example/2"
    assert docs[0].tags == ["config errors"]


def test_alert_runbook_takes_its_name_from_the_file(tmp_path: Path) -> None:
    text = "---\ntitle: CPU Throttling High\nweight: 20\n---\n\n# CPU Throttling High\n\n" \
           "## Meaning\n\nProcesses are throttled.\n\n## Mitigation\n\nRaise limits.\n"
    [doc] = load_file(write(tmp_path / "runbooks" / "kubernetes" / "CPUThrottlingHigh.md", text))
    assert (doc.id, doc.kind, doc.alerts) == ("runbook-CPUThrottlingHigh", "runbook",
                                              ["CPUThrottlingHigh"])


def test_reingest_changes_nothing_and_edits_replace_chunks(store: KnowledgeStore,
                                                           tmp_path: Path) -> None:
    path = write(tmp_path / "docs" / "pm.md", POSTMORTEM)
    first = ingest_paths(store, [tmp_path / "docs"])
    assert first.added == ["PM-7"] and first.chunks == 5
    before = sorted(store.collection.get()["ids"])
    again = ingest_paths(store, [tmp_path / "docs"])
    assert again.unchanged == ["PM-7"] and again.written == 0
    assert sorted(store.collection.get()["ids"]) == before
    write(path, POSTMORTEM.replace("Rolled checkout back to v2.13.", "Rolled back; fixed cart."))
    edited = ingest_paths(store, [tmp_path / "docs"])
    assert edited.updated == ["PM-7"]
    after = store.collection.get(include=["metadatas"])
    assert len(after["ids"]) == 5 and not set(after["ids"]) & set(before)
    assert {m["doc_hash"] for m in after["metadatas"]} == {after["metadatas"][0]["doc_hash"]}


def test_interrupted_update_is_cleaned_up_by_the_next_ingest(store: KnowledgeStore) -> None:
    old = Document("D", "runbook", "Restart", "## Steps\n\nrestart it")
    new = Document("D", "runbook", "Restart", "## Steps\n\nrestart it gently")
    ingest_documents(store, [old])
    store.write([(new, chunk_document(new))], stored={})  # upsert done, delete never ran
    assert len(store.stored_docs()["D"].chunks_by_hash) == 2
    report = ingest_documents(store, [new])
    assert report.updated == ["D"]
    assert list(store.stored_docs()["D"].chunks_by_hash) == [new.content_hash()]


def test_bad_files_are_skipped_with_reasons(store: KnowledgeStore, tmp_path: Path) -> None:
    write(tmp_path / "in" / "good.md", POSTMORTEM)
    write(tmp_path / "in" / "bad.md", "---\ntitle: [x\n---\nbody")
    write(tmp_path / "in" / "empty.md", "---\ntitle: nothing\n---\n")
    write(tmp_path / "in" / "z-dup.md", POSTMORTEM)
    (tmp_path / "in" / "bin.md").write_bytes(b"\xff\xfe\x00bad")
    write(tmp_path / "in" / "_index.md", "---\ntitle: group\n---\n")
    report = ingest_paths(store, [tmp_path / "in"])
    reasons = {Path(f).name: r for f, r in report.skipped}
    assert report.written == 1
    assert set(reasons) == {"bad.md", "empty.md", "z-dup.md", "bin.md"}
    assert "front matter" in reasons["bad.md"] and "duplicate id" in reasons["z-dup.md"]
    with pytest.raises(FileNotFoundError):
        collect([tmp_path / "missing"])


def test_store_refuses_another_model(tmp_path: Path) -> None:
    KnowledgeStore.open(tmp_path / "kb", embedder=HashingEmbedder())

    class Other(HashingEmbedder):
        name = "all-MiniLM-L6-v2"

    with pytest.raises(StoreError, match="built with hashing-384"):
        KnowledgeStore.open(tmp_path / "kb", embedder=Other())


def test_history_is_deterministic_and_structured(tmp_path: Path) -> None:
    end = date(2026, 11, 1)
    docs = generate_history(7, end)
    assert len(docs) == 40 and docs == generate_history(7, end)
    assert [d.body for d in docs] != [d.body for d in generate_history(8, end)]
    assert all(end.replace(year=end.year - 1) <= d.date < end for d in docs)
    faults = {d.tags[0] for d in docs}
    assert len(faults) == 9
    [back] = load_file(write(tmp_path / "h.md", to_markdown(docs[0])))
    assert (back.id, back.services, back.severity) == (docs[0].id, docs[0].services,
                                                       docs[0].severity)
    sections = [c.section for c in chunk_document(back)]
    for key in ("summary", "impact", "timeline", "root_cause", "resolution", "action_items"):
        assert key in sections


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared data (<repo>/../shared/data) is absent")
def test_shared_corpus_converts() -> None:
    from knowledge.corpus import public_documents

    docs = public_documents()
    runbooks = [d for d in docs if d.kind == "runbook"]
    assert len(docs) - len(runbooks) > 150 and len(runbooks) > 90
    assert len({d.id for d in docs}) == len(docs)
    assert "runbook-KubePodCrashLooping" in {d.id for d in runbooks}


def test_executable_runbooks_are_ingested_with_their_steps(tmp_path: Path) -> None:
    from knowledge.corpus import RUNBOOKS_DIR, shop_runbooks
    from knowledge.search import HybridSearcher, SearchFilter

    library = sorted((RUNBOOKS_DIR / "library").glob("*.yaml"))
    assert len(library) >= 10
    docs = {d.id: d for d in shop_runbooks()}
    rollback = docs["runbook-exec-roll-back-deploy"]
    assert rollback.kind == "runbook" and "executable" in rollback.tags
    assert "`helm rollback {release} {revision}" in rollback.body  # the step exactly as written
    assert "HighErrorRate" in rollback.alerts
    store = KnowledgeStore.open(tmp_path / "kb", embedder=HashingEmbedder())
    ingest_documents(store, list(docs.values()))
    hits = HybridSearcher(store).search("roll back the bad helm release of checkout", 3,
                                        SearchFilter(kinds=("runbook",)))
    assert "runbook-exec-roll-back-deploy" in [h.id for h in hits]


@pytest.mark.parametrize("text, reason", [
    ("name: x\nsteps: [\n", "not valid YAML at line"),
    ("services:\n  web:\n    image: nginx\n", "not an executable runbook"),
    ("name: x\nwhen: [a]\nsteps: []\n", "`when` must be a mapping"),
])
def test_yaml_that_is_not_a_runbook_is_a_one_line_error(tmp_path: Path, text: str,
                                                        reason: str) -> None:
    path = tmp_path / "thing.yaml"
    path.write_text(text)
    with pytest.raises(DocumentError, match=reason):
        load_file(path)
