"""Map a free-form on-call question to an intent and its entities, without an LLM.

The intent classifier is a logistic regression over the question's sentence embedding
concatenated with TF-IDF character and word n-grams; it is trained from the example questions in
`bot/data/utterances.yaml`. The fitted classifier (vocabularies, idf weights, coefficients) is
stored in the cache as plain arrays, keyed by the file's sha256, the embedder's name, the
hyper-parameters and scikit-learn's version: a process start loads it in milliseconds and only a
changed utterances file or model fits again. Entities come from the pure functions in
`bot.entities`. See docs/router.md.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import yaml

from bot import intent_model
from bot.answer import EmptyQuestion
from bot.entities import Entities, extract_entities
from bot.intent_model import IntentModel, fit_intent_model
from bot.intents import BY_NAME, NAMES, intent_spec
from knowledge.embeddings import Embedder

log = logging.getLogger(__name__)

DEFAULT_UTTERANCES = Path(__file__).parent / "data" / "utterances.yaml"


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
        if intent not in BY_NAME:
            raise ValueError(f"{path}: unknown intent {intent!r}; intents are {', '.join(NAMES)}")
        for example in examples:
            texts.append(str(example))
            labels.append(intent)
    return texts, labels


class IntentClassifier:
    """Fit on (embeddings, texts, labels), then probabilities per intent; see bot.intent_model."""

    def __init__(self, model: IntentModel | None = None) -> None:
        self.model = model

    @property
    def classes(self) -> list[str]:
        return list(self._fitted().classes)

    def _fitted(self) -> IntentModel:
        if self.model is None:
            raise RuntimeError("the intent classifier is not fitted")
        return self.model

    def fit(self, embeddings: np.ndarray, texts: Sequence[str],
            labels: Sequence[str]) -> IntentClassifier:
        self.model = fit_intent_model(embeddings, texts, labels)
        return self

    def predict_proba(self, embeddings: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        return self._fitted().predict_proba(embeddings, texts)

    def predict(self, embeddings: np.ndarray, texts: Sequence[str]) -> list[str]:
        classes = self.classes
        return [classes[i] for i in self.predict_proba(embeddings, texts).argmax(axis=1)]


def _model_key(content: bytes, embedder: Embedder) -> str:
    """What a stored classifier depends on: utterances, embedder, settings, the fitting code."""
    from importlib import metadata

    try:
        fitter = metadata.version("scikit-learn")
    except metadata.PackageNotFoundError:
        fitter = "unknown"
    settings = repr((intent_model.C, intent_model.CHAR_WEIGHT, intent_model.WORD_WEIGHT,
                     intent_model.SEED, intent_model.CHAR_RANGE, intent_model.WORD_RANGE,
                     intent_model.WORD_TOKEN, fitter))
    return hashlib.sha256(content + b"\0" + embedder.name.encode() + b"\0"
                          + settings.encode()).hexdigest()[:24]


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)  # a concurrent reader sees the old file or the whole new one
    finally:
        tmp.unlink(missing_ok=True)


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

    def write(tmp: Path) -> None:
        with tmp.open("wb") as fh:
            np.save(fh, vectors)

    _atomic_write(path, write)
    return vectors


def trained_classifier(embedder: Embedder, path: Path, cache_dir: Path | None) -> IntentClassifier:
    """The classifier for the utterances at `path`: loaded from the cache, or fitted and stored."""
    content = path.read_bytes()
    stored = cache_dir / f"intent-model-{_model_key(content, embedder)}.npz" if cache_dir else None
    if stored is not None and stored.exists():
        try:
            return IntentClassifier(IntentModel.load(stored))
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:  # truncated
            log.warning("ignoring unreadable router model %s: %s", stored, exc)
    texts, labels = load_utterances(path)
    vectors = cached_embeddings(embedder, texts, content, cache_dir)
    classifier = IntentClassifier().fit(vectors, texts, labels)
    log.info("router trained on %d utterances", len(texts))
    if stored is not None:
        model = classifier.model
        assert model is not None
        _atomic_write(stored, model.save)
    return classifier


class Router:
    """Intent + entities for one question; loads or trains its classifier on first use."""

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
        # Set when discovery could not read a backend: names in a service's place are accepted.
        self.services_incomplete = False
        self.aliases = dict(aliases or {})
        self.utterances_path = utterances_path or DEFAULT_UTTERANCES
        self.cache_dir = cache_dir
        self._classifier: IntentClassifier | None = None
        self._lock = threading.Lock()

    def _trained(self) -> IntentClassifier:
        with self._lock:
            if self._classifier is None:
                self._classifier = trained_classifier(self.embedder, self.utterances_path,
                                                      self.cache_dir)
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
        spec = intent_spec(intent)
        entities = extract_entities(text, now, self.services, self.aliases,
                                    check_services=spec.about_systems,
                                    check_window=not spec.may_look_ahead,
                                    services_incomplete=self.services_incomplete)
        return Route(intent=intent, confidence=min(max(confidence, 0.0), 1.0),
                     alternatives=ranked[:3], entities=entities)
