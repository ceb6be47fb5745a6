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


def _widened(m: sparse.csc_matrix, width: int) -> sparse.csc_matrix:
    """The same counts with empty columns for terms added to the vocabulary later."""
    if m.shape[1] >= width:
        return m
    indptr = np.concatenate([m.indptr, np.full(width - m.shape[1], m.indptr[-1])])
    return sparse.csc_matrix((m.data, m.indices, indptr), shape=(m.shape[0], width))


class BM25Index:
    """Okapi BM25 (k1=1.2, b=0.75) over texts that can be added and removed.

    Raw term counts are kept in segments (a CSC matrix per batch of added texts, as search
    engines keep segments) with a mask of live rows; document frequencies, the live count and
    the average length are worked out from the live rows at query time, for the query's terms
    only. So adding a batch costs only tokenizing that batch, removing costs nothing, and the
    scores equal those of an index rebuilt from the live texts. `compacted()` merges segments.
    """

    def __init__(self, texts: Sequence[str] = (), k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.vocab: dict[str, int] = {}
        self.segments: list[tuple[int, sparse.csc_matrix]] = []  # (first row, counts)
        self.lengths = np.zeros(0, dtype=np.float32)
        self.alive = np.zeros(0, dtype=bool)
        if texts:
            self.add(texts)

    @property
    def size(self) -> int:
        """Rows ever added (live or removed); row numbers are never reused."""
        return len(self.alive)

    def add(self, texts: Sequence[str]) -> range:
        """Index more texts; returns their row numbers."""
        rows: list[int] = []
        cols: list[int] = []
        for row, text in enumerate(texts):
            for token in tokenize(text):
                rows.append(row)
                cols.append(self.vocab.setdefault(token, len(self.vocab)))
        shape = (len(texts), max(1, len(self.vocab)))
        counts = sparse.csc_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)),
                                   shape=shape)
        counts.sum_duplicates()
        first = self.size
        self.segments.append((first, counts))
        self.lengths = np.concatenate([self.lengths,
                                       np.asarray(counts.sum(axis=1), np.float32).ravel()])
        self.alive = np.concatenate([self.alive, np.ones(len(texts), dtype=bool)])
        return range(first, self.size)

    def remove(self, rows: Sequence[int] | np.ndarray) -> None:
        self.alive[np.asarray(rows, dtype=np.int64)] = False

    def copy(self) -> BM25Index:
        """A copy whose changes do not touch this index (segments are shared: never mutated)."""
        twin = BM25Index.__new__(BM25Index)
        twin.k1, twin.b = self.k1, self.b
        twin.vocab = dict(self.vocab)
        twin.segments = list(self.segments)
        twin.lengths, twin.alive = self.lengths.copy(), self.alive.copy()
        return twin

    def compacted(self) -> tuple[BM25Index, np.ndarray]:
        """One segment of the live rows; returns it and, per old row, its new row (-1: gone)."""
        width = max(1, len(self.vocab))
        blocks = [_widened(m, width) for _, m in self.segments]
        merged = sparse.vstack(blocks, format="csr") if blocks else sparse.csr_matrix((0, width))
        keep = np.flatnonzero(self.alive)
        new_row = np.full(self.size, -1, dtype=np.int64)
        new_row[keep] = np.arange(len(keep))
        twin = BM25Index.__new__(BM25Index)
        twin.k1, twin.b, twin.vocab = self.k1, self.b, dict(self.vocab)
        twin.segments = [(0, sparse.csc_matrix(merged[keep]))] if len(keep) else []
        twin.lengths, twin.alive = self.lengths[keep], np.ones(len(keep), dtype=bool)
        return twin, new_row

    def _postings(self, term: int) -> tuple[np.ndarray, np.ndarray]:
        """Live rows containing the term, and the term's count in each."""
        rows, counts = [], []
        for first, m in self.segments:
            if term < m.shape[1]:
                lo, hi = m.indptr[term], m.indptr[term + 1]
                rows.append(m.indices[lo:hi] + first)
                counts.append(m.data[lo:hi])
        if not rows:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        r, c = np.concatenate(rows), np.concatenate(counts)
        live = self.alive[r]
        return r[live], c[live]

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every row for the query (zeros for removed rows and unknown terms)."""
        out = np.zeros(self.size, dtype=np.float32)
        terms = sorted({self.vocab[t] for t in tokenize(query) if t in self.vocab})
        n_live = int(self.alive.sum())
        if not terms or n_live == 0:
            return out
        avg = max(float(self.lengths[self.alive].mean()), 1e-9)
        for term in terms:
            rows, counts = self._postings(term)
            if not len(rows):
                continue
            idf = np.log(1.0 + (n_live - len(rows) + 0.5) / (len(rows) + 0.5))
            norm = self.k1 * (1 - self.b + self.b * self.lengths[rows] / avg)
            out[rows] += (counts * (self.k1 + 1) / (counts + norm) * idf).astype(np.float32)
        return out
