"""Turn recent logged questions (already redacted by the answer log) into draft eval cases.

A draft records the question, its context (sandbox scenario) and time, and what the copilot
answered then (intent and tools) as a starting point that a person must review: drafts have
`draft: true`, are skipped by `eval run` until the flag is removed, and never overwrite a case.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bot.answer_log import LoggedAnswer
from bot.evaluation.cases import CASES_DIR, Case, Expect, write_case


def draft_id(question: str) -> str:
    slug = "-".join(re.findall(r"[a-z0-9]+", question.lower()))[:40].strip("-") or "question"
    return f"replay--{slug}-{hashlib.sha256(question.encode()).hexdigest()[:6]}"


def draft_case(entry: LoggedAnswer, default_scenario: str) -> Case:
    return Case(
        id=draft_id(entry.question), question=entry.question,
        scenario=entry.context or default_scenario,
        at=datetime.fromtimestamp(entry.asked_at, UTC),
        expect=Expect(intent=entry.intent, tools=list(dict.fromkeys(entry.tools))),
        capability="ambiguous", difficulty="medium", source="replay", draft=True,
        tags=[f"status:{entry.status}"] + (["unhelpful"] if entry.votes and not any(entry.votes)
                                           else []),
        notes=(f"replayed from answer {entry.id} ({entry.source}); the expectations are what "
               "the copilot did then: review them, set capability and facts, remove draft"))


def replay(entries: Sequence[LoggedAnswer], default_scenario: str, folder: Path = CASES_DIR,
           limit: int = 20) -> list[Path]:
    """Write up to `limit` new draft cases, newest questions first, unhelpful ones before the
    rest; questions that already have a case are skipped."""
    ordered = sorted(entries, key=lambda e: (not (e.votes and not any(e.votes)), -e.ts))
    written: list[Path] = []
    seen: set[str] = set()
    for entry in ordered:
        if len(written) >= limit:
            break
        case = draft_case(entry, default_scenario)
        if case.id in seen or (folder / case.id).exists():
            continue
        seen.add(case.id)
        written.append(write_case(case, folder, overwrite=False))
    return written
