"""How well the router understands questions: intent accuracy and entity-extraction accuracy.

`python -m evals.router_accuracy [--json]` trains on 80 % of `bot/data/utterances.yaml`
(stratified, fixed seed) and reports held-out accuracy, per-intent precision/recall and the
confused pairs, then 5-fold cross-validated accuracy, then the share of the labelled questions in
`evals/data/entities.yaml` whose services, metrics and window are extracted exactly right.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import yaml
from sklearn.metrics import precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold, train_test_split

from bot.answer import QuestionError
from bot.entities import extract_entities
from bot.router import DEFAULT_UTTERANCES, IntentClassifier, load_utterances

ENTITY_CASES = Path(__file__).parent / "data" / "entities.yaml"
SEED = 0


@dataclass
class HoldoutReport:
    accuracy: float
    n_train: int
    n_test: int
    per_intent: dict[str, dict[str, float]]  # intent -> precision, recall, support
    confusions: list[tuple[str, str, int]]  # (expected, predicted, count), most frequent first
    errors: list[tuple[str, str, str]] = field(default_factory=list)  # (text, expected, got)


def holdout_report(texts: Sequence[str], labels: Sequence[str], vectors: np.ndarray,
                   test_size: float = 0.2, seed: int = SEED) -> HoldoutReport:
    """Train on a stratified (1 - test_size) share, score the rest."""
    idx = np.arange(len(texts))
    train, test = train_test_split(idx, test_size=test_size, random_state=seed,
                                   stratify=list(labels))
    clf = IntentClassifier().fit(vectors[train], [texts[i] for i in train],
                                 [labels[i] for i in train])
    predicted = clf.predict(vectors[test], [texts[i] for i in test])
    expected = [labels[i] for i in test]
    intents = sorted(set(labels))
    precision, recall, _, support = precision_recall_fscore_support(
        expected, predicted, labels=intents, zero_division=0)
    per_intent = {
        intent: {"precision": float(p), "recall": float(r), "support": int(s)}
        for intent, p, r, s in zip(intents, precision, recall, support, strict=True)
    }
    pairs = Counter((e, p) for e, p in zip(expected, predicted, strict=True) if e != p)
    errors = [(texts[i], e, p) for i, e, p in zip(test, expected, predicted, strict=True)
              if e != p]
    return HoldoutReport(
        accuracy=float(np.mean([e == p for e, p in zip(expected, predicted, strict=True)])),
        n_train=len(train), n_test=len(test), per_intent=per_intent,
        confusions=[(e, p, n) for (e, p), n in pairs.most_common()], errors=errors,
    )


def cross_validated_accuracy(texts: Sequence[str], labels: Sequence[str], vectors: np.ndarray,
                             folds: int = 5, seed: int = SEED) -> tuple[float, float]:
    """Mean and standard deviation of accuracy over stratified folds."""
    scores = []
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(np.zeros(len(labels)), list(labels)):
        clf = IntentClassifier().fit(vectors[train], [texts[i] for i in train],
                                     [labels[i] for i in train])
        predicted = clf.predict(vectors[test], [texts[i] for i in test])
        scores.append(np.mean([labels[i] == p for i, p in zip(test, predicted, strict=True)]))
    return float(np.mean(scores)), float(np.std(scores))


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def entity_accuracy(path: Path = ENTITY_CASES) -> tuple[float, list[str]]:
    """Share of labelled questions extracted exactly right, and a line per miss."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    services = data["services"]
    default_now = _parse_time(data["now"])
    misses: list[str] = []
    cases = data["cases"]
    for case in cases:
        now = _parse_time(case["now"]) if "now" in case else default_now
        try:
            ents = extract_entities(case["question"], now, services)
        except QuestionError as exc:
            raised = type(exc).__name__
            if case.get("error") != raised:
                misses.append(f"{case['question']!r}: raised {raised}: {exc}")
            continue
        if "error" in case:
            misses.append(f"{case['question']!r}: expected {case['error']}, got no error")
            continue
        window = None
        if ents.window is not None:
            window = [ents.window.start.isoformat(), ents.window.end.isoformat()]
        expected_window = case.get("window")
        if expected_window is not None:
            expected_window = [_parse_time(w).isoformat() for w in expected_window]
        got = (ents.services, ents.metrics, window)
        want = (case.get("services", []), case.get("metrics", []), expected_window)
        if got != want:
            misses.append(f"{case['question']!r}: expected {want}, got {got}")
    return (len(cases) - len(misses)) / len(cases), misses


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    from knowledge.embeddings import shared_embedder

    texts, labels = load_utterances(DEFAULT_UTTERANCES)
    vectors = shared_embedder().embed(texts)
    holdout = holdout_report(texts, labels, vectors)
    cv_mean, cv_std = cross_validated_accuracy(texts, labels, vectors)
    ent_share, ent_misses = entity_accuracy()

    if args.json:
        print(json.dumps({
            "utterances": len(texts),
            "holdout": asdict(holdout),
            "cv_accuracy_mean": cv_mean,
            "cv_accuracy_std": cv_std,
            "entity_accuracy": ent_share,
            "entity_misses": ent_misses,
        }))
        return 0
    print(f"utterances: {len(texts)} in {len(set(labels))} intents")
    print(f"held-out accuracy: {holdout.accuracy:.1%} "
          f"({holdout.n_test} questions, trained on {holdout.n_train})")
    print(f"{'intent':<20}{'precision':>10}{'recall':>8}{'n':>5}")
    for intent, row in holdout.per_intent.items():
        print(f"{intent:<20}{row['precision']:>10.2f}{row['recall']:>8.2f}{row['support']:>5}")
    if holdout.confusions:
        print("confused (expected -> predicted):")
        for expected, predicted, n in holdout.confusions:
            print(f"  {expected} -> {predicted}: {n}")
    for text, expected, predicted in holdout.errors:
        print(f"  miss: {text!r} ({expected} -> {predicted})")
    print(f"5-fold cross-validated accuracy: {cv_mean:.1%} ± {cv_std:.1%}")
    print(f"entity extraction exactly right: {ent_share:.1%}")
    for miss in ent_misses:
        print(f"  {miss}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
