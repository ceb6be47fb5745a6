"""Run rendered steps against a `Target` (the four seams) and say what happened to each.

The engine knows nothing about approvals or storage: `RunbookService` decides *whether* a plan
may run and records the outcomes; this module only runs steps. Output is redacted (tokens,
passwords, keys) and then truncated before it is kept anywhere. A section stops at the first step
that does not succeed; cancellation is checked before each step and while a check waits.
"""

from __future__ import annotations

import operator
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from infra.redact import redact
from tools.runbooks.plan import RenderedStep
from tools.runbooks.seams import Clock, Executor, MetricsReader

OUTPUT_LIMIT = 4000
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq}


@dataclass
class Target:
    """Where a plan runs: the sandbox or production, as four seams."""

    name: str
    executor: Executor
    metrics: MetricsReader | None
    clock: Clock
    transport: httpx.BaseTransport | None = None
    # what the target knows about a service (node, release, ...) to fill runbook parameters
    facts: Callable[[str], dict[str, str]] | None = None


@dataclass
class StepOutcome:
    section: str
    index: int
    name: str
    kind: str
    status: str  # ok, failed, timed_out, cancelled, paused, dry_run
    detail: str  # the step as it ran (command line, request, check)
    output: str = ""
    exit_code: int | None = None
    value: float | None = None
    duration_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "dry_run")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SectionResult:
    status: str  # ok, failed, cancelled, paused
    outcomes: list[StepOutcome] = field(default_factory=list)
    next_index: int = 0


def clip(text: str, limit: int = OUTPUT_LIMIT) -> str:
    """Redact first (a secret cut in half would escape the patterns), then truncate."""
    text = redact(text)
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n... [truncated {len(text) - limit} characters]"


class Engine:
    def __init__(self, target: Target, output_limit: int = OUTPUT_LIMIT) -> None:
        self.target = target
        self.output_limit = output_limit

    def run_section(self, steps: list[RenderedStep], start: int = 0,
                    on_step: Callable[[StepOutcome], None] | None = None,
                    cancelled: Callable[[], bool] = lambda: False,
                    pause_approved: Callable[[int], bool] = lambda stage: False,
                    dry_run: bool = False) -> SectionResult:
        """Run `steps[start:]` in order; stop at the first one that does not succeed."""
        result = SectionResult("ok", next_index=start)
        for step in steps[start:]:
            if cancelled() and not dry_run:
                outcome = StepOutcome(step.section, step.index, step.name, step.kind,
                                      "cancelled", step.display(), "cancelled before this step")
            elif dry_run:
                outcome = StepOutcome(step.section, step.index, step.name, step.kind, "dry_run",
                                      step.display(), "not run (dry run)")
            elif step.kind == "pause_for_approval":
                stage = 1 + sum(1 for s in steps[: step.index] if s.kind == "pause_for_approval")
                status = "ok" if pause_approved(stage) else "paused"
                outcome = StepOutcome(step.section, step.index, step.name, step.kind, status,
                                      step.display(), f"approval stage {stage}")
            else:
                outcome = self.run_step(step, cancelled)
            if on_step is not None:
                on_step(outcome)
            result.outcomes.append(outcome)
            if not outcome.ok:
                result.status = {"paused": "paused", "cancelled": "cancelled"}.get(
                    outcome.status, "failed")
                result.next_index = step.index
                return result
            result.next_index = step.index + 1
        return result

    def run_step(self, step: RenderedStep,
                 cancelled: Callable[[], bool] = lambda: False) -> StepOutcome:
        started = time.perf_counter()
        if step.kind == "command":
            outcome = self._command(step)
        elif step.kind == "http":
            outcome = self._http(step)
        elif step.kind == "promql_check":
            outcome = self._check(step, cancelled)
        else:  # notify: the outcome itself is the notification, kept with the execution
            outcome = self._outcome(step, "ok", clip(step.message or "", self.output_limit))
        outcome.duration_ms = round((time.perf_counter() - started) * 1000, 1)
        return outcome

    def _outcome(self, step: RenderedStep, status: str, output: str = "",
                 **extra: Any) -> StepOutcome:
        return StepOutcome(step.section, step.index, step.name, step.kind, status,
                           step.display(), output, **extra)

    def _command(self, step: RenderedStep) -> StepOutcome:
        assert step.argv is not None
        res = self.target.executor.run(list(step.argv), step.timeout_s)
        text = res.stdout + (("\n" if res.stdout and res.stderr else "") + res.stderr)
        status = "timed_out" if res.timed_out else ("ok" if res.exit_code == 0 else "failed")
        return self._outcome(step, status, clip(text, self.output_limit), exit_code=res.exit_code)

    def _http(self, step: RenderedStep) -> StepOutcome:
        assert step.method is not None and step.url is not None
        try:
            with httpx.Client(transport=self.target.transport, timeout=step.timeout_s,
                              follow_redirects=False) as client:
                reply = client.request(step.method, step.url, json=step.json)
        except httpx.TimeoutException:
            return self._outcome(step, "timed_out", f"no answer within {step.timeout_s:g}s")
        except httpx.HTTPError as exc:
            return self._outcome(step, "failed", clip(f"{type(exc).__name__}: {exc}"))
        ok = reply.status_code in (step.expect_status or [200])
        return self._outcome(step, "ok" if ok else "failed",
                             clip(f"HTTP {reply.status_code}\n{reply.text}", self.output_limit),
                             exit_code=reply.status_code)

    def _check(self, step: RenderedStep, cancelled: Callable[[], bool]) -> StepOutcome:
        assert step.query is not None and step.op is not None and step.threshold is not None
        reader, clock = self.target.metrics, self.target.clock
        if reader is None:
            return self._outcome(step, "failed", "no metrics backend is configured for checks")
        deadline = clock.now() + step.timeout_s
        held_since: float | None = None
        value: float | None = None
        while True:
            now = clock.now()
            try:
                value = reader.value(step.query, now)
            except (ValueError, KeyError, httpx.HTTPError) as exc:
                return self._outcome(step, "failed", clip(f"query failed: {exc}"))
            if value is not None and _OPS[step.op](value, step.threshold):
                held_since = now if held_since is None else held_since
                if now - held_since >= (step.hold_s or 0.0):
                    return self._outcome(step, "ok", f"{value:.4g} {step.op} "
                                         f"{step.threshold:g} at {now:.0f}", value=value)
            else:
                held_since = None
            if now >= deadline:
                shown = "no data" if value is None else f"{value:.4g}"
                return self._outcome(step, "timed_out", f"still {shown} (want {step.op} "
                                     f"{step.threshold:g}) after {step.timeout_s:g}s",
                                     value=value)
            if cancelled():
                return self._outcome(step, "cancelled", "cancelled while waiting", value=value)
            clock.sleep(min(step.interval_s or 15.0, max(deadline - now, 0.001)))
