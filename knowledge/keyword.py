"""BM25 keyword scoring over the stored chunks (Chroma's own BM25 is not available locally).

Pure numpy: column-compressed term counts per batch of texts (no scipy: a cold `ask` should
not pay for importing it); a query sums a few columns. Tokens are lower-cased, CamelCase alert
names are split into words as well as kept whole (`KubePodCrashLooping` -> kubepodcrashlooping,
kube, pod, crash, looping), and a light suffix stemmer folds plurals and -ing/-ed forms.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

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


@dataclass(frozen=True)
class Segment:
    """Raw term counts of one batch of texts, column-compressed: the rows holding term t are
    `indices[indptr[t]:indptr[t + 1]]` (batch-relative), their counts the same slice of `data`.
    Plain numpy arrays, so loading a saved index imports nothing heavier than numpy."""

    first: int  # row number of the batch's first text
    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray

    @property
    def terms(self) -> int:
        return len(self.indptr) - 1


def _segment(first: int, rows: np.ndarray, terms: np.ndarray, counts: np.ndarray,
             width: int) -> Segment:
    """A segment from (row, term, count) triples; repeated (row, term) pairs are summed."""
    n_rows = int(rows.max()) + 1 if len(rows) else 1
    pairs, inverse = np.unique(terms * n_rows + rows, return_inverse=True)
    summed = np.bincount(inverse, weights=counts, minlength=len(pairs)).astype(np.float32)
    term_of, row_of = np.divmod(pairs, n_rows)
    indptr = np.zeros(width + 1, dtype=np.int64)
    np.cumsum(np.bincount(term_of, minlength=width), out=indptr[1:])
    return Segment(first, indptr, row_of.astype(np.int64), summed)


def _triples(seg: Segment) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The segment's (absolute row, term, count) triples."""
    terms = np.repeat(np.arange(seg.terms, dtype=np.int64), np.diff(seg.indptr))
    return seg.indices + seg.first, terms, seg.data


class BM25Index:
    """Okapi BM25 (k1=1.2, b=0.75) over texts that can be added and removed.

    Raw term counts are kept in segments (a column-compressed block per batch of added texts,
    as search engines keep segments) with a mask of live rows; document frequencies, the live
    count and the average length are worked out from the live rows at query time, for the
    query's terms only. So adding a batch costs only tokenizing that batch, removing costs
    nothing, and the scores equal those of an index rebuilt from the live texts.
    `compacted()` merges segments.
    """

    def __init__(self, texts: Sequence[str] = (), k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.vocab: dict[str, int] = {}
        self.segments: list[Segment] = []
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
        r, c = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
        first = self.size
        self.segments.append(_segment(first, r, c, np.ones(len(r)), max(1, len(self.vocab))))
        self.lengths = np.concatenate([self.lengths, np.bincount(
            r, minlength=len(texts)).astype(np.float32)])
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
        keep = np.flatnonzero(self.alive)
        new_row = np.full(self.size, -1, dtype=np.int64)
        new_row[keep] = np.arange(len(keep))
        twin = BM25Index.__new__(BM25Index)
        twin.k1, twin.b, twin.vocab = self.k1, self.b, dict(self.vocab)
        twin.segments = []
        if len(keep) and self.segments:
            parts = [_triples(seg) for seg in self.segments]
            rows = np.concatenate([p[0] for p in parts])
            terms = np.concatenate([p[1] for p in parts])
            counts = np.concatenate([p[2] for p in parts])
            live = self.alive[rows]
            twin.segments = [_segment(0, new_row[rows[live]], terms[live], counts[live],
                                      max(1, len(self.vocab)))]
        twin.lengths, twin.alive = self.lengths[keep], np.ones(len(keep), dtype=bool)
        return twin, new_row

    def _postings(self, term: int) -> tuple[np.ndarray, np.ndarray]:
        """Live rows containing the term, and the term's count in each."""
        rows, counts = [], []
        for seg in self.segments:
            if term < seg.terms:
                lo, hi = seg.indptr[term], seg.indptr[term + 1]
                rows.append(seg.indices[lo:hi] + seg.first)
                counts.append(seg.data[lo:hi])
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
