"""Sentence embeddings from the MiniLM model shipped as a PyPI package, loaded once and lazily.

Questions are embedded through ONNX Runtime (installed with chromadb): the packaged model is
exported once to `<cache>/onnx/` (`knowledge.onnx_export`, the only place torch is imported),
and from then on a cold process loads it in about 0.2 s instead of importing torch and
sentence-transformers (5-10 s). The vectors are the same as sentence-transformers' within 1e-4
cosine (tests/test_embeddings_onnx.py), so caches keyed by the model name stay valid. When ONNX
Runtime or the export is unavailable the embedder falls back to sentence-transformers and says
so once in the log. The hub is never contacted.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from knowledge.onnx_export import default_cache_dir, exported_model, model_dir

log = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2"
MAX_TOKENS = 256  # the model's sentence_bert_config.json max_seq_length
_BATCH = 64


class Embedder(Protocol):
    """Turns texts into unit-length vectors; the name identifies the model for caches."""

    name: str

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def _offline_env() -> None:
    for key, value in (("HF_HUB_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1"),
                       ("TOKENIZERS_PARALLELISM", "false"), ("HF_HUB_DISABLE_PROGRESS_BARS", "1"),
                       ("TRANSFORMERS_VERBOSITY", "error")):
        os.environ.setdefault(key, value)


class OnnxMiniLM:
    """The exported graph under ONNX Runtime, with the model's own tokenizer and mean pooling."""

    def __init__(self, onnx_file: Path, tokenizer_file: Path) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, os.cpu_count() or 1)
        options.log_severity_level = 3
        self._session = ort.InferenceSession(str(onnx_file), options,
                                             providers=["CPUExecutionProvider"])
        self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), 384), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # less padding per batch
        for start in range(0, len(order), _BATCH):
            index = order[start:start + _BATCH]
            encoded = self._tokenizer.encode_batch([texts[i] for i in index])
            ids = np.array([e.ids for e in encoded], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
            types = np.array([e.type_ids for e in encoded], dtype=np.int64)
            hidden = self._session.run(None, {"input_ids": ids, "attention_mask": mask,
                                              "token_type_ids": types})[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            out[index] = pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12,
                                          None)
        return out


class TorchMiniLM:
    """sentence-transformers on the CPU: the reference, and the fallback without ONNX."""

    def __init__(self, path: Path) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        # Measured here: with torch's default thread set-up one short sentence takes ~480 ms;
        # after an explicit set_num_threads it takes ~10 ms.
        torch.set_num_threads(max(1, os.cpu_count() or 1))
        self._model = SentenceTransformer(str(path), device="cpu")

    def encode(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self._model.encode(texts, batch_size=_BATCH, normalize_embeddings=True,
                                             show_progress_bar=False), dtype=np.float32)


class MiniLMEmbedder:
    """all-MiniLM-L6-v2, normalised 384-d vectors; ONNX Runtime when it can, else torch."""

    name = MODEL_NAME

    def __init__(self, cache_dir: Path | None = None, backend: str = "auto") -> None:
        if backend not in {"auto", "onnx", "torch"}:
            raise ValueError(f"embedding backend must be auto, onnx or torch, not {backend!r}")
        self.cache_dir = cache_dir
        self.backend = backend
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                _offline_env()
                path = model_dir()
                if self.backend != "torch":
                    try:
                        onnx_file = exported_model(path, self.cache_dir or default_cache_dir())
                        self._model = OnnxMiniLM(onnx_file, path / "tokenizer.json")
                    except Exception as exc:  # noqa: BLE001 - any failure: use the reference
                        if self.backend == "onnx":
                            raise
                        log.warning("ONNX embeddings unavailable (%s); using sentence-"
                                    "transformers", exc)
                if self._model is None:
                    self._model = TorchMiniLM(path)
        return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return self._load().encode(texts)


_shared: MiniLMEmbedder | None = None


def shared_embedder() -> MiniLMEmbedder:
    """One model per process: every part that embeds shares it."""
    global _shared
    if _shared is None:
        _shared = MiniLMEmbedder()
    return _shared
