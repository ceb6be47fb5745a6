"""Check that an answer's numbers come from its evidence.

Used by the tests, the eval harness and (later) the LLM mode's output check: every number, clock
time and version in the answer text must appear in an evidence item, a tool call's summary, or the
question itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.answer import Answer
from tools.formatting import fmt_window

# 14:05, v2.15.0, 2026-11-20, 23.4, 1,234, 0.31
# A number glued to letters before it is part of a name (p95, http2, ipv4), not a claim.
_NUMBER = re.compile(r"\d{4}-\d{2}-\d{2}|\d{1,2}:\d{2}|v\d+(?:\.\d+)+|"
                     r"(?<![A-Za-z\d.])(?:\d+(?:\.\d+)+|\d{1,3}(?:,\d{3})+|\d+)")


_MORE = re.compile(r"\band \d+ more (?:groups )?\(see findings\)")


def numbers_in(text: str) -> list[str]:
    return _NUMBER.findall(text)


def _sources(answer: Answer) -> Iterable[str]:
    yield answer.question
    if answer.window is not None:  # the window the answer covers is the plan's, not a claim
        yield fmt_window(*answer.window)
    for ev in answer.evidence:
        yield ev.summary
        yield ev.query
        yield from (str(v) for v in ev.values.values())
    for call in answer.tool_calls:
        yield call.summary


def ungrounded_numbers(answer: Answer) -> list[str]:
    """Numbers in the answer's summary and findings that no evidence contains."""
    known: set[str] = set()
    for text in _sources(answer):
        known.update(numbers_in(text))
    # "and 4 more (see findings)" counts the answer's own findings: not a claim about systems.
    claims = [_MORE.sub("", answer.summary), *(f.text for f in answer.findings)]
    return [n for text in claims for n in numbers_in(text) if n not in known]
