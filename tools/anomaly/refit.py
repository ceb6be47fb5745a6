"""Scheduled refits of the metric detector: once per period, a new version saved as the shadow.

`refit_once` fits on fresh training data and saves the result as the shadow; it never touches
`current` (promotion stays a person's decision: `opscopilot model shadow-report`, then
`model promote`). It skips when there is no current version yet (the first fit is
`opscopilot model fit`), when the training data are shorter than `MIN_TRAINING_S`, and when
their fingerprint equals that of the current, the shadow or the newest version. `RefitJob` runs
it on a schedule the way the weekly summary is posted (`bot/slack/scheduler.py`): `tick()`
looks at an injectable clock, the period (e.g. each UTC day) is claimed once across replicas
through a `claim(key) -> bool` callable, and every outcome is written to the audit log.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tools.anomaly.models import MODEL_NAME, TrainingData, fit_and_save
from tools.anomaly.registry import ModelError, ModelRegistry
from tools.periodic import Periodic

if TYPE_CHECKING:
    from infra.audit import AuditLog

log = logging.getLogger(__name__)

MIN_TRAINING_S = 4 * 3600  # the calibration drops the first hour; three more are the least
ACTOR = "opscopilot-refit"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int:
    """'24h', '30m', '90s', '2d' -> seconds (ModelError naming the expected form otherwise)."""
    m = re.fullmatch(r"\s*(\d+)\s*([smhd])\s*", text or "")
    if not m or int(m[1]) == 0:
        raise ModelError(f"duration {text!r}: expected a positive number and a unit, "
                         "e.g. 90s, 30m, 24h, 2d")
    return int(m[1]) * _UNITS[m[2]]


@dataclass
class RefitOutcome:
    action: str  # "saved" or "skipped"
    reason: str
    version: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def refit_once(registry: ModelRegistry, source: Callable[[], TrainingData],
               evaluate: bool = True) -> RefitOutcome:
    """Fit on what `source` returns and save it as the shadow, unless there is nothing new."""
    aliases = registry.aliases(MODEL_NAME)
    if aliases["current"] is None:
        return RefitOutcome("skipped", "no current version yet: run `opscopilot model fit "
                                       f"{MODEL_NAME}` first")
    data = source()
    training = dict(data.training)
    if data.span_s < MIN_TRAINING_S:
        return RefitOutcome("skipped", f"training data too short: {data.span_s / 3600:.1f} h "
                                       f"< {MIN_TRAINING_S / 3600:.0f} h", details=training)
    versions = registry.versions(MODEL_NAME)
    known = {v for v in (aliases["current"], aliases["shadow"], versions[-1] if versions else
                         None) if v}
    for version in sorted(known):
        if registry.manifest(MODEL_NAME, version).training.get("fingerprint") == \
                training.get("fingerprint"):
            return RefitOutcome("skipped", f"training data unchanged since {version}",
                                version, training)
    replaced = aliases["shadow"]
    man = fit_and_save(registry, evaluate=evaluate, data=data)
    now = registry.aliases(MODEL_NAME)
    if now["shadow"] != man.version:  # save() made it current only when none existed
        raise ModelError(f"refit saved {man.version} but it is not the shadow: {now}")
    details = {**training, "z_threshold": man.parameters.get("z_threshold"),
               "scores": man.scores, "replaced_shadow": replaced}
    return RefitOutcome("saved", f"{man.version} saved as the shadow", man.version, details)


class RefitJob(Periodic):
    """Refit once per `every_s` (periods aligned to the epoch: 24 h = each UTC day)."""

    def __init__(self, registry: ModelRegistry, source: Callable[[], TrainingData],
                 every_s: int, audit: AuditLog | None = None,
                 claim: Callable[[str], bool] | None = None,
                 clock: Callable[[], datetime] | None = None, evaluate: bool = True) -> None:
        self.registry, self.source, self.every_s = registry, source, every_s
        self.audit, self.claim, self.evaluate = audit, claim, evaluate
        self.clock = clock or (lambda: datetime.now(UTC))
        self._done: int | None = None  # the last period this process handled
        self.job_name = f"scheduled refit of {MODEL_NAME}"
        super().__init__()

    def period(self, now: datetime) -> int:
        return int(now.timestamp() // self.every_s)

    def tick(self) -> RefitOutcome | None:
        """Refit when this period has not been handled (by anyone); the outcome, else None."""
        period = self.period(self.clock())
        if period == self._done:
            return None
        self._done = period
        started = datetime.fromtimestamp(period * self.every_s, UTC).isoformat()
        if self.claim is not None and not self.claim(f"refit:{MODEL_NAME}:{self.every_s}:"
                                                     f"{period}"):
            return None  # another replica (or an earlier run of this one) has it
        return self.refit(started)

    def refit(self, period_start: str | None = None) -> RefitOutcome:
        """Refit now (the schedule aside) and audit the outcome."""
        try:
            outcome = refit_once(self.registry, self.source, self.evaluate)
        except (ModelError, OSError, ValueError) as exc:
            outcome = RefitOutcome("failed", str(exc))
        if self.audit is not None:
            self.audit.append(ACTOR, f"model.refit.{outcome.action}", MODEL_NAME,
                              {"period_start": period_start, "reason": outcome.reason,
                               "version": outcome.version, **outcome.details})
        log.info("refit %s: %s", MODEL_NAME, outcome.reason)
        return outcome
