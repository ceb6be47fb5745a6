"""Run a selection of cases under a configuration and return the run record (not yet stored)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bot.evaluation.cases import CASES_DIR, Case, CaseError, load_cases
from bot.evaluation.config import EvalConfig, Harness, git_commit
from bot.evaluation.runner import CaseResult, run_cases
from bot.evaluation.runs import make_run
from infra.settings import Settings

KB_INTENTS = {"investigate", "similar_incidents", "runbook"}


def needs_kb(case: Case) -> bool:
    """Whether answering the case may search past incidents or runbooks."""
    e = case.expect
    return bool(e.similar_incidents or e.runbooks or KB_INTENTS & set(e.intents())
                or case.thread)


def run_suite(settings: Settings, config: EvalConfig, *, tags: Sequence[str] = (),
              ids: Sequence[str] = (), folder: Path = CASES_DIR, harness: Harness | None = None,
              progress: Callable[[int, int, CaseResult], None] | None = None,
              threads: int | None = None) -> dict[str, Any]:
    """Load the cases, answer and score them, and describe what produced the results."""
    cases = load_cases(folder, tags, ids)
    if not cases:
        known = sorted({t for c in load_cases(folder) for t in c.all_tags})
        raise CaseError(f"no case has all of the tags {', '.join(tags)} (tags in use: "
                        f"{', '.join(t for t in known if ':' not in t)}, and fault:, "
                        "scenario:, tool: ones)")
    harness = harness or Harness(settings, config, seed_kb=any(needs_kb(c) for c in cases))
    harness.limit_threads(threads)
    started = time.perf_counter()
    results = run_cases(harness, cases, progress)
    return make_run(results, config=config.to_dict(), config_hash=config.config_hash(settings),
                    mode=settings.mode, versions=harness.versions(), git_commit=git_commit(),
                    tags=tags, duration_s=time.perf_counter() - started)
