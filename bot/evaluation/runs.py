"""Stored eval runs: one JSON file per run under `<data_dir>/evals/runs/`, holding what produced
it (git commit, config and its hash, mode, model and index versions, the cases asked) and every
case's result. Written atomically; `compare_runs` lines two runs up score by score and case by
case.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.evaluation.runner import SCORES, CaseResult, summarize


class RunNotFound(LookupError):
    """No stored run by that id; the message lists what exists."""


def make_run(results: Sequence[CaseResult], *, config: dict[str, Any], config_hash: str,
             mode: str, versions: dict[str, str], git_commit: str, tags: Sequence[str],
             duration_s: float, created: datetime | None = None) -> dict[str, Any]:
    created = created or datetime.now(UTC)
    return {
        "id": f"{created:%Y%m%d-%H%M%S}-{config_hash[:6]}",
        "created": created.isoformat(timespec="seconds"),
        "git_commit": git_commit,
        "config": config,
        "config_hash": config_hash,
        "mode": mode,
        "versions": versions,
        "selection": {"tags": list(tags), "cases": len(results)},
        "duration_s": round(duration_s, 1),
        "summary": summarize(results),
        "results": [r.to_dict() for r in results],
    }


def run_results(run: dict[str, Any]) -> list[CaseResult]:
    return [CaseResult.from_dict(r) for r in run["results"]]


class RunStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @classmethod
    def from_settings(cls, settings: Any) -> RunStore:
        return cls(settings.resolved_data_dir() / "evals" / "runs")

    def save(self, run: dict[str, Any]) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{run['id']}.json"
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        tmp.write_text(json.dumps(run, indent=1), encoding="utf-8")
        os.replace(tmp, path)
        return path

    def ids(self) -> list[str]:
        """Stored run ids, oldest first: by when they were written (two runs in one second share
        the id's time and would otherwise order by their config hash), then by id."""
        if not self.folder.is_dir():
            return []
        files = sorted(self.folder.glob("*.json"), key=lambda f: (f.stat().st_mtime_ns, f.stem))
        return [f.stem for f in files]

    def load(self, ref: str) -> dict[str, Any]:
        """A run by id, unique id prefix, "latest", "previous", or a path to a run file."""
        path = Path(ref)
        if ref.endswith(".json") and path.is_file():
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            return data
        ids = self.ids()
        if not ids:
            raise RunNotFound(f"no stored eval runs in {self.folder}: run `opscopilot eval run`")
        if ref in ("latest", "previous"):
            if ref == "previous" and len(ids) < 2:
                raise RunNotFound("only one stored run: there is no previous one")
            chosen = ids[-1] if ref == "latest" else ids[-2]
        else:
            matches = [i for i in ids if i.startswith(ref)]
            if len(matches) != 1:
                shown = ", ".join(ids[-5:])
                what = "no" if not matches else "more than one"
                raise RunNotFound(f"{what} stored run matches {ref!r} (latest: {shown})")
            chosen = matches[0]
        loaded: dict[str, Any] = json.loads((self.folder / f"{chosen}.json").read_text("utf-8"))
        return loaded

    def all(self, last: int | None = None) -> list[dict[str, Any]]:
        ids = self.ids()
        return [self.load(i) for i in (ids[-last:] if last else ids)]


@dataclass
class Comparison:
    rows: list[tuple[str, str, float | None, float | None]]  # scope, score, a, b
    fixed: list[str]  # case ids failing in A, passing in B
    broken: list[str]  # passing in A, failing in B
    only_a: list[str]
    only_b: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"rows": [{"scope": s, "score": n, "a": a, "b": b,
                          "delta": None if a is None or b is None else b - a}
                         for s, n, a, b in self.rows],
                "fixed": self.fixed, "broken": self.broken,
                "only_a": self.only_a, "only_b": self.only_b}


def compare_runs(a: dict[str, Any], b: dict[str, Any]) -> Comparison:
    """Scores of both runs over the cases they share, and the cases whose verdict changed."""
    ra = {r.id: r for r in run_results(a)}
    rb = {r.id: r for r in run_results(b)}
    common = [i for i in ra if i in rb]
    sa = summarize([ra[i] for i in common])
    sb = summarize([rb[i] for i in common])
    rows: list[tuple[str, str, float | None, float | None]] = []
    for name in (*SCORES, "p50_ms", "p95_ms"):
        rows.append(("overall", name, sa["overall"].get(name), sb["overall"].get(name)))
    for cap in sorted(set(sa["capabilities"]) | set(sb["capabilities"])):
        for name in SCORES:
            rows.append((cap, name, sa["capabilities"].get(cap, {}).get(name),
                         sb["capabilities"].get(cap, {}).get(name)))
    return Comparison(
        rows=rows,
        fixed=[i for i in common if not ra[i].passed and rb[i].passed],
        broken=[i for i in common if ra[i].passed and not rb[i].passed],
        only_a=sorted(set(ra) - set(rb)), only_b=sorted(set(rb) - set(ra)))
