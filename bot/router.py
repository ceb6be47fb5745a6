"""Map a free-form on-call question to an intent and its entities, without an LLM.

The intent classifier is a logistic regression over the question's sentence embedding
concatenated with TF-IDF character and word n-grams; it is trained, lazily on the first question,
from the example questions in `bot/data/utterances.yaml`. The embeddings of those examples are
cached on disk (keyed by the file's sha256 and the embedder's name), so only the first start of a
process with a new utterances file pays for embedding them. Entities come from the pure
functions in `bot.entities`. See docs/router.md.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import yaml
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from bot.entities import EmptyQuestion, Entities, extract_entities
from knowledge.embeddings import Embedder

log = logging.getLogger(__name__)

INTENTS = (
    "investigate", "metrics", "logs", "traces", "changes", "alerts", "similar_incidents",
    "runbook", "oncall", "help", "out_of_scope",
)
# Questions not about our systems: an unknown service or an odd window there is not an error.
NOT_ABOUT_SYSTEMS = frozenset({"help", "out_of_scope"})
# Intents that may look ahead ("who is on call next week"): a future window is not an error.
MAY_LOOK_AHEAD = frozenset({"help", "out_of_scope", "oncall"})
DEFAULT_UTTERANCES = Path(__file__).parent / "data" / "utterances.yaml"

# Chosen by 5-fold cross-validation on the shipped utterances (evals/router_accuracy.py).
_C = 30.0
_CHAR_WEIGHT = 1.5
_WORD_WEIGHT = 0.5
_SEED = 0


@dataclass(frozen=True)
class Route:
    intent: str
    confidence: float  # the classifier's probability of `intent`, in [0, 1]
    alternatives: list[tuple[str, float]]  # the top 3 (intent, probability), best first
    entities: Entities


def load_utterances(path: Path = DEFAULT_UTTERANCES) -> tuple[list[str], list[str]]:
    """The example questions and their intents, in file order."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    texts: list[str] = []
    labels: list[str] = []
    for intent, examples in data["intents"].items():
        if intent not in INTENTS:
            raise ValueError(f"{path}: unknown intent {intent!r}; intents are {', '.join(INTENTS)}")
        for example in examples:
            texts.append(str(example))
            labels.append(intent)
    return texts, labels


class IntentClassifier:
    """Embedding + TF-IDF n-grams -> logistic regression. Arrays in, probabilities out."""

    def __init__(self) -> None:
        self._chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True)
        self._words = TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True,
                                      token_pattern=r"[a-z0-9]+")
        self._model = LogisticRegression(C=_C, max_iter=3000, random_state=_SEED)

    @property
    def classes(self) -> list[str]:
        return [str(c) for c in self._model.classes_]

    def _features(self, embeddings: np.ndarray, texts: Sequence[str]) -> sparse.csr_matrix:
        lowered = [t.lower() for t in texts]
        return sparse.hstack([
            sparse.csr_matrix(embeddings),
            self._chars.transform(lowered) * _CHAR_WEIGHT,
            self._words.transform(lowered) * _WORD_WEIGHT,
        ]).tocsr()

    def fit(self, embeddings: np.ndarray, texts: Sequence[str],
            labels: Sequence[str]) -> IntentClassifier:
        lowered = [t.lower() for t in texts]
        self._chars.fit(lowered)
        self._words.fit(lowered)
        self._model.fit(self._features(embeddings, texts), list(labels))
        return self

    def predict_proba(self, embeddings: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        return self._model.predict_proba(self._features(embeddings, texts))

    def predict(self, embeddings: np.ndarray, texts: Sequence[str]) -> list[str]:
        classes = self.classes
        return [classes[i] for i in self.predict_proba(embeddings, texts).argmax(axis=1)]


def cached_embeddings(embedder: Embedder, texts: Sequence[str], content: bytes,
                      cache_dir: Path | None) -> np.ndarray:
    """Embed texts, reusing `cache_dir/utterances-<sha256>.npy` when it matches."""
    if cache_dir is None:
        return embedder.embed(texts)
    digest = hashlib.sha256(content + b"\0" + embedder.name.encode()).hexdigest()
    path = cache_dir / f"utterances-{digest[:24]}.npy"
    if path.exists():
        try:
            cached = np.load(path)
        except (OSError, ValueError) as exc:  # truncated or corrupt: embed again
            log.warning("ignoring unreadable embedding cache %s: %s", path, exc)
        else:
            if cached.shape[0] == len(texts):
                return cached
    vectors = embedder.embed(texts)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
    np.save(tmp, vectors)
    os.replace(tmp, path)  # atomic: a concurrent reader sees the old file or the whole new one
    return vectors


class Router:
    """Intent + entities for one question; trains itself on first use."""

    def __init__(
        self,
        embedder: Embedder,
        services: Sequence[str],
        utterances_path: Path | None = None,
        cache_dir: Path | None = None,
        aliases: Mapping[str, str] | None = None,
    ) -> None:
        self.embedder = embedder
        self.services = list(services)  # public: the runtime refreshes it from the topology
        self.aliases = dict(aliases or {})
        self.utterances_path = utterances_path or DEFAULT_UTTERANCES
        self.cache_dir = cache_dir
        self._classifier: IntentClassifier | None = None
        self._lock = threading.Lock()

    def _trained(self) -> IntentClassifier:
        with self._lock:
            if self._classifier is None:
                content = self.utterances_path.read_bytes()
                texts, labels = load_utterances(self.utterances_path)
                vectors = cached_embeddings(self.embedder, texts, content, self.cache_dir)
                self._classifier = IntentClassifier().fit(vectors, texts, labels)
                log.info("router trained on %d utterances", len(texts))
            return self._classifier

    def warm_up(self) -> None:
        """Train now instead of on the first question (e.g. before acking Slack events)."""
        self._trained()

    def classify(self, text: str) -> list[tuple[str, float]]:
        """Every intent with its probability, best first."""
        if not text.strip():
            raise EmptyQuestion("the question is empty; ask something like 'why is checkout slow?'")
        classifier = self._trained()
        probs = classifier.predict_proba(self.embedder.embed([text]), [text])[0]
        ranked = sorted(zip(classifier.classes, probs.tolist(), strict=True),
                        key=lambda pair: -pair[1])
        return [(intent, float(p)) for intent, p in ranked]

    def route(self, text: str, now: datetime) -> Route:
        """Classify the question and extract its entities; raises QuestionError subclasses."""
        ranked = self.classify(text)
        intent, confidence = ranked[0]
        entities = extract_entities(text, now, self.services, self.aliases,
                                    check_services=intent not in NOT_ABOUT_SYSTEMS,
                                    check_window=intent not in MAY_LOOK_AHEAD)
        return Route(intent=intent, confidence=min(max(confidence, 0.0), 1.0),
                     alternatives=ranked[:3], entities=entities)
