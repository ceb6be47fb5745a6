"""A corpus of secrets and personal data through every place text is stored, shown or sent:
the knowledge base (ingest, stored chunks, search), the answer log, Slack blocks, LLM payloads,
the process's own logs. Nothing of the corpus may come out anywhere."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from bot.answer import Answer, Question
from bot.answer_log import AnswerLog
from bot.llm.redaction import Redactor
from bot.slack.blocks import answer_blocks, fallback_text, redact_blocks
from infra.redact import redact
from infra.settings import load_settings
from infra.state import state_engine
from knowledge.documents import Document
from knowledge.hashing import HashingEmbedder
from knowledge.ingest import ingest_documents
from knowledge.kb import KnowledgeBase
from knowledge.store import KnowledgeStore
from tools.base import Finding

# (how it appears in text, the part that must never come out)
CORPUS = [
    ("password=hunter2-prod", "hunter2-prod"),
    ("DB_PASSWORD='Tr0ub4dor&3'", "Tr0ub4dor&3"),
    ("export GITHUB_TOKEN=ghp_0123456789abcdefghijklmnopqrstuvwxyzAB", "ghp_0123456789abcdefghij"),
    ("slack xoxb-2048-4096-abcdefghijklmnop", "xoxb-2048-4096"),
    ("aws AKIAIOSFODNN7EXAMPLE with aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfi",
     "wJalrXUtnFEMI"),
    ("key sk-proj-abcdefghijklmnop0123456789", "sk-proj-abcdefghijklmnop"),
    ("gitlab glpat-abcdefghij0123456789xyz", "glpat-abcdefghij"),
    ("stripe sk_live_abcdefghijklmnop0123", "sk_live_abcdefghij"),
    ("Authorization: Bearer abcdefghijklmnop123456", "abcdefghijklmnop123456"),
    ("dsn postgres://shop:s3cr3t-pw@db.internal:5432/orders", "s3cr3t-pw"),
    ("redis://:r3dis-pass@cache:6379/0", "r3dis-pass"),
    ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlc2ln",
     "eyJhbGciOiJIUzI1NiJ9"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7xyz\n-----END RSA PRIVATE KEY-----",
     "MIIEowIBAAKCAQEA7xyz"),
    ("paged jane.doe@example.com at 02:10", "jane.doe@example.com"),
    ("call the DBA on +44 20 7946 0958", "7946 0958"),
]
TEXT = "\n".join(f"- {shown}" for shown, _ in CORPUS)
ASKED = datetime(2026, 11, 20, 18, 15, tzinfo=UTC)


def leaks(text: str) -> list[str]:
    return [secret for _, secret in CORPUS if secret in text]


def test_every_item_of_the_corpus_is_redacted():
    assert leaks(redact(TEXT)) == []


def test_the_knowledge_base_never_stores_or_returns_a_secret(tmp_path: Path):
    store = KnowledgeStore.open(tmp_path / "kb", embedder=HashingEmbedder())
    doc = Document(id="PM-9", kind="postmortem", title="Orders DB credentials in a config dump",
                   body=f"## Summary\n\nA config dump was pasted in the channel:\n\n{TEXT}\n",
                   services=["orders"], root_cause=f"the dump held {CORPUS[0][0]}",
                   action_items=[f"rotate {CORPUS[2][0]}"])
    ingest_documents(store, [doc])
    stored = store.collection.get(include=["documents", "metadatas"])
    assert stored["ids"], "nothing was stored"
    assert leaks(json.dumps([stored["documents"], stored["metadatas"]])) == []
    hits = KnowledgeBase.from_store(store).search("orders database credentials config dump")
    assert hits and leaks(json.dumps([h.to_dict() for h in hits])) == []
    again = ingest_documents(store, [doc])  # the redacted copy is what is compared: unchanged
    assert again.unchanged == ["PM-9"]


def test_the_answer_log_keeps_no_secret_from_a_question_or_an_answer(tmp_path: Path):
    log = AnswerLog(state_engine(load_settings(data_dir=tmp_path)), context="quiet")
    answer = Answer(question=TEXT, intent="logs", summary=f"Seen in logs: {TEXT}",
                    confidence=0.5, latency_ms=3.0)
    answer_id = log.record(Question(TEXT, ASKED, user="U1"), answer, source="cli", latency_ms=3.0)
    rows = log.entries(since=0)
    assert [r.id for r in rows] == [answer_id]
    assert leaks(json.dumps([r.question + r.summary for r in rows])) == []


def test_slack_blocks_and_llm_payloads_carry_no_secret():
    answer = Answer(question="q", intent="logs", summary=f"Seen in logs:\n{TEXT}", confidence=0.5,
                    latency_ms=3.0)
    answer.findings = [Finding("log_errors", "orders", f"orders logged {CORPUS[9][0]}", 0.9)]
    blocks = redact_blocks(answer_blocks(answer, "a1"))
    assert leaks(json.dumps(blocks)) == [] and leaks(redact(fallback_text(TEXT))) == []
    sent = Redactor().messages([HumanMessage(TEXT), AIMessage(
        "", tool_calls=[{"name": "search_logs", "args": {"query": TEXT}, "id": "c1"}])])
    assert leaks(json.dumps([m.model_dump() for m in sent], default=str)) == []


@pytest.mark.parametrize("asked", ["why is checkout failing?", "have we seen this before?",
                                   "runbook for checkout errors"])
def test_an_answer_to_a_question_full_of_secrets_shows_and_logs_none(runtime_for, caplog, asked):
    """Nothing of a pasted secret reaches a tool call, the evidence (a knowledge-base query
    quotes the question), the JSON, the terminal or the process's log."""
    from bot.cli.common import out
    from bot.render import render_answer

    runtime = runtime_for("bad-deploy-checkout")
    with caplog.at_level(logging.DEBUG):
        answer = runtime.copilot.answer(Question(f"{asked} {TEXT}", ASKED))
    assert answer.summary
    with out.capture() as shown:
        render_answer(answer, out)
    assert leaks(json.dumps(answer.to_json())) == [] and leaks(shown.get()) == []
    assert leaks(caplog.text) == []


class RepeatedLine:
    """A logs backend logging one line again and again: a constant secret stays in its
    template, which answers show."""

    source = "corpus"

    def __init__(self, text: str) -> None:
        self.text = text

    def search(self, services, start, end, level=None, contains=None, limit=5000):
        from tools.backends import LogLine, LogQueryResult

        t = int(ASKED.timestamp())
        lines = [LogLine(t - 60 * i, "orders", "ERROR", f"request failed, {self.text}")
                 for i in range(8, 0, -1)]
        return LogQueryResult(lines, "corpus logs")


@pytest.mark.parametrize("shown", [shown for shown, _ in CORPUS])
def test_log_templates_in_answers_carry_no_secret(shown):
    from tools.base import ToolRegistry
    from tools.logs import SearchLogs

    registry = ToolRegistry()
    registry.register(SearchLogs(RepeatedLine(shown), ["orders"]))
    t = int(ASKED.timestamp())
    result = registry.run("search_logs", {"services": ["orders"], "start": t - 1800, "end": t})
    assert result.findings, result.summary
    seen = [result.summary] + [f.text + f.detail for f in result.findings] + \
        [json.dumps(e.to_dict()) for e in result.evidence] + [json.dumps(result.data)]
    assert leaks(" ".join(seen)) == []


def test_incidents_and_change_events_store_no_secret(tmp_path: Path):
    from bot.incidents import IncidentStore
    from tools.backends.change_store import ChangeEventIn, ChangeStore

    settings = load_settings(data_dir=tmp_path)
    store = IncidentStore(settings)
    inc = store.declare(f"orders down {CORPUS[0][0]} {CORPUS[13][0]}", "sev2")
    store.add_update(inc.id, "U1", TEXT)
    store.add_action_item(inc.id, f"rotate {CORPUS[2][0]}", owner="U1")
    store.resolve(inc.id, "U1", resolution=f"rotated {CORPUS[9][0]}", root_cause=CORPUS[5][0])
    done = store.get(inc.id)
    stored = [done.title, done.resolution, done.root_cause] + \
        [e.text for e in store.timeline(inc.id)] + [a.text for a in store.action_items(inc.id)]
    assert leaks(json.dumps(stored)) == []
    changes = ChangeStore(state_engine(settings))
    changes.add([ChangeEventIn(service="orders", description=f"config: {CORPUS[1][0]}")])
    listed, _ = changes.changes(["orders"], 0, 2**31)
    assert listed and leaks(json.dumps([c.description for c in listed])) == []


@pytest.mark.parametrize("line", [
    "checkout: 12 orders failed since 18:41 UTC (error rate 5.2 %)",
    "GET /api/cart/42 200 in 31 ms user=1234 trace=abc123 at 2026-11-20T18:41:00Z",
    "pool size=20 max_connections=100 token_count=312",
])
def test_ordinary_operations_text_is_untouched(line):
    assert redact(line) == line
