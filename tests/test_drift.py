"""The drift monitor's statistics on synthetic windows of logged answers."""

from __future__ import annotations

import random

import numpy as np

from bot.answer_log import LoggedAnswer
from bot.evaluation.drift import (
    DAY,
    category_check,
    compare_windows,
    drift_alert,
    embedding_check,
    latency_check,
    psi,
    rate_check,
    report_text,
    windows,
)
from knowledge.hashing import HashingEmbedder

OPS = ["what is wrong with checkout?", "p99 latency of cart", "error logs of payment",
       "which alerts are firing?", "what changed in the last hour?", "slow traces for frontend"]
OTHER = ["how do I rotate the postgres certificate", "who approved the last runbook run",
         "show the weekly incident summary", "which runbook restarts redis safely"]


def entry(i: int, question: str, *, status: str = "ok", latency: float = 100.0,
          votes: tuple[bool, ...] = (True,), intent: str = "investigate") -> LoggedAnswer:
    return LoggedAnswer(str(i), float(i), "slack", "", 0.0, question, "", intent, 0.8, [], [],
                        status, latency, list(votes))


def window(n: int, rng: random.Random, questions: list[str] = OPS, **kw) -> list[LoggedAnswer]:
    return [entry(i, rng.choice(questions), latency=rng.uniform(80, 120), **kw)
            for i in range(n)]


def test_windows_are_consecutive():
    base, recent = windows(100 * DAY, 7, 28)
    assert recent == (93 * DAY, 100 * DAY) and base == (65 * DAY, 93 * DAY)


def test_rates_need_significance_and_direction():
    assert not rate_check("error_rate", 2, 100, 4, 100, "up").drifted  # noise
    worse = rate_check("error_rate", 2, 100, 20, 100, "up")
    assert worse.drifted and worse.p_value is not None and worse.p_value < 0.001
    assert not rate_check("error_rate", 20, 100, 2, 100, "up").drifted  # better is fine
    assert rate_check("helpful_rate", 90, 100, 60, 100, "down").drifted
    few = rate_check("helpful_rate", 9, 10, 0, 5, "down", minimum=10)
    assert not few.drifted and "too few" in few.detail


def test_latency_and_intents():
    rng = np.random.default_rng(0)
    base = list(rng.normal(100, 10, 60))
    assert not latency_check(base, list(rng.normal(100, 10, 60))).drifted
    assert latency_check(base, list(rng.normal(160, 10, 60))).drifted
    same = category_check("intents", ["logs"] * 30 + ["metrics"] * 30,
                          ["logs"] * 31 + ["metrics"] * 29)
    moved = category_check("intents", ["logs"] * 30 + ["metrics"] * 30,
                           ["runbook"] * 40 + ["logs"] * 20)
    assert not same.drifted and moved.drifted and "runbook" in moved.detail


def test_psi():
    assert psi(np.array([50.0, 50.0]), np.array([50.0, 50.0])) == 0.0
    assert psi(np.array([50.0, 50.0]), np.array([90.0, 10.0])) > 0.5


def test_question_embedding_drift():
    emb = HashingEmbedder().embed
    rng = random.Random(1)
    base = [rng.choice(OPS) for _ in range(60)]
    same = [rng.choice(OPS) for _ in range(60)]
    shifted = [rng.choice(OTHER) for _ in range(40)] + [rng.choice(OPS) for _ in range(20)]
    check, _ = embedding_check(emb(base), emb(same), same)
    assert not check.drifted, check.detail
    check, examples = embedding_check(emb(base), emb(shifted), shifted)
    assert check.drifted and "AUC" in check.detail
    assert examples and all(e in OTHER for e in examples)


def test_report_and_alert():
    rng = random.Random(2)
    base = window(60, rng)
    stable = window(60, rng)
    worse = window(40, rng, status="unsure", votes=(False,)) + window(20, rng)
    report = compare_windows(base, stable, HashingEmbedder().embed, (0, 1), (1, 2))
    assert report.drifted == [] and drift_alert(report) is None
    report = compare_windows(base, worse, HashingEmbedder().embed, (0, 28 * DAY),
                             (28 * DAY, 35 * DAY))
    names = {c.name for c in report.drifted}
    assert {"helpful_rate", "unsure_rate"} <= names
    alert = drift_alert(report)
    assert alert is not None and "over the last 7 days" in alert["text"]
    assert set(alert["fields"]) == names
    assert "DRIFT unsure_rate" in report_text(report)
    assert report.to_dict()["drifted"] == [c.name for c in report.drifted]
