"""What the Jaeger and Tempo backends share: turning a bag of spans into a `Trace` whose root is
where the request entered, and a service graph counted from traces' parent/child calls."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from tools.backends import Span, Trace


@dataclass(frozen=True)
class Call:
    """One edge of the service graph: `parent` calls `child`, `count` times in the sample."""

    parent: str
    child: str
    count: int


def assemble(trace_id: str, spans: Iterable[Span]) -> Trace | None:
    """A trace from its spans, earliest first. A span whose parent is missing (a partial trace:
    spans still arriving, or dropped) becomes a root, so the earliest such span is `Trace.root`."""
    ordered = sorted(spans, key=lambda s: s.start_ms)
    if not ordered:
        return None
    ids = {s.span_id for s in ordered}
    fixed = tuple(s if not s.parent_id or s.parent_id in ids else
                  Span(s.trace_id, s.span_id, "", s.service, s.operation, s.start_ms,
                       s.duration_ms, s.error)
                  for s in ordered)
    return Trace(trace_id, fixed)


def calls_in(traces: Iterable[Trace]) -> list[Call]:
    """Service-to-service calls seen in traces (a span whose parent is in another service)."""
    counts: Counter[tuple[str, str]] = Counter()
    for trace in traces:
        by_id = {s.span_id: s for s in trace.spans}
        for span in trace.spans:
            parent = by_id.get(span.parent_id)
            if parent is not None and parent.service != span.service:
                counts[(parent.service, span.service)] += 1
    return [Call(p, c, n) for (p, c), n in sorted(counts.items())]


def failed_status(value: object) -> bool:
    """An HTTP status code (int or string) of 500 or above."""
    try:
        return int(str(value)) >= 500
    except ValueError:
        return False
