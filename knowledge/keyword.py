"""BM25 keyword scoring over the stored chunks (Chroma's own BM25 is not available locally).

Pure numpy/scipy: a sparse document-term matrix of BM25 weights, built once per store version;
a query sums a few columns. Tokens are lower-cased, CamelCase alert names are split into words as
well as kept whole (`KubePodCrashLooping` -> kubepodcrashlooping, kube, pod, crash, looping),
and a light suffix stemmer folds plurals and -ing/-ed forms.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from scipy import sparse

_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9_]*|\d+(?:\.\d+)?")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_STOP_TEXT = """a an and are as at be been but by can could did do does for from had has
have how i if in into is it its me my no not of on or our so than that the their them then there
these they this to was we were what when where which while who why will with would you your
any all just about after again also very seen happen happened happening before ever get got
"""
STOPWORDS = frozenset(_STOP_TEXT.split())


def stem(word: str) -> str:
    """A deliberately tiny stemmer: enough to match timeout/timeouts, fail/failing/failed."""
    for suffix, keep in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            return word[: len(word) - len(suffix)] + keep
    return word


@lru_cache(maxsize=200_000)
def _word_tokens(raw: str) -> tuple[str, ...]:
    lower = raw.lower()
    tokens: list[str] = []
    parts = _CAMEL.findall(raw) if any(c.isupper() for c in raw[1:]) else []
    if lower not in STOPWORDS:
        tokens.append(stem(lower))
    tokens.extend(stem(p.lower()) for p in parts
                  if len(parts) > 1 and p.lower() not in STOPWORDS)
    if "_" in lower:
        tokens.extend(stem(p) for p in lower.split("_") if p and p not in STOPWORDS)
    return tuple(tokens)


def tokenize(text: str) -> list[str]:
    """Index/query tokens: lower-cased, stemmed, stopwords dropped, CamelCase also split."""
    tokens: list[str] = []
    for raw in _TOKEN.findall(text):
        tokens.extend(_word_tokens(raw))
    return tokens


class BM25Index:
    """Okapi BM25 (k1=1.2, b=0.75) over a fixed list of texts."""

    def __init__(self, texts: Sequence[str], k1: float = 1.2, b: float = 0.75) -> None:
        vocab: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        for row, text in enumerate(texts):
            for token in tokenize(text):
                rows.append(row)
                cols.append(vocab.setdefault(token, len(vocab)))
        self.vocab = vocab
        n_docs = len(texts)
        shape = (n_docs, max(1, len(vocab)))
        tf = sparse.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=shape)
        tf.sum_duplicates()
        lengths = np.asarray(tf.sum(axis=1)).ravel()
        avg = float(lengths.mean()) if n_docs else 1.0
        df = np.bincount(tf.indices, minlength=shape[1]).astype(np.float32)
        idf = np.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
        norm = k1 * (1 - b + b * lengths / max(avg, 1e-9))
        tf = tf.tocoo()
        weights = tf.data * (k1 + 1) / (tf.data + norm[tf.row]) * idf[tf.col]
        self.matrix = sparse.csc_matrix((weights.astype(np.float32), (tf.row, tf.col)),
                                        shape=shape)
        self.size = n_docs

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every text for the query (zeros when no term is known)."""
        ids = sorted({self.vocab[t] for t in tokenize(query) if t in self.vocab})
        if not ids or self.size == 0:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self.matrix[:, ids].sum(axis=1)).ravel()
