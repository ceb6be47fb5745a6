"""Retrieval quality of the knowledge base: recall@k and MRR over `evals/data/retrieval.yaml`,
and how often an alert (by name, by its Meaning sentence, by a paraphrase) finds its
kube-prometheus runbook first.

    .venv/bin/python -m evals.retrieval_eval [--no-public] [--store DIR] [--k 5] [--verbose]

Builds the store with MiniLM in a temporary folder (or DIR, re-used across runs: ingest is
idempotent). Targets: recall@5 >= 0.9, MRR >= 0.75, alert runbook first >= 0.9.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from knowledge.corpus import demo_documents, public_documents
from knowledge.documents import Document
from knowledge.ingest import ingest_documents
from knowledge.search import Hit, HybridSearcher, SearchFilter
from knowledge.store import KnowledgeStore

DATA = Path(__file__).resolve().parent / "data" / "retrieval.yaml"


@dataclass
class Score:
    n: int = 0
    hits: int = 0
    rr: float = 0.0

    def add(self, rank: int | None, k: int) -> None:
        self.n += 1
        if rank is not None and rank <= k:
            self.hits += 1
        self.rr += 1.0 / rank if rank else 0.0

    @property
    def recall(self) -> float:
        return self.hits / self.n if self.n else 0.0

    @property
    def mrr(self) -> float:
        return self.rr / self.n if self.n else 0.0


def procedure_ids(hit: Hit) -> list[str]:
    """The hit's id, plus the prose runbook an executable runbook implements: the two are one
    procedure (`suggest_runbooks` shows them once), so either answers a question about it."""
    tags = str(hit.metadata.get("tags", "")).split(",")
    return [hit.id, *(t.split(":", 1)[1] for t in tags if t.startswith("implements:"))]


def first_hit_rank(hits: list[Hit], expected: set[str]) -> int | None:
    return next((i for i, h in enumerate(hits, 1) if expected & set(procedure_ids(h))), None)


def meaning_sentence(doc: Document) -> str:
    """The first sentence of a runbook's Meaning section, without the alert's name."""
    match = re.search(r"##\s*Meaning\s*\n+(.+?)(?:\n\s*\n|\n#|\Z)", doc.body, re.S)
    text = " ".join((match.group(1) if match else doc.body).split())
    text = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]
    for alert in doc.alerts:
        text = text.replace(alert, "this alert")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-public", action="store_true", help="shop corpus only")
    parser.add_argument("--store", type=Path, help="store folder to (re)use")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--verbose", action="store_true", help="print every miss")
    args = parser.parse_args(argv)

    docs = demo_documents()
    public = [] if args.no_public else public_documents()
    docs += public
    folder = args.store or Path(tempfile.mkdtemp(prefix="kb-eval-"))
    store = KnowledgeStore.open(folder)
    started = time.perf_counter()
    report = ingest_documents(store, docs)
    print(f"corpus: {len(docs)} documents ({len(public)} public), {store.count()} chunks; "
          f"ingest {report.summary()} in {time.perf_counter() - started:.1f} s")
    searcher = HybridSearcher(store)
    spec = yaml.safe_load(DATA.read_text(encoding="utf-8"))
    corpora = {"shop"} | ({"public"} if public else set())

    scores: dict[str, Score] = {}
    latencies: list[float] = []
    for item in spec["questions"]:
        if item["corpus"] not in corpora:
            continue
        t0 = time.perf_counter()
        hits = searcher.search(item["q"], args.k)
        latencies.append(time.perf_counter() - t0)
        rank = first_hit_rank(hits, set(item["expect"]))
        for name in (item["corpus"], "all"):
            scores.setdefault(name, Score()).add(rank, args.k)
        if args.verbose and rank != 1:
            print(f"  rank {rank}: {item['q']!r} expected {item['expect']} got "
                  f"{[h.id for h in hits]}")
    for name, s in scores.items():
        print(f"questions [{name}]: n={s.n} recall@{args.k}={s.recall:.3f} MRR={s.mrr:.3f}")

    runbook_only = SearchFilter(kinds=("runbook",))
    alert_docs = [d for d in public if d.kind == "runbook" and d.alerts]
    if alert_docs:
        probes = {"name": [(d.alerts[0], d.id) for d in alert_docs],
                  "meaning": [(m, d.id) for d in alert_docs
                              if (m := meaning_sentence(d)) and not m.startswith("#")],
                  "paraphrase": [(a["q"], a["expect"]) for a in spec.get("alerts", [])]}
        total = first = 0
        for name, pairs in probes.items():
            right = 0
            for query, expected in pairs:
                t0 = time.perf_counter()
                hits = searcher.search(query, 3, runbook_only)
                latencies.append(time.perf_counter() - t0)
                ok = bool(hits) and hits[0].id == expected
                right += ok
                if args.verbose and not ok:
                    print(f"  alert {name}: {query!r} expected {expected} got "
                          f"{[h.id for h in hits]}")
            total += len(pairs)
            first += right
            print(f"alert runbook first [{name}]: {right}/{len(pairs)} = "
                  f"{right / len(pairs):.3f}")
        print(f"alert runbook first [all]: {first}/{total} = {first / total:.3f}")
    latencies.sort()
    print(f"search latency over {len(latencies)} queries: p50 "
          f"{latencies[len(latencies) // 2] * 1000:.0f} ms, p95 "
          f"{latencies[int(len(latencies) * 0.95)] * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
