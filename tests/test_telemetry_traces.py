"""Answer traces (infra/tracing.py) with OpenTelemetry's in-memory exporter: one trace per answer
whose child spans name every tool call, no secret and no question text in any attribute unless
asked for; off by default."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from bot.answer import Question
from infra.logcontext import request_scope
from infra.tracing import ANSWER_SPAN, configure_tracing, shutdown_tracing
from tests.slack_support import fast_runtime

SECRET = "xoxb-123456789012-abcdefghijklmnop"
QUESTION = f"what is wrong with checkout? my token is {SECRET}"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    configure_tracing(exporter=exporter)
    yield exporter
    shutdown_tracing()


def _ask(text: str = QUESTION):  # noqa: ANN202 - Answer
    runtime = fast_runtime()
    return runtime.copilot.answer(Question(text, runtime.default_now()))


def test_one_trace_per_answer_naming_every_tool_call(spans):
    with request_scope("EvTRACE1"):
        answer = _ask()
    finished = spans.get_finished_spans()
    roots = [s for s in finished if s.name == ANSWER_SPAN]
    assert len(roots) == 1
    root = roots[0]
    assert {s.context.trace_id for s in finished} == {root.context.trace_id}
    tools = [s for s in finished if s.name != ANSWER_SPAN]
    assert all(s.parent is not None and s.parent.span_id == root.context.span_id for s in tools)
    assert sorted(s.attributes["opscopilot.tool"] for s in tools) == sorted(answer.tools)
    assert len(tools) == len(answer.tool_calls) >= 3
    assert root.attributes["opscopilot.intent"] == answer.intent == "investigate"
    assert root.attributes["opscopilot.outcome"] == "ok"
    assert root.attributes["opscopilot.request_id"] == "EvTRACE1"
    for span in tools:
        assert set(span.attributes) == {"opscopilot.tool", "opscopilot.status",
                                        "opscopilot.backend", "opscopilot.latency_ms"}
        assert span.start_time <= span.end_time
        assert root.start_time <= span.start_time and span.end_time <= root.end_time
    values = " ".join(str(v) for s in finished for v in s.attributes.values())
    assert SECRET not in values and "my token" not in values


def test_the_question_is_on_the_span_only_when_asked_and_redacted():
    exporter = InMemorySpanExporter()
    configure_tracing(exporter=exporter, question_text=True)
    try:
        _ask()
    finally:
        shutdown_tracing()
    (root,) = [s for s in exporter.get_finished_spans() if s.name == ANSWER_SPAN]
    shown = str(root.attributes["opscopilot.question"])
    assert "what is wrong with checkout?" in shown and SECRET not in shown


def test_off_by_default_nothing_is_recorded():
    exporter = InMemorySpanExporter()
    configure_tracing(exporter=exporter)
    shutdown_tracing()  # back to the default: off
    _ask("which alerts are firing?")
    assert exporter.get_finished_spans() == ()
    from infra.settings import load_settings

    assert load_settings().telemetry.otlp_endpoint == ""
