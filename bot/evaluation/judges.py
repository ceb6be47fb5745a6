"""Judge-model scorers (faithfulness, relevancy), kept apart from the deterministic ones.

They run only when an LLM judge is configured; the deterministic suite and the gate never use
them. A judge is anything with `complete(prompt) -> str` (an adapter over the project's LLM
provider). A reply that does not parse into a score in [0, 1] is NaN, and NaN counts as a
failure in every mean (see `scorers.mean`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.evaluation.scorers import mean

FAITHFULNESS_PROMPT = """You check an on-call assistant's answer against its evidence.
Evidence:
{contexts}

Answer:
{answer}

Score how much of the answer is supported by the evidence, from 0 (nothing) to 1 (every
claim). Reply with JSON only: {{"score": <number>, "reason": "<one sentence>"}}"""

RELEVANCY_PROMPT = """Question from an on-call engineer: {question}

Answer: {answer}

Score how well the answer addresses the question, from 0 (not at all) to 1 (fully).
Reply with JSON only: {{"score": <number>, "reason": "<one sentence>"}}"""


class JudgeModel(Protocol):
    def complete(self, prompt: str) -> str: ...


@dataclass(frozen=True)
class JudgeVerdict:
    metric: str
    score: float  # NaN when the judge's reply could not be parsed
    reason: str


def parse_judge_score(reply: str) -> float:
    """{"score": x} JSON, or "score: a/b" / "score: x" text; NaN unless it lands in [0, 1]."""
    value: float | None = None
    match = re.search(r"\{.*\}", reply, re.S)
    if match:
        try:
            data = json.loads(match.group(0))
            value = float(data["score"])
        except (ValueError, KeyError, TypeError):
            value = None
    if value is None:
        m = re.search(r"score\W+(\d+(?:\.\d+)?)\s*(?:/\s*(\d+(?:\.\d+)?))?", reply, re.I)
        if m:
            value = float(m[1]) / (float(m[2]) if m[2] else 1.0)
    if value is None or not 0.0 <= value <= 1.0:
        return math.nan
    return value


def _reason(reply: str) -> str:
    m = re.search(r'"reason"\s*:\s*"([^"]*)"', reply)
    return m[1] if m else reply.strip()[:200]


def faithfulness(judge: JudgeModel, answer: str, contexts: Sequence[str]) -> JudgeVerdict:
    reply = judge.complete(FAITHFULNESS_PROMPT.format(
        contexts="\n".join(f"- {c}" for c in contexts), answer=answer))
    return JudgeVerdict("faithfulness", parse_judge_score(reply), _reason(reply))


def relevancy(judge: JudgeModel, question: str, answer: str) -> JudgeVerdict:
    reply = judge.complete(RELEVANCY_PROMPT.format(question=question, answer=answer))
    return JudgeVerdict("relevancy", parse_judge_score(reply), _reason(reply))


def judge_mean(verdicts: Sequence[JudgeVerdict]) -> float | None:
    """Mean score; an unparsable verdict (NaN) counts as 0."""
    return mean(v.score for v in verdicts)
