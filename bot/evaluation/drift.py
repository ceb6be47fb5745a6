"""Is the copilot drifting in production? Compare a recent window of logged answers
(bot.answer_log) with a baseline window.

Checks, each with a test of significance so that noise does not page anyone:
- helpfulness rate (votes), and the no-data, error and unsure rates: two-proportion tests
  (Fisher's exact, one-sided: only getting worse alerts), p <= 0.05;
- latency: Kolmogorov-Smirnov, p <= 0.05, and the median up by at least 20 %;
- the intents asked: Jensen-Shannon distance >= 0.1;
- what is asked (question embeddings): PSI >= 0.1 over k-means clusters fitted on the
  baseline, with a chi-square test of homogeneity p <= 0.05; the domain classifier's ROC AUC
  (> 0.55 means the windows can be told apart) is reported beside it.
`drift_alert(report)` returns the alert's text and fields (posting it is the Slack adapter's job).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from bot.answer_log import LoggedAnswer

P_VALUE = 0.05
PSI_DRIFT = 0.1
JS_DRIFT = 0.1
AUC_DRIFT = 0.55
LATENCY_RISE = 1.2
MIN_ANSWERS = 20
MIN_VOTES = 10
DAY = 86400.0

Embed = Callable[[Sequence[str]], np.ndarray]


@dataclass
class DriftCheck:
    name: str
    baseline: float | None
    recent: float | None
    statistic: float | None = None  # the test's statistic (PSI, JS distance, KS D, ...)
    p_value: float | None = None
    drifted: bool = False
    detail: str = ""


@dataclass
class DriftReport:
    baseline_window: tuple[float, float]
    recent_window: tuple[float, float]
    n_baseline: int
    n_recent: int
    checks: list[DriftCheck] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)  # recent questions from a grown cluster

    @property
    def drifted(self) -> list[DriftCheck]:
        return [c for c in self.checks if c.drifted]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"drifted": [c.name for c in self.drifted]}


def windows(now: float, recent_days: float = 7, baseline_days: float = 28
            ) -> tuple[tuple[float, float], tuple[float, float]]:
    """(baseline, recent): the last `recent_days`, and the `baseline_days` before them."""
    recent = (now - recent_days * DAY, now)
    return (recent[0] - baseline_days * DAY, recent[0]), recent


def rate_check(name: str, base_hits: int, base_n: int, recent_hits: int, recent_n: int,
               worse: str, minimum: int = MIN_ANSWERS) -> DriftCheck:
    """A share that should not move in the `worse` direction ("up" or "down")."""
    from scipy.stats import fisher_exact

    if base_n < minimum or recent_n < minimum:
        return DriftCheck(name, _share(base_hits, base_n), _share(recent_hits, recent_n),
                          detail=f"too few to judge (need {minimum} in each window)")
    b, r = base_hits / base_n, recent_hits / recent_n
    alternative = "less" if worse == "up" else "greater"  # baseline odds vs recent odds
    _, p = fisher_exact([[base_hits, base_n - base_hits], [recent_hits, recent_n - recent_hits]],
                        alternative=alternative)
    drifted = bool(p <= P_VALUE)
    return DriftCheck(name, b, r, statistic=r - b, p_value=float(p), drifted=drifted,
                      detail=f"{b:.1%} -> {r:.1%} ({recent_hits}/{recent_n} recently)")


def _share(hits: int, n: int) -> float | None:
    return hits / n if n else None


def latency_check(base: Sequence[float], recent: Sequence[float]) -> DriftCheck:
    from scipy.stats import ks_2samp

    if len(base) < MIN_ANSWERS or len(recent) < MIN_ANSWERS:
        return DriftCheck("latency_p50_ms", _median(base), _median(recent),
                          detail=f"too few to judge (need {MIN_ANSWERS} in each window)")
    stat, p = ks_2samp(base, recent)
    b, r = float(np.median(base)), float(np.median(recent))
    drifted = bool(p <= P_VALUE and r >= LATENCY_RISE * b)
    return DriftCheck("latency_p50_ms", b, r, statistic=float(stat), p_value=float(p),
                      drifted=drifted, detail=f"median {b:.0f} ms -> {r:.0f} ms")


def _median(xs: Sequence[float]) -> float | None:
    return float(np.median(xs)) if len(xs) else None


def category_check(name: str, base: Sequence[str], recent: Sequence[str]) -> DriftCheck:
    """Jensen-Shannon distance (base 2, in [0, 1]) between two categorical distributions."""
    from scipy.spatial.distance import jensenshannon

    if len(base) < MIN_ANSWERS or len(recent) < MIN_ANSWERS:
        return DriftCheck(name, None, None, detail="too few to judge")
    cats = sorted(set(base) | set(recent))
    cb, cr = Counter(base), Counter(recent)
    p = np.array([cb[c] for c in cats], dtype=float)
    q = np.array([cr[c] for c in cats], dtype=float)
    js = float(jensenshannon(p / p.sum(), q / q.sum(), base=2))
    moved = sorted(cats, key=lambda c: -abs(cr[c] / len(recent) - cb[c] / len(base)))[:3]
    shifts = ", ".join(f"{c} {cb[c] / len(base):.0%}->{cr[c] / len(recent):.0%}" for c in moved)
    return DriftCheck(name, None, None, statistic=js, drifted=js >= JS_DRIFT,
                      detail=f"JS distance {js:.2f}; {shifts}")


def psi(expected: np.ndarray, actual: np.ndarray, eps: float = 1e-4) -> float:
    """Population stability index between two count vectors over the same bins."""
    e = np.clip(expected / expected.sum(), eps, None)
    a = np.clip(actual / actual.sum(), eps, None)
    return float(np.sum((a - e) * np.log(a / e)))


def embedding_check(base_vecs: np.ndarray, recent_vecs: np.ndarray, recent_texts: Sequence[str],
                    clusters: int = 8, seed: int = 0) -> tuple[DriftCheck, list[str]]:
    """PSI over k-means clusters of the baseline questions, a chi-square test, and the AUC of a
    classifier telling the windows apart; plus example recent questions from the cluster
    that grew most."""
    from scipy.stats import chi2_contingency
    from sklearn.cluster import KMeans
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import cross_val_predict

    nb, nr = len(base_vecs), len(recent_vecs)
    if nb < MIN_ANSWERS or nr < MIN_ANSWERS:
        return DriftCheck("question_embeddings", None, None, detail="too few to judge"), []
    distinct = len(np.unique(np.round(base_vecs, 5), axis=0))
    k = min(clusters, nb // 5, distinct)
    if k < 2:
        return DriftCheck("question_embeddings", None, None,
                          detail="the baseline questions are all alike: nothing to compare"), []
    km = KMeans(n_clusters=k, n_init=5, random_state=seed).fit(base_vecs)
    cb = np.bincount(km.labels_, minlength=k).astype(float)
    cr = np.bincount(km.predict(recent_vecs), minlength=k).astype(float)
    value = psi(cb, cr)
    used = (cb + cr) > 0
    _, p, _, _ = chi2_contingency(np.vstack([cb[used], cr[used]]))
    x = np.vstack([base_vecs, recent_vecs])
    y = np.r_[np.zeros(nb), np.ones(nr)]
    folds = int(min(5, nb, nr))
    scores = cross_val_predict(LogisticRegression(max_iter=1000), x, y, cv=folds,
                               method="predict_proba")[:, 1]
    auc = float(roc_auc_score(y, scores))
    grown = int(np.argmax(cr / cr.sum() - cb / cb.sum()))
    labels = km.predict(recent_vecs)
    examples = [t for t, c in zip(recent_texts, labels, strict=True) if c == grown][:5]
    drifted = bool(value >= PSI_DRIFT and p <= P_VALUE)
    return DriftCheck("question_embeddings", None, None, statistic=value, p_value=float(p),
                      drifted=drifted,
                      detail=f"PSI {value:.2f} over {k} clusters (chi-square p={p:.3g}); "
                             f"domain classifier AUC {auc:.2f}"), examples


def compare_windows(base: Sequence[LoggedAnswer], recent: Sequence[LoggedAnswer],
                    embed: Embed | None, baseline_window: tuple[float, float],
                    recent_window: tuple[float, float]) -> DriftReport:
    report = DriftReport(baseline_window, recent_window, len(base), len(recent))
    bv = [v for a in base for v in a.votes]
    rv = [v for a in recent for v in a.votes]
    report.checks.append(rate_check("helpful_rate", sum(bv), len(bv), sum(rv), len(rv), "down",
                                    minimum=MIN_VOTES))
    for status in ("no_data", "error", "unsure"):
        report.checks.append(rate_check(
            f"{status}_rate", sum(a.status == status for a in base), len(base),
            sum(a.status == status for a in recent), len(recent), "up"))
    report.checks.append(latency_check([a.latency_ms for a in base],
                                       [a.latency_ms for a in recent]))
    report.checks.append(category_check("intents", [a.intent for a in base],
                                        [a.intent for a in recent]))
    if embed is not None and len(base) >= MIN_ANSWERS and len(recent) >= MIN_ANSWERS:
        check, report.examples = embedding_check(
            np.asarray(embed([a.question for a in base])),
            np.asarray(embed([a.question for a in recent])), [a.question for a in recent])
        report.checks.append(check)
    return report


def monitor(log: Any, now: float, embed: Embed | None, recent_days: float = 7,
            baseline_days: float = 28) -> DriftReport:
    """Read both windows from an `AnswerLog` and compare them."""
    base_w, recent_w = windows(now, recent_days, baseline_days)
    return compare_windows(log.entries(*base_w), log.entries(*recent_w), embed, base_w,
                           recent_w)


def _fmt(v: float | None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return f"{v:.3g}"


def report_text(report: DriftReport) -> str:
    lines = [f"drift: {report.n_recent} recent answers vs {report.n_baseline} in the baseline "
             "window"]
    for c in report.checks:
        flag = "DRIFT" if c.drifted else "ok   "
        p = f" p={c.p_value:.3g}" if c.p_value is not None else ""
        lines.append(f"  {flag} {c.name}: {c.detail or _fmt(c.recent)}{p}")
    if report.examples:
        lines.append("  recent questions from the cluster that grew most:")
        lines += [f"    - {q}" for q in report.examples]
    return "\n".join(lines)


def drift_alert(report: DriftReport) -> dict[str, Any] | None:
    """None when nothing drifted; else {"text", "fields", "examples"} for the Slack adapter to
    post (fields: check name -> what moved, with its p-value)."""
    drifted = report.drifted
    if not drifted:
        return None
    names = ", ".join(c.name for c in drifted)
    fields = {c.name: c.detail + (f" (p={c.p_value:.3g})" if c.p_value is not None else "")
              for c in drifted}
    text = (f":warning: opscopilot answer quality may be drifting: {names} moved "
            f"significantly over the last {_days(report.recent_window):g} days "
            f"({report.n_recent} answers) compared with the {_days(report.baseline_window):g} "
            f"days before ({report.n_baseline} answers).")
    return {"text": text, "fields": fields, "examples": report.examples}


def _days(window: tuple[float, float]) -> float:
    return round((window[1] - window[0]) / DAY, 1)
