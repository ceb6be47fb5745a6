"""Knowledge-base speed: ingest rate (docs/s) and query latency at 10,000 synthetic documents.

    .venv/bin/python -m evals.bench_kb [--docs 10000] [--queries 100] [--store DIR]
                                       [--model all-MiniLM-L6-v2|hashing-384]

Synthetic postmortems (two to three chunks each) are built from the sandbox incident facts with
random services, numbers and wording. Latency is end to end (`HybridSearcher.search`: query
embedding + Chroma HNSW + BM25 + fusion), measured after the keyword index is built; the parts
are timed separately too. Target: p50 < 50 ms.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from knowledge.documents import Document
from knowledge.history_specs import SPECS
from knowledge.ingest import ingest_documents
from knowledge.kb import embedder_for
from knowledge.search import HybridSearcher, SearchFilter
from knowledge.store import KnowledgeStore

SERVICES = ("frontend", "cart", "checkout", "payment", "currency", "shipping", "email", "catalog",
            "recommendation", "ad", "redis", "postgres")
OPENERS = ("On-call noticed that", "Customers reported that", "Monitoring showed that",
           "During the evening peak", "Right after a config change")


def synthetic_documents(n: int, seed: int = 1) -> list[Document]:
    rng = random.Random(seed)
    start = date(2024, 1, 1)
    docs = []
    for i in range(n):
        spec = rng.choice(SPECS)
        service = rng.choice(SERVICES)
        symptom = spec.symptom.replace(spec.service, service)
        body = (f"## Summary\n\n{rng.choice(OPENERS)} {symptom}. Impact lasted "
                f"{rng.randint(5, 300)} minutes for {rng.randint(1, 90)}% of requests.\n\n"
                f"## Root cause\n\n{spec.cause.replace(spec.service, service)}.\n\n"
                f"## Resolution\n\nWe {spec.fix}.")
        docs.append(Document(
            id=f"SYN-{i:05d}", kind="postmortem", title=f"{spec.title} ({service})",
            body=body, date=start + timedelta(days=rng.randint(0, 700)),
            severity=rng.choice(("sev1", "sev2", "sev3")), services=[service],
            resolution=f"We {spec.fix}.", tags=[spec.fault]))
    return docs


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000, q))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--store", type=Path, help="store folder to (re)use")
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    args = parser.parse_args(argv)

    embedder = embedder_for(args.model)
    embedder.embed(["warm up the model"])
    store_dir = args.store or Path(tempfile.mkdtemp(prefix="kb-bench-"))
    store = KnowledgeStore.open(store_dir, embedder=embedder)
    docs = synthetic_documents(args.docs)
    t0 = time.perf_counter()
    report = ingest_documents(store, docs, batch_docs=128)
    took = time.perf_counter() - t0
    print(f"ingest: {report.summary()} in {took:.1f} s = {len(report.added) / took:.0f} docs/s, "
          f"{report.chunks / took:.0f} chunks/s ({args.model})" if report.added else
          f"ingest: all {len(docs)} documents already stored ({took:.1f} s)")
    t0 = time.perf_counter()
    again = ingest_documents(store, docs)
    took = time.perf_counter() - t0
    print(f"re-ingest (nothing changed): {again.summary()} in {took:.1f} s = "
          f"{len(docs) / took:.0f} docs/s")

    index_file = store_dir.parent / f"{store_dir.name}-index.pkl"
    index_file.unlink(missing_ok=True)
    searcher = HybridSearcher(store, index_file=index_file)
    t0 = time.perf_counter()
    searcher.search("warm up", 5)
    print(f"first search, no saved index (reads all {store.count()} chunks back, builds BM25): "
          f"{(time.perf_counter() - t0) * 1000:.0f} ms")
    searcher.flush()
    restarted = HybridSearcher(store, index_file=index_file)
    t0 = time.perf_counter()
    restarted.search("warm up", 5)
    size_mib = index_file.stat().st_size / 2**20
    print(f"first search after a restart (loads the saved index, {size_mib:.0f} MiB): "
          f"{(time.perf_counter() - t0) * 1000:.0f} ms")
    extra = synthetic_documents(args.docs + 100)[args.docs:]
    ingest_documents(store, extra)
    t0 = time.perf_counter()
    restarted.search("warm up", 5)
    print(f"first search after ingesting 100 more documents (catches up with them): "
          f"{(time.perf_counter() - t0) * 1000:.0f} ms")
    restarted.flush()
    rng = random.Random(2)
    queries = [rng.choice(SPECS).symptom for _ in range(args.queries)]
    total, embed, dense, keyword = [], [], [], []
    for q in queries:
        t0 = time.perf_counter()
        searcher.search(q, 5)
        total.append(time.perf_counter() - t0)
    for q in queries[:30]:  # the parts, for the record
        t0 = time.perf_counter()
        vec = embedder.embed([q])[0]
        t1 = time.perf_counter()
        store.nearest(vec, 60)
        t2 = time.perf_counter()
        searcher._table().keyword(q, 60, None)  # noqa: SLF001
        t3 = time.perf_counter()
        embed.append(t1 - t0)
        dense.append(t2 - t1)
        keyword.append(t3 - t2)
    filtered = []
    filt = SearchFilter(services=("checkout",), severities=("sev1", "sev2"),
                        date_from=date(2024, 6, 1))
    for q in queries[:30]:
        t0 = time.perf_counter()
        searcher.search(q, 5, filt)
        filtered.append(time.perf_counter() - t0)
    print(f"search latency at {len(docs)} docs / {store.count()} chunks, {len(total)} queries: "
          f"p50 {percentile(total, 50):.1f} ms, p95 {percentile(total, 95):.1f} ms")
    print(f"  parts p50: query embedding {percentile(embed, 50):.1f} ms, Chroma "
          f"{percentile(dense, 50):.1f} ms, BM25 {percentile(keyword, 50):.1f} ms")
    print(f"  with service+severity+date filters: p50 {percentile(filtered, 50):.1f} ms")
    size = sum(f.stat().st_size for f in store_dir.rglob("*") if f.is_file())
    print(f"store on disk: {size / 2**20:.0f} MiB ({store_dir})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
