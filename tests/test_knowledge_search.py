"""Hybrid search, filters, de-duplication, the copilot tools and the `kb` CLI (no model: the
hashing embedder stands in for MiniLM through the same seam)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from bot.cli.kb import kb_app
from knowledge.corpus import demo_documents
from knowledge.hashing import HashingEmbedder
from knowledge.ingest import ingest_documents
from knowledge.kb import KnowledgeBase
from knowledge.keyword import BM25Index, tokenize
from knowledge.search import HybridSearcher, SearchFilter
from knowledge.store import KnowledgeStore
from tools.base import ToolRegistry, ToolStatus
from tools.knowledge import SearchIncidents, SuggestRunbooks

END = date(2026, 11, 1)


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeStore:
    store = KnowledgeStore.open(tmp_path_factory.mktemp("kb"), embedder=HashingEmbedder())
    ingest_documents(store, demo_documents(end=END))
    return store


@pytest.fixture(scope="module")
def searcher(demo_store: KnowledgeStore) -> HybridSearcher:
    return HybridSearcher(demo_store)


def test_tokenize_splits_alert_names_and_stems() -> None:
    assert tokenize("KubePodCrashLooping") == ["kubepodcrashloop", "kube", "pod", "crash",
                                               "loop"]
    assert tokenize("timeouts in the pool") == ["timeout", "pool"]
    index = BM25Index(["redis max clients reached", "postgres disk full", "unrelated"])
    assert int(index.scores("max number of clients").argmax()) == 0
    assert not index.scores("zzz").any()


def test_symptom_query_finds_the_incident_with_its_passage(searcher: HybridSearcher) -> None:
    hits = searcher.search("MISCONF Redis is configured to save RDB snapshots", 5)
    assert hits[0].id == "INC-1020"
    assert "MISCONF" in hits[0].passage
    assert 0 < hits[0].score <= 1


def test_one_hit_per_document(searcher: HybridSearcher) -> None:
    hits = searcher.search("checkout rollback deploy errors 500", 10)
    ids = [h.id for h in hits]
    assert len(ids) == len(set(ids)) == 10


def test_filters_by_service_kind_severity_and_dates(searcher: HybridSearcher) -> None:
    by_service = searcher.search("errors", 20, SearchFilter(services=("redis",)))
    assert by_service and all("redis" in h.metadata["services"].split(",") for h in by_service)
    runbooks = searcher.search("certificate expired", 5, SearchFilter(kinds=("runbook",)))
    assert runbooks[0].id in ("runbook-rotate-certificate", "runbook-exec-rotate-certificate")
    assert all(h.kind == "runbook" for h in runbooks)
    window = SearchFilter(kinds=("postmortem",), severities=("sev1",),
                          date_from=date(2026, 5, 1), date_to=date(2026, 8, 31))
    assert window.where() is not None and "$and" in window.where()
    hits = searcher.search("outage", 40, window)
    assert hits
    for h in hits:
        assert h.metadata["severity"] == "sev1"
        assert "2026-05-01" <= h.metadata["date"] <= "2026-08-31"


def test_chroma_where_gives_the_same_filtered_results(demo_store: KnowledgeStore,
                                                      searcher: HybridSearcher) -> None:
    in_chroma = HybridSearcher(demo_store, max_overfetch=0, exact=False)  # filter in Chroma
    filt = SearchFilter(services=("payment", "email"), kinds=("postmortem",),
                        severities=("sev1", "sev2"), date_from=date(2026, 1, 1))
    query = "certificate expired handshake failures"
    assert [h.id for h in in_chroma.search(query, 5, filt)] == \
        [h.id for h in searcher.search(query, 5, filt)]


def test_empty_query_and_no_match(searcher: HybridSearcher) -> None:
    assert searcher.search("   ", 5) == []
    assert searcher.search("anything", 5, SearchFilter(services=("nonexistent",))) == []


def test_search_incidents_tool(demo_store: KnowledgeStore) -> None:
    registry = ToolRegistry()
    registry.register(SearchIncidents(KnowledgeBase.from_store(demo_store)))
    result = registry.run("search_incidents", {
        "query": "ERR max number of clients reached from redis", "services": ["cart"], "k": 3})
    assert result.status is ToolStatus.OK
    first = result.findings[0]
    assert first.kind == "similar_incident" and first.service == "cart"
    assert "INC-1035" in first.text and "resolved by" in first.text
    assert result.data["incidents"][0]["resolution"]
    evidence = {e.id: e for e in result.evidence}
    assert evidence[first.evidence[0]].summary  # the matched passage
    assert evidence[first.evidence[0]].values["id"] == "INC-1035"


def test_suggest_runbooks_puts_the_alerts_runbook_first(demo_store: KnowledgeStore) -> None:
    tool = SuggestRunbooks(KnowledgeBase.from_store(demo_store))
    result = tool.run(tool.Params(query="writes failing", alerts=["RedisDiskFull"], k=3))
    assert result.status is ToolStatus.OK
    assert result.data["runbooks"][0]["id"] == "runbook-clear-disk"
    assert result.data["runbooks"][0]["alert_match"] is True
    assert all(f.kind == "runbook" for f in result.findings)
    assert len(result.findings) == len(result.evidence) == 3


@pytest.mark.parametrize("query, alerts", [("certificate expired TLS handshake", []),
                                           ("writes failing", ["RedisDiskFull"]),
                                           ("roll back the bad deploy", ["HighErrorRate"])])
def test_a_procedure_shows_once_with_its_executable_form(demo_store: KnowledgeStore, query: str,
                                                         alerts: list[str]) -> None:
    tool = SuggestRunbooks(KnowledgeBase.from_store(demo_store))
    runbooks = tool.run(tool.Params(query=query, alerts=alerts, k=5)).data["runbooks"]
    prose = [r["prose"] for r in runbooks if r["prose"]]
    assert len(prose) == len(set(prose))
    executable = [r["executable"] for r in runbooks if r["executable"]]
    assert len(executable) == len(set(executable)) >= 1
    first = runbooks[0]
    assert first["executable"] and first["prose"]  # the top procedure has both forms


def test_empty_store_is_no_data(tmp_path: Path) -> None:
    kb = KnowledgeBase.from_store(KnowledgeStore.open(tmp_path, embedder=HashingEmbedder()))
    for tool in (SearchIncidents(kb), SuggestRunbooks(kb)):
        result = tool.run(tool.Params(query="cart is down"))
        assert result.status is ToolStatus.NO_DATA
        assert "opscopilot kb seed" in result.summary


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("OPSCOPILOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("OPSCOPILOT_KB__MODEL", "hashing-384")
    monkeypatch.delenv("OPSCOPILOT_KB__CHROMA_URL", raising=False)
    return CliRunner()


def _app() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(kb_app, name="kb")
    return app


def test_cli_seed_search_stats(cli: CliRunner) -> None:
    app = _app()
    seeded = cli.invoke(app, ["kb", "seed"])
    assert seeded.exit_code == 0, seeded.output
    from knowledge.corpus import shop_runbooks

    assert f"{40 + len(shop_runbooks())} added" in seeded.output  # sandbox history + runbooks
    again = cli.invoke(app, ["kb", "seed"])
    assert "0 added" in again.output and "0 chunks written" in again.output
    found = cli.invoke(app, ["kb", "search", "browsers say your connection is not private",
                             "--json", "--k", "3", "--kind", "postmortem"])
    assert found.exit_code == 0, found.output
    hits = json.loads(found.stdout)
    assert hits[0]["id"] == "INC-1038"
    assert set(hits[0]) == {"id", "title", "kind", "score", "passage", "source"}
    text = cli.invoke(app, ["kb", "search", "redis failover", "--service", "redis"])
    assert text.exit_code == 0 and "1." in text.output
    stats = cli.invoke(app, ["kb", "stats", "--json"])
    info = json.loads(stats.stdout)
    assert info["by_kind"]["postmortem"] == 40 and info["model"] == "hashing-384"


def test_cli_user_errors_exit_2(cli: CliRunner, tmp_path: Path) -> None:
    app = _app()
    missing = cli.invoke(app, ["kb", "ingest", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "no such file" in missing.output
    bad = tmp_path / "bad.md"
    bad.write_text("---\ntitle: [x\n---\nbody", encoding="utf-8")
    only_bad = cli.invoke(app, ["kb", "ingest", str(bad)])
    assert only_bad.exit_code == 2 and "bad front matter" in only_bad.output
    good = tmp_path / "good.md"
    good.write_text("---\nid: X-1\ntitle: Cart down\n---\n\n## Summary\n\ncart was down\n",
                    encoding="utf-8")
    mixed = cli.invoke(app, ["kb", "ingest", str(bad), str(good)])
    assert mixed.exit_code == 0 and "1 added" in mixed.output and "skipped" in mixed.output
    assert cli.invoke(app, ["kb", "search", "x", "--since", "soon"]).exit_code == 2
    assert cli.invoke(app, ["kb", "search", "x", "--kind", "novel"]).exit_code == 2
    assert cli.invoke(app, ["kb", "ingest", str(good), "--kind", "memo"]).exit_code == 2


def test_cli_search_on_empty_store_says_seed(cli: CliRunner) -> None:
    result = cli.invoke(_app(), ["kb", "search", "anything"])
    assert result.exit_code == 0 and "kb seed" in result.output


def test_a_never_seeded_local_store_is_empty_without_opening_chroma(tmp_path: Path) -> None:
    from infra.settings import load_settings

    kb = KnowledgeBase.from_settings(load_settings(data_dir=tmp_path / "data",
                                                   cache_dir=tmp_path / "cache"))
    assert kb.is_empty()
    assert kb._store is None and not (tmp_path / "data" / "kb").exists()  # nothing opened
