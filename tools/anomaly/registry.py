"""Fitted detector state on disk: versions, aliases (current, shadow), promote and roll back.

Layout under `<data_dir>/models/`:

    <name>/<version>/manifest.json   version, created, training window, parameters, sha256 of
                                     each state file, scores on the sandbox suite
    <name>/<version>/<state files>   e.g. config.json, forests.joblib
    <name>/aliases.json              {"current": "v2", "shadow": "v3", "history": ["v1"]}

A version directory is written under a temporary name and renamed into place; aliases are
replaced atomically, so a crash never leaves a half-written model or alias file.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,40}$")


class ModelError(ValueError):
    """A model, version or alias that does not exist or cannot be used; says what to do."""


@dataclass
class Manifest:
    name: str
    version: str
    created: str
    training: dict[str, Any]
    parameters: dict[str, Any]
    files: dict[str, str] = field(default_factory=dict)  # file name -> sha256
    scores: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _write_json(path: Path, data: Any) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
        fh.write("\n")
    os.replace(tmp, path)


SUITE_METRICS = ("precision", "recall")


def scores_below(new: dict[str, Any], current: dict[str, Any]) -> str:
    """Which suite metrics of `new` are below `current`'s ("" when none, or not comparable)."""
    worse = []
    for metric in SUITE_METRICS:
        a, b = new.get(metric), current.get(metric)
        if isinstance(a, int | float) and isinstance(b, int | float) and a < b:
            worse.append(f"{metric} {a:.3f} < {b:.3f}")
    return ", ".join(worse)


class ModelRegistry:
    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def under(cls, data_dir: Path) -> ModelRegistry:
        return cls(data_dir / "models")

    def _dir(self, name: str) -> Path:
        if not _NAME.match(name):
            raise ModelError(f"model name {name!r}: use lower-case letters, digits, - and _")
        return self.root / name

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / "aliases.json").is_file()
                      or any(p.glob("v*/manifest.json")))

    def versions(self, name: str) -> list[str]:
        d = self._dir(name)
        found = [p.name for p in d.glob("v*") if (p / "manifest.json").is_file()]
        return sorted(found, key=lambda v: int(v[1:]) if v[1:].isdigit() else 0)

    def aliases(self, name: str) -> dict[str, Any]:
        path = self._dir(name) / "aliases.json"
        if not path.is_file():
            return {"current": None, "shadow": None, "history": []}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ModelError(f"{path} is not valid JSON; fix or delete it") from None
        return {"current": data.get("current"), "shadow": data.get("shadow"),
                "history": list(data.get("history", []))}

    def manifest(self, name: str, version: str) -> Manifest:
        path = self._dir(name) / version / "manifest.json"
        if not path.is_file():
            known = ", ".join(self.versions(name)) or "none yet (run `opscopilot model fit`)"
            raise ModelError(f"model {name} has no version {version!r} (versions: {known})")
        return Manifest(**json.loads(path.read_text(encoding="utf-8")))

    def resolve(self, name: str, ref: str = "current") -> tuple[Manifest, Path]:
        """A version by alias (current, shadow) or by name (v3): its manifest and directory,
        with every state file checked against its sha256."""
        version = self.aliases(name).get(ref) if ref in ("current", "shadow") else ref
        if not version:
            raise ModelError(f"model {name} has no {ref} version "
                             f"(run `opscopilot model fit {name}` first)")
        man = self.manifest(name, str(version))
        d = self._dir(name) / str(version)
        for file, digest in man.files.items():
            if sha256_file(d / file) != digest:
                raise ModelError(f"model {name} {version}: {file} does not match its sha256 in "
                                 f"the manifest (the file changed); fit a new version")
        return man, d

    def save(self, name: str, files: dict[str, bytes], training: dict[str, Any],
             parameters: dict[str, Any], scores: dict[str, Any]) -> Manifest:
        """Write a new version; it becomes current when there is none, else the shadow."""
        d = self._dir(name)
        d.mkdir(parents=True, exist_ok=True)
        existing = self.versions(name)
        version = f"v{int(existing[-1][1:]) + 1 if existing else 1}"
        tmp = Path(tempfile.mkdtemp(dir=d, prefix=".tmp-"))
        try:
            digests = {}
            for file, data in files.items():
                (tmp / file).write_bytes(data)
                digests[file] = sha256_file(tmp / file)
            man = Manifest(name, version, datetime.now(UTC).isoformat(timespec="seconds"),
                           training, parameters, digests, scores)
            _write_json(tmp / "manifest.json", man.to_json())
            tmp.rename(d / version)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        aliases = self.aliases(name)
        if aliases["current"] is None:
            aliases["current"] = version
        else:
            aliases["shadow"] = version
        _write_json(d / "aliases.json", aliases)
        return man

    def promote(self, name: str, version: str | None = None,
                force: bool = False) -> dict[str, Any]:
        """Make `version` (default: the shadow) current; the old current goes to history.

        A version whose suite scores (precision, recall) fall below the current one's is
        refused unless `force`: a model fitted on a faulty day must not go live silently."""
        aliases = self.aliases(name)
        target = version or aliases["shadow"]
        if not target:
            raise ModelError(f"model {name} has no shadow version to promote "
                             f"(fit one, or name a version)")
        new = self.manifest(name, target)
        if aliases["current"] and aliases["current"] != target and not force:
            worse = scores_below(new.scores, self.manifest(name, aliases["current"]).scores)
            if worse:
                raise ModelError(f"model {name} {target} scores below the current "
                                 f"{aliases['current']} ({worse}); promote with --force to "
                                 f"make it current anyway")
        if aliases["current"] and aliases["current"] != target:
            aliases["history"].append(aliases["current"])
        aliases["current"] = target
        if aliases["shadow"] == target:
            aliases["shadow"] = None
        _write_json(self._dir(name) / "aliases.json", aliases)
        return aliases

    def rollback(self, name: str) -> dict[str, Any]:
        """Make the previous current version current again."""
        aliases = self.aliases(name)
        if not aliases["history"]:
            raise ModelError(f"model {name} has no earlier version to roll back to")
        aliases["current"] = aliases["history"].pop()
        _write_json(self._dir(name) / "aliases.json", aliases)
        return aliases
