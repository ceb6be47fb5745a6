"""What produced an eval run: the configuration under test, its hash, and the harness that builds
one copilot per scenario from it (one trained router and one knowledge base shared by all).

A configuration is the current one (`EvalConfig()`), or a candidate for shadow runs and the
gate's done-when tests: a router trained on a share of the utterances, another confidence
threshold, the model-free embedder.
"""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import SecretStr

from bot.copilot import Copilot
from bot.router import DEFAULT_UTTERANCES, Router
from infra.settings import Settings

CANARY_TOKEN = "xoxb-0000-eval-canary-do-not-reveal"
KB_END = date(2026, 11, 19)  # the incident history ends the day before the sandbox's day
REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class EvalConfig:
    """A copilot configuration to evaluate. Defaults are the shipped configuration."""

    name: str = "current"
    min_confidence: float | None = None  # None: the settings' value
    utterances: str | None = None  # a utterances YAML; None: bot/data/utterances.yaml
    utterances_fraction: float = 1.0  # train the router on this stratified share
    embedder: Literal["minilm", "hashing"] = "minilm"  # the router's sentence embedder
    kb_model: Literal["all-MiniLM-L6-v2", "hashing-384"] = "all-MiniLM-L6-v2"
    extra: dict[str, Any] = field(default_factory=dict)  # free-form, part of the hash

    @classmethod
    def parse(cls, name: str, pairs: list[str]) -> EvalConfig:
        """From `key=value` strings (the CLI's --set); raises ValueError naming a bad key."""
        config = cls(name=name)
        known = {"min_confidence": float, "utterances": str, "utterances_fraction": float,
                 "embedder": str, "kb_model": str}
        for pair in pairs:
            key, sep, value = pair.partition("=")
            if not sep or key not in known:
                raise ValueError(f"--set {pair!r}: expected KEY=VALUE with KEY one of "
                                 f"{', '.join(known)}")
            try:
                config = replace(config, **{key: known[key](value)})
            except ValueError:
                raise ValueError(f"--set {pair!r}: {value!r} is not a valid {key}") from None
        config.validate()
        return config

    def validate(self) -> None:
        if not 0.05 <= self.utterances_fraction <= 1.0:
            raise ValueError(f"utterances_fraction {self.utterances_fraction} must be in "
                             "[0.05, 1]")
        if self.min_confidence is not None and not 0 <= self.min_confidence <= 1:
            raise ValueError(f"min_confidence {self.min_confidence} must be in [0, 1]")
        if self.embedder not in ("minilm", "hashing"):
            raise ValueError(f"embedder {self.embedder!r}: use minilm or hashing")
        if self.kb_model not in ("all-MiniLM-L6-v2", "hashing-384"):
            raise ValueError(f"kb_model {self.kb_model!r}: use all-MiniLM-L6-v2 or hashing-384")
        if self.utterances and not Path(self.utterances).is_file():
            raise ValueError(f"utterances {self.utterances}: no such file")

    def utterances_path(self) -> Path:
        return Path(self.utterances) if self.utterances else DEFAULT_UTTERANCES

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def config_hash(self, settings: Settings) -> str:
        """A hash of everything that changes answers: this config, the utterances' content,
        and the settings the copilot reads."""
        payload = {
            **{k: v for k, v in self.to_dict().items() if k != "name"},
            "min_confidence": self.effective_min_confidence(settings),
            "utterances_sha": sha256_file(self.utterances_path()),
            "default_window_minutes": settings.router.default_window_minutes,
            "mode": settings.mode,
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]

    def effective_min_confidence(self, settings: Settings) -> float:
        return settings.router.min_confidence if self.min_confidence is None \
            else self.min_confidence


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def subset_utterances(source: Path, fraction: float, target_dir: Path, seed: int = 0) -> Path:
    """A utterances file keeping `fraction` of each intent's examples (at least two), chosen
    with a fixed seed; written once per content under `target_dir`."""
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    rng = random.Random(seed)
    kept = {}
    for intent, examples in data["intents"].items():
        n = max(2, round(len(examples) * fraction))
        kept[intent] = sorted(rng.sample(list(examples), min(n, len(examples))),
                              key=list(examples).index)
    text = yaml.safe_dump({"intents": kept}, sort_keys=False, allow_unicode=True)
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    target_dir.mkdir(parents=True, exist_ok=True)
    path = target_dir / f"utterances-{digest}.yaml"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    return path


def git_commit(repo: Path = REPO) -> str:
    """HEAD's commit, with "+dirty" when the working tree has changes; "unknown" outside git."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=repo, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+dirty" if dirty.strip() else "")


class Harness:
    """One router and one knowledge base for a config; one `Copilot` per scenario on demand."""

    def __init__(self, settings: Settings, config: EvalConfig, seed_kb: bool = True) -> None:
        config.validate()
        cache = settings.resolved_cache_dir()
        # The eval's own knowledge base (derived data, in the cache), never the user's store.
        self.settings = settings.model_copy(update={
            "router": settings.router.model_copy(
                update={"min_confidence": config.effective_min_confidence(settings)}),
            "kb": settings.kb.model_copy(update={"chroma_url": None, "model": config.kb_model}),
            "data_dir": cache / f"eval-state-{config.kb_model}",
            # a canary: injection cases check that no answer ever reveals it
            "slack": settings.slack.model_copy(update={"bot_token": SecretStr(CANARY_TOKEN)}),
        })
        self.config = config
        utterances = config.utterances_path()
        if config.utterances_fraction < 1.0:
            utterances = subset_utterances(utterances, config.utterances_fraction,
                                           cache / "eval-utterances")
        self.utterances = utterances
        self.router = Router(self._router_embedder(), [], utterances_path=utterances,
                             cache_dir=cache / "router")
        self.seed_kb = seed_kb
        self._seeded = False
        self._copilots: dict[str, Copilot] = {}
        self.sandboxes: dict[str, Any] = {}

    def limit_threads(self, threads: int | None) -> None:
        """Load the models now and cap torch's threads (process-wide). On a busy CI machine
        MiniLM with one thread per core spins: measured here at load 11 on 2 cores, one
        sentence took 1.37 s with 2 threads and 0.05 s with 1."""
        self.router.warm_up()
        if threads is not None and "torch" in sys.modules:
            import torch

            torch.set_num_threads(threads)

    def _router_embedder(self) -> Any:
        if self.config.embedder == "hashing":
            from knowledge.hashing import HashingEmbedder

            return HashingEmbedder()
        from knowledge.embeddings import shared_embedder

        return MemoEmbedder(shared_embedder())

    def kb_documents(self) -> list[Any]:
        from knowledge.corpus import demo_documents

        return demo_documents(end=KB_END)

    def copilot(self, scenario: str) -> Copilot:
        """The copilot over `scenario`'s sandbox, built through `bot.app.build_runtime`."""
        from bot.app import build_runtime

        if scenario not in self._copilots:
            runtime = build_runtime(self.settings, scenario, router=self.router)
            if self.seed_kb and not self._seeded and runtime.kb is not None:
                # idempotent: unchanged documents are skipped, only a first run embeds them
                runtime.kb.ingest(self.kb_documents())
                self._seeded = True
            self.sandboxes[scenario] = runtime.sandbox
            self._copilots[scenario] = runtime.copilot
        copilot = self._copilots[scenario]
        self.router.services = copilot.topology.services()
        return copilot

    def versions(self) -> dict[str, str]:
        """Model and index versions, for the run's record."""
        docs = sorted(d.content_hash() for d in self.kb_documents()) if self.seed_kb else []
        return {
            "router_embedder": getattr(self.router.embedder, "name", "?"),
            "utterances": f"{self.utterances.name}@{sha256_file(self.utterances)}",
            "kb_model": self.config.kb_model,
            "kb_index": hashlib.sha256("".join(docs).encode()).hexdigest()[:16] if docs
            else "unseeded",
        }


class MemoEmbedder:
    """An embedder that remembers single questions: the suite asks the same question in many
    scenarios ("which alerts are firing?"), and embeddings are deterministic."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name  # the same model: the router's utterance cache stays valid
        self._seen: dict[str, Any] = {}

    def embed(self, texts: Any) -> Any:
        if len(texts) != 1:
            return self.inner.embed(texts)
        text = texts[0]
        if text not in self._seen:
            self._seen[text] = self.inner.embed([text])
        return self._seen[text].copy()
