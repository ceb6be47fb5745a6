"""The router's intent classifier: fitted with scikit-learn, applied and stored as plain arrays.

Features are the question's sentence embedding next to TF-IDF character (2-4, within words) and
word (1-2) n-grams, each block L2-normalised as scikit-learn's TfidfVectorizer does, and a
multinomial logistic regression over them. Fitting needs scikit-learn; applying a fitted model
needs only numpy (`IntentModel`), so a process that loads a stored model never imports
scikit-learn or scipy (about 0.7 s). tests/test_router.py checks that the arrays give the same
probabilities as scikit-learn's own pipeline.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Chosen by 5-fold cross-validation on the shipped utterances (evals/router_accuracy.py).
C = 30.0
CHAR_WEIGHT = 1.5
WORD_WEIGHT = 0.5
SEED = 0
CHAR_RANGE = (2, 4)
WORD_RANGE = (1, 2)
WORD_TOKEN = r"[a-z0-9]+"
_SPACES = re.compile(r"\s\s+")
_WORDS = re.compile(WORD_TOKEN)


def char_ngrams(text: str) -> list[str]:
    """scikit-learn's `char_wb` analyzer: n-grams inside space-padded words."""
    grams: list[str] = []
    low, high = CHAR_RANGE
    for word in _SPACES.sub(" ", text).split():
        padded = f" {word} "
        for n in range(low, high + 1):
            if len(padded) <= n:  # a short word counts once, as the whole padded word
                grams.append(padded)
                break
            grams.extend(padded[i:i + n] for i in range(len(padded) - n + 1))
    return grams


def word_ngrams(text: str) -> list[str]:
    tokens = _WORDS.findall(text)
    grams = list(tokens)
    for n in range(WORD_RANGE[0] + 1, WORD_RANGE[1] + 1):
        grams.extend(" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
    return grams


def _tfidf_row(grams: list[str], vocab: dict[str, int], idf: np.ndarray, weight: float,
               offset: int) -> tuple[list[int], list[float]]:
    counts = Counter(g for g in grams if g in vocab)
    cols = [vocab[g] for g in counts]
    values = [(1.0 + math.log(n)) * float(idf[vocab[g]]) for g, n in counts.items()]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [offset + c for c in cols], [weight * v / norm for v in values]


@dataclass(frozen=True)
class IntentModel:
    classes: tuple[str, ...]
    char_vocab: dict[str, int]
    char_idf: np.ndarray
    word_vocab: dict[str, int]
    word_idf: np.ndarray
    coef: np.ndarray  # classes x (embedding + chars + words)
    intercept: np.ndarray

    def predict_proba(self, embeddings: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        dim = embeddings.shape[1]
        scores = embeddings @ self.coef[:, :dim].T + self.intercept
        words_at = dim + len(self.char_vocab)
        for row, text in enumerate(texts):
            lowered = text.lower()
            c_cols, c_vals = _tfidf_row(char_ngrams(lowered), self.char_vocab, self.char_idf,
                                        CHAR_WEIGHT, dim)
            w_cols, w_vals = _tfidf_row(word_ngrams(lowered), self.word_vocab, self.word_idf,
                                        WORD_WEIGHT, words_at)
            cols = c_cols + w_cols
            if cols:
                scores[row] += self.coef[:, cols] @ np.asarray(c_vals + w_vals)
        scores -= scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        return exp / exp.sum(axis=1, keepdims=True)

    def save(self, path: Path) -> None:
        """Plain arrays (no pickle), written to `path` in one piece by the caller's rename."""
        with path.open("wb") as fh:
            np.savez(fh, classes=np.array(self.classes),
                     char_terms=np.array(sorted(self.char_vocab, key=self.char_vocab.__getitem__)),
                     char_idf=self.char_idf,
                     word_terms=np.array(sorted(self.word_vocab, key=self.word_vocab.__getitem__)),
                     word_idf=self.word_idf, coef=self.coef, intercept=self.intercept)

    @classmethod
    def load(cls, path: Path) -> IntentModel:
        with np.load(path, allow_pickle=False) as data:
            return cls(classes=tuple(str(c) for c in data["classes"]),
                       char_vocab={str(t): i for i, t in enumerate(data["char_terms"])},
                       char_idf=data["char_idf"],
                       word_vocab={str(t): i for i, t in enumerate(data["word_terms"])},
                       word_idf=data["word_idf"], coef=data["coef"],
                       intercept=data["intercept"])


def fit_intent_model(embeddings: np.ndarray, texts: Sequence[str],
                     labels: Sequence[str]) -> IntentModel:
    """Fit the TF-IDF vocabularies and the logistic regression (scikit-learn, imported here)."""
    from scipy import sparse
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    lowered = [t.lower() for t in texts]
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=CHAR_RANGE, sublinear_tf=True)
    words = TfidfVectorizer(analyzer="word", ngram_range=WORD_RANGE, sublinear_tf=True,
                            token_pattern=WORD_TOKEN)
    features = sparse.hstack([sparse.csr_matrix(embeddings),
                              chars.fit_transform(lowered) * CHAR_WEIGHT,
                              words.fit_transform(lowered) * WORD_WEIGHT]).tocsr()
    model = LogisticRegression(C=C, max_iter=3000, random_state=SEED).fit(features, list(labels))
    if len(model.classes_) < 3:
        raise ValueError("the router needs examples of at least three intents")
    return IntentModel(classes=tuple(str(c) for c in model.classes_),
                       char_vocab={str(k): int(v) for k, v in chars.vocabulary_.items()},
                       char_idf=np.asarray(chars.idf_, dtype=np.float64),
                       word_vocab={str(k): int(v) for k, v in words.vocabulary_.items()},
                       word_idf=np.asarray(words.idf_, dtype=np.float64),
                       coef=np.asarray(model.coef_, dtype=np.float64),
                       intercept=np.asarray(model.intercept_, dtype=np.float64))
