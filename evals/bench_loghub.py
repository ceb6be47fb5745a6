"""Benchmark: log template mining on real Loghub-2k systems, raw lines and message column.

For every system folder under `--data` (`<Sys>/<Sys>_2k.log` with `_structured.csv` and
`_structured_corrected.csv`; by default the dev split in `/work/shared/data/loghub-dev`), a fresh
`TemplateMiner` mines (1) the raw lines, header included, as `opscopilot logs templates` sees a
file of unknown origin, and (2) the labelled message column (`Content`), as Drain is usually
scored. Each is scored against the corrected ground truth (primary) and the original one by

- GA, grouping accuracy (Zhu et al., ICSE-SEIP 2019): share of lines whose predicted group holds
  exactly the lines of their true group;
- FGA, the F1 of groups (Jiang et al., Loghub-2.0, 2024): a predicted group is right when its
  lines are exactly one true group's;
- PA, parsing accuracy: share of lines whose message template text equals the truth's, after
  `normalise` (runs of `<*>` joined by spaces or punctuation become one `<*>`).

Side by side in the same run: drain3 (defaults, a benchmark-only dependency: `pip install
.[bench]`) on the same inputs, and the published Drain GA (tuned per system, message column,
original truth). The miner's tunables, `similarity` and `variants`, are also chosen
leave-one-system-out: for each system the pair maximising the mean raw GA of the others,
scored on the held-out one.
`lines_per_s` is end to end through the CLI command (file read, mining, CSV write) over every
raw file, on one core.

    .venv/bin/python -m evals.bench_loghub [--data DIR] [--json]
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tools.anomaly.logtemplates import TemplateMiner, grouping_accuracy, miner_for

DEFAULT_DATA = Path("/work/shared/data/loghub-dev")
SIMILARITY_GRID = (0.4, 0.5, 0.6, 0.7)
VARIANTS_GRID = (2, 3, 4, 5)
PUBLISHED_DRAIN_GA = {"HDFS": 0.998, "Spark": 0.920, "BGL": 0.963, "Windows": 0.997,
                      "Linux": 0.690, "HealthApp": 0.780, "OpenSSH": 0.787, "Mac": 0.786}
_JOINED = re.compile(r"<\*>(?:[^\w<>]*<\*>)+")
_SPACES = re.compile(r"\s+")


@dataclass
class System:
    name: str
    raw: list[str]
    content: list[str]
    truth: list[str]  # corrected EventId per line
    truth_text: list[str]  # corrected EventTemplate per line
    original: list[str]  # original EventId per line
    path: Path


@dataclass
class Scores:
    ga: float
    fga: float
    pa: float
    ga_original: float
    templates: int


def normalise(template: str) -> str:
    """Template text compared for PA: `<*>` runs joined by spaces or punctuation are one."""
    return _SPACES.sub(" ", _JOINED.sub("<*>", template)).strip()


def group_f1(truth: Sequence[str], predicted: Sequence[object]) -> float:
    """F1 of groups: a predicted group is right when it holds exactly one true group's lines."""
    by_pred: dict[object, set[int]] = defaultdict(set)
    by_true: dict[str, set[int]] = defaultdict(set)
    for i, (t, p) in enumerate(zip(truth, predicted, strict=True)):
        by_pred[p].add(i)
        by_true[t].add(i)
    right = sum(1 for members in by_pred.values()
                if by_true[truth[next(iter(members))]] == members)
    precision, recall = right / max(1, len(by_pred)), right / max(1, len(by_true))
    return 2 * precision * recall / (precision + recall) if right else 0.0


def parsing_accuracy(truth_text: Sequence[str], predicted_text: Sequence[str]) -> float:
    same = sum(1 for t, p in zip(truth_text, predicted_text, strict=True)
               if normalise(t) == normalise(p))
    return same / max(1, len(truth_text))


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def load_systems(data: Path) -> list[System]:
    systems = []
    for folder in sorted(p for p in data.iterdir() if p.is_dir()):
        name = folder.name
        raw_path = folder / f"{name}_2k.log"
        if not raw_path.exists():
            continue
        with raw_path.open(encoding="utf-8", errors="replace", newline="") as fh:
            raw = [line.rstrip("\r\n") for line in fh.read().split("\n")]
        corrected = _rows(folder / f"{name}_2k.log_structured_corrected.csv")
        original = _rows(folder / f"{name}_2k.log_structured.csv")
        raw = raw[:len(corrected)]
        systems.append(System(name, raw, [r["Content"] for r in corrected],
                              [r["EventId"] for r in corrected],
                              [r["EventTemplate"] for r in corrected],
                              [r["EventId"] for r in original], raw_path))
    return systems


def score(system: System, ids: Sequence[object], texts: Sequence[str], n_templates: int) -> Scores:
    return Scores(grouping_accuracy(system.truth, ids),  # type: ignore[arg-type]
                  group_f1(system.truth, ids), parsing_accuracy(system.truth_text, texts),
                  grouping_accuracy(system.original, ids), n_templates)  # type: ignore[arg-type]


def run_miner(lines: list[str], similarity: float,
              variants: int = TemplateMiner.variants) -> tuple[list[int], list[str], int]:
    """Each line's final template id and message template text, and the template count."""
    miner = miner_for(lines, similarity)
    miner.variants = variants
    assigned = [miner.add(line).resolved() for line in lines]
    final = [t.resolved() for t in assigned]
    return [t.id for t in final], [t.message for t in final], len({t.id for t in final})


def run_drain3(lines: list[str]) -> tuple[list[int], list[str], int] | None:
    try:
        from drain3 import TemplateMiner as Drain3
        from drain3.template_miner_config import TemplateMinerConfig
    except ImportError:
        return None
    import logging

    logging.getLogger("drain3").setLevel(logging.WARNING)
    config = TemplateMinerConfig()
    config.profiling_enabled = False
    drain = Drain3(config=config)
    ids = [drain.add_log_message(line)["cluster_id"] for line in lines]
    by_id = {c.cluster_id: c.get_template() for c in drain.drain.clusters}
    return ids, [by_id[i] for i in ids], len(by_id)


def loso(systems: list[System]) -> tuple[dict[str, float], dict[str, str]]:
    """Leave-one-system-out raw GA: similarity and variants chosen on the other systems; and
    the choice (`similarity/variants`)."""
    grid = [(sim, v) for sim in SIMILARITY_GRID for v in VARIANTS_GRID]
    ga = {(s.name, p): grouping_accuracy(s.truth, run_miner(s.raw, *p)[0])
          for s in systems for p in grid}
    held, chosen = {}, {}
    for s in systems:
        others = [o for o in systems if o is not s]
        best = max(grid, key=lambda p: sum(ga[(o.name, p)] for o in others) / len(others))
        held[s.name], chosen[s.name] = ga[(s.name, best)], f"{best[0]}/{best[1]}"
    return held, chosen


def lines_per_second(systems: list[System], repeats: int = 3) -> float:
    """Raw lines per second through `opscopilot logs templates` (read, mine, CSV write)."""
    from bot.cli.anomaly import templates as templates_command

    total = sum(len(s.raw) for s in systems)
    best = float("inf")
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeats):
            start = time.process_time()
            for s in systems:
                templates_command(s.path, Path(tmp) / f"{s.name}.csv", TemplateMiner.similarity)
            best = min(best, time.process_time() - start)
    return total / max(best, 1e-9)


def _mean(values: Sequence[float]) -> float:
    return sum(values) / max(1, len(values))


def evaluate(systems: list[System], similarity: float) -> dict[str, object]:
    per_system: dict[str, dict[str, object]] = {}
    runs: dict[str, Callable[[list[str]], tuple[list[int], list[str], int] | None]] = {
        "miner": lambda lines: run_miner(lines, similarity), "drain3": run_drain3}
    for s in systems:
        row: dict[str, object] = {"published_drain_ga": PUBLISHED_DRAIN_GA.get(s.name),
                                  "true_templates": len(set(s.truth))}
        for who, run in runs.items():
            for source, lines in (("raw", s.raw), ("message", s.content)):
                out = run(lines)
                if out is not None:
                    row[f"{who}_{source}"] = vars(score(s, *out))
        per_system[s.name] = row
    held, chosen = loso(systems)
    for s in systems:
        per_system[s.name]["loso_raw_ga"] = held[s.name]
        per_system[s.name]["loso_choice"] = chosen[s.name]

    def mean_of(key: str, metric: str) -> float | None:
        vals = [r[key][metric] for r in per_system.values() if key in r]  # type: ignore[index]
        return round(_mean(vals), 4) if vals else None

    summary: dict[str, object] = {
        key: {m: mean_of(key, m) for m in ("ga", "fga", "pa", "ga_original")}
        for key in ("miner_raw", "miner_message", "drain3_raw", "drain3_message")}
    return {
        "ga": mean_of("miner_raw", "ga"), "fga": mean_of("miner_raw", "fga"),
        "pa": mean_of("miner_raw", "pa"),
        "loso_ga": round(_mean(list(held.values())), 4),
        "means": summary,
        "published_drain_ga": round(_mean(list(PUBLISHED_DRAIN_GA.values())), 4),
        "per_system": per_system,
        "lines_per_s": round(lines_per_second(systems)),
        "similarity": similarity,
    }


def _print(result: dict[str, object]) -> None:
    per = result["per_system"]
    assert isinstance(per, dict)
    print("GA / FGA / PA on the corrected truth (GA on the original truth in brackets)")
    print(f"{'system':<10} {'miner raw':>22} {'miner message':>22} {'drain3 raw':>22} "
          f"{'drain3 message':>22} {'Drain pub':>9} {'LOSO':>5}")

    def cell(r: dict[str, object], key: str) -> str:
        s = r.get(key)
        if not isinstance(s, dict):
            return f"{'-':>22}"
        return f"{s['ga']:.3f} {s['fga']:.3f} {s['pa']:.3f} ({s['ga_original']:.2f})"

    for name, r in per.items():
        pub = r["published_drain_ga"]
        print(f"{name:<10} {cell(r, 'miner_raw'):>22} {cell(r, 'miner_message'):>22} "
              f"{cell(r, 'drain3_raw'):>22} {cell(r, 'drain3_message'):>22} "
              f"{'-' if pub is None else f'{pub:.3f}':>9} {r['loso_raw_ga']:.3f}")
    means = result["means"]
    assert isinstance(means, dict)
    print(f"{'mean':<10} " + " ".join(
        f"{m['ga']:.3f} {m['fga']:.3f} {m['pa']:.3f} ({m['ga_original']:.2f})"
        if m["ga"] is not None else f"{'-':>22}" for m in means.values())
        + f" {result['published_drain_ga']:>9.3f} {result['loso_ga']:.3f}")
    print(f"raw lines/s end to end (read, mine, CSV write; one core): {result['lines_per_s']:,}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of system folders")
    ap.add_argument("--similarity", type=float, default=TemplateMiner.similarity)
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    args = ap.parse_args(argv)
    systems = load_systems(args.data)
    if not systems:
        raise SystemExit(f"no <Sys>/<Sys>_2k.log under {args.data}")
    result = evaluate(systems, args.similarity)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        _print(result)


if __name__ == "__main__":
    main()
