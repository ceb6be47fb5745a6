"""A model-free `Embedder` for tests and benchmarks: hashed bag of words, unit length.

It ships with the seam (like httpx's MockTransport): tests build a real store and a real
search without loading MiniLM. Words that share a hash bucket are rare at 384 dimensions.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

import numpy as np

HASHING_NAME = "hashing-384"
_WORD = re.compile(r"[a-z0-9]+")


class HashingEmbedder:
    """Sign-hashed word counts (plus word bigrams) in 384 dimensions, L2-normalised."""

    name = HASHING_NAME

    def __init__(self, dims: int = 384) -> None:
        self.dims = dims

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dims), dtype=np.float32)
        for row, text in enumerate(texts):
            words = _WORD.findall(text.lower())
            for token in words + [a + " " + b for a, b in zip(words, words[1:], strict=False)]:
                h = zlib.crc32(token.encode())
                out[row, h % self.dims] += 1.0 if (h >> 16) & 1 else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return out / norms
