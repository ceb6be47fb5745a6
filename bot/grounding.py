"""Check that an answer's numbers come from its evidence.

Used by the tests, the eval harness and (later) the LLM mode's output check: every number, clock
time and version in the answer text must appear in an evidence item, a tool call's summary, or the
question itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from bot.answer import Answer
from bot.entities import find_metrics
from tools.base import Evidence
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


# A sentence saying a value was earlier ("up from 0.55", "the hour before", "usually 10").
_PAST = re.compile(r"(?i)\b(?:from|before|baseline|usual(?:ly)?|normal(?:ly)?|earlier|was|were|"
                   r"previous(?:ly)?|yesterday|ago|then|had been|compared)\b")
_MEASURED = ("metric:", "forecast:")  # evidence ids "metric:SERVICE:METRIC", "forecast:..."


def _numbers_of(ev: Evidence, keys: Iterable[str] | None = None) -> set[str]:
    texts = [str(v) for k, v in ev.values.items() if keys is None or k in keys]
    if keys is None:
        texts += [ev.summary]
    return {n for t in texts for n in numbers_in(t)}


def misattributed_numbers(sentence: str, evidence: Sequence[Evidence],
                          services: Sequence[str]) -> list[str]:
    """Numbers a sentence about a named service's metric takes from the wrong evidence: from
    another service's or metric's reading, or that reading's baseline quoted as its value now.
    Clock times, dates and versions are left to `ungrounded_numbers`."""
    named = [s for s in services if re.search(rf"\b{re.escape(s)}\b", sentence, re.I)]
    metrics = find_metrics(sentence)
    if not named or not metrics:
        return []
    ids = {f"{kind}{s}:{m}" for kind in _MEASURED for s in named for m in metrics}
    own = [ev for ev in evidence if ev.id in ids]
    if not own:
        return []
    others = [ev for ev in evidence if ev.id.startswith(_MEASURED) and ev.id not in ids]
    elsewhere = set().union(*(_numbers_of(ev) for ev in others)) if others else set()
    mine = set().union(*(_numbers_of(ev) for ev in own))
    now = set().union(*(_numbers_of(ev, ("current", "min", "max", "mean", "value", "limit"))
                        for ev in own))
    baseline = set().union(*(_numbers_of(ev, ("baseline", "then")) for ev in own))
    bad = []
    for n in numbers_in(sentence):
        if ":" in n or "-" in n or n.startswith("v"):
            continue
        if n not in mine and n in elsewhere:  # another reading's number
            bad.append(n)
        elif n in baseline and n not in now and not _PAST.search(sentence):
            bad.append(n)  # the value before, quoted as the value now
    return bad
