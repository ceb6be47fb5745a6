"""The CI regression gate: run the deterministic eval suite, compare with evals/baseline.json.

    .venv/bin/python -m evals.gate [--tag T] [--by split|class|capability] [--update]

Exit 0 when no score fell below the baseline by more than its tolerance, 1 when one did (the
regressed cases are named), 2 on bad input. `--update` rewrites the baseline from this run
(after a reviewed improvement). The run is stored like `opscopilot eval run` runs.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tag", action="append", default=[], help="only cases with this tag")
    parser.add_argument("--update", action="store_true", help="rewrite the baseline from this run")
    parser.add_argument("--by", default="capability",
                        help="group the score table by capability (default) or by a tag "
                             "prefix: split (held-out / dev), class (on-call question classes)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1: steady on a shared CI machine; 0: "
                             "torch's default)")
    args = parser.parse_args(argv)

    from bot.evaluation.cases import CaseError
    from bot.evaluation.config import EvalConfig
    from bot.evaluation.gate import (
        BaselineError,
        check_gate,
        load_baseline,
        make_baseline,
        save_baseline,
    )
    from bot.evaluation.report import markdown_table
    from bot.evaluation.runs import RunStore, run_results
    from bot.evaluation.suite import run_suite
    from infra.settings import SettingsError, load_settings

    try:
        settings = load_settings()
        baseline = None if args.update else load_baseline()
        run = run_suite(settings, EvalConfig(), tags=args.tag, threads=args.threads or None)
    except (SettingsError, CaseError, BaselineError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    path = RunStore.from_settings(settings).save(run)
    o = run["summary"]["overall"]
    print(f"run {run['id']}: {int(o['cases'])} cases in {run['duration_s']:.0f} s, "
          f"passed {o['passed']:.1%}; stored in {path}")
    print(markdown_table(run, by=args.by))
    if baseline is None:
        print(f"baseline written to {save_baseline(make_baseline(run))}")
        return 0
    gate = check_gate(run_results(run), baseline)
    print(gate.text())
    return 0 if gate.ok else 1


if __name__ == "__main__":
    sys.exit(main())
