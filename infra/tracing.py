"""OpenTelemetry traces of answers: one span per answer (`@answer_span` on an answer method)
and a child span per tool call (recorded by infra/telemetry.py when a tool returns). Off by
default: until `configure_tracing` is called, spans are no-ops and cost next to nothing.

Attributes are bounded facts (intent, outcome, tool, status, backend, latency, request id);
never a tool's arguments or a secret, and the question's text only when
`OPSCOPILOT_TELEMETRY__TRACE_QUESTION_TEXT` is on (redacted even then). Our own
TracerProvider, not the global one, so a library's tracing (Chroma's) is neither replaced nor
mixed in.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter

from infra.logcontext import current_request_id
from infra.redact import redact

P = ParamSpec("P")
R = TypeVar("R")

ANSWER_SPAN = "opscopilot.answer"
TOOL_SPAN = "opscopilot.tool"


class _State:
    tracer: trace.Tracer = trace.NoOpTracer()
    provider: TracerProvider | None = None
    question_text = False


def configure_tracing(otlp_endpoint: str = "", *, exporter: SpanExporter | None = None,
                      question_text: bool = False,
                      service_name: str = "opscopilot") -> TracerProvider | None:
    """Export spans to `otlp_endpoint` (OTLP over gRPC, batched) or to `exporter` (as they end,
    for tests); with neither, tracing stays off. Returns the provider (None when off)."""
    shutdown_tracing()
    if exporter is None and not otlp_endpoint:
        return None
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint)))
    _State.provider, _State.question_text = provider, question_text
    _State.tracer = provider.get_tracer("opscopilot")
    return provider


def shutdown_tracing() -> None:
    """Flush and stop (at exit, or before configuring again); spans are no-ops afterwards."""
    if _State.provider is not None:
        _State.provider.shutdown()
    _State.provider, _State.tracer, _State.question_text = None, trace.NoOpTracer(), False


def answer_span(method: Callable[P, R]) -> Callable[P, R]:
    """Run an answer method (self, question, ...) inside an answer span; tool spans recorded
    meanwhile are its children. infra.telemetry.record_answer adds the intent and outcome."""

    @functools.wraps(method)
    def traced(*args: P.args, **kwargs: P.kwargs) -> R:
        with _State.tracer.start_as_current_span(ANSWER_SPAN) as span:
            if span.is_recording():
                request_id = current_request_id()
                if request_id:
                    span.set_attribute("opscopilot.request_id", request_id)
                text = getattr(args[1], "text", None) if len(args) > 1 else None
                if _State.question_text and isinstance(text, str):
                    span.set_attribute("opscopilot.question", redact(text))
            return method(*args, **kwargs)

    return traced


def annotate_answer(intent: str, outcome: str, seconds: float) -> None:
    """The answer's facts on the answer span in progress (nothing when none is)."""
    span = trace.get_current_span()
    if span.is_recording() and getattr(span, "name", "") == ANSWER_SPAN:
        span.set_attribute("opscopilot.intent", intent)
        span.set_attribute("opscopilot.outcome", outcome)
        span.set_attribute("opscopilot.latency_ms", round(seconds * 1000, 1))


def tool_span(tool: str, status: str, seconds: float, backend: str) -> None:
    """A finished tool call as a child of the current span, timed as it ran."""
    if _State.provider is None:
        return
    end = time.time_ns()
    span = _State.tracer.start_span(f"{TOOL_SPAN} {tool}", start_time=end - int(seconds * 1e9),
                                    attributes={"opscopilot.tool": tool,
                                                "opscopilot.status": status,
                                                "opscopilot.backend": backend or "none",
                                                "opscopilot.latency_ms": round(seconds * 1000, 1)})
    if status == "error":
        span.set_status(trace.Status(trace.StatusCode.ERROR))
    span.end(end_time=end)
