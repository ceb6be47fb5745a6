"""The ONNX Runtime embedder against sentence-transformers, and a query path without torch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from knowledge.embeddings import MiniLMEmbedder

TEXTS = [
    "what is wrong with checkout?", "wat changed in teh last 2h", "p99 latency cart w/ redis",
    "x", "", "ERR max number of clients reached", "名前 émoji 🚀 and accents café",
    "The payment service failed every request after the pool filled. " * 40,  # > 256 tokens
]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("embed-cache")


def test_onnx_vectors_match_sentence_transformers(cache: Path) -> None:
    onnx = MiniLMEmbedder(cache_dir=cache, backend="onnx").embed(TEXTS)
    torch = MiniLMEmbedder(backend="torch").embed(TEXTS)
    assert onnx.shape == torch.shape == (len(TEXTS), 384)
    assert np.allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-5)
    assert (onnx * torch).sum(axis=1).min() > 1 - 1e-4
    assert len(list((cache / "onnx").glob("minilm-*.onnx"))) == 1


def test_a_cold_process_embeds_without_importing_torch(cache: Path) -> None:
    MiniLMEmbedder(cache_dir=cache, backend="onnx").embed(["export first"])
    code = ("import sys; from knowledge.embeddings import shared_embedder; "
            "v = shared_embedder().embed(['why is cart slow']); "
            "print(v.shape, 'torch' in sys.modules, 'sentence_transformers' in sys.modules)")
    env = {**os.environ, "OPSCOPILOT_CACHE_DIR": str(cache)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          cwd=Path(__file__).resolve().parents[1], timeout=120, check=True)
    assert done.stdout.split() == ["(1,", "384)", "False", "False"]


def test_empty_input_and_bad_backend() -> None:
    assert MiniLMEmbedder(backend="onnx").embed([]).shape == (0, 384)
    with pytest.raises(ValueError, match="auto, onnx or torch"):
        MiniLMEmbedder(backend="tf")
