"""Shadow and canary: a candidate configuration answers the same questions as the current one;
their answers are scored against each other (and against the cases' expectations when the
questions are eval cases). Promotion and rollback move the `champion` alias in a small
file-based registry and are recorded with who, when, why and the evidence (run ids).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.evaluation.config import EvalConfig


@dataclass
class Agreement:
    question: str
    same_intent: bool
    tool_jaccard: float
    same_top_cause: bool | None  # None when neither named a root cause
    current_intent: str
    candidate_intent: str


@dataclass
class ShadowReport:
    agreements: list[Agreement] = field(default_factory=list)

    def rates(self) -> dict[str, float | None]:
        a = self.agreements
        causes = [x.same_top_cause for x in a if x.same_top_cause is not None]
        return {
            "questions": float(len(a)),
            "intent_agreement": sum(x.same_intent for x in a) / len(a) if a else None,
            "tool_jaccard": sum(x.tool_jaccard for x in a) / len(a) if a else None,
            "root_cause_agreement": sum(causes) / len(causes) if causes else None,
        }

    def disagreements(self) -> list[Agreement]:
        return [x for x in self.agreements if not x.same_intent or x.tool_jaccard < 1
                or x.same_top_cause is False]

    def to_dict(self) -> dict[str, Any]:
        return {"rates": self.rates(), "disagreements": [asdict(d) for d in self.disagreements()]}


def agreement(question: str, current: dict[str, Any], candidate: dict[str, Any]) -> Agreement:
    """How far two answers (`Answer.to_json()` shape) to one question agree."""
    a, b = set(current["tools"]), set(candidate["tools"])
    jaccard = len(a & b) / len(a | b) if a | b else 1.0
    ca = current["root_causes"][0]["service"] if current["root_causes"] else None
    cb = candidate["root_causes"][0]["service"] if candidate["root_causes"] else None
    return Agreement(question, current["intent"] == candidate["intent"], jaccard,
                     None if ca is None and cb is None else ca == cb,
                     current["intent"], candidate["intent"])


def shadow_results(current: Sequence[Any], candidate: Sequence[Any]) -> ShadowReport:
    """Agreement of two eval runs' case results over the cases both answered."""
    by_id = {r.id: r for r in candidate}
    report = ShadowReport()
    for r in current:
        other = by_id.get(r.id)
        if other is None:
            continue
        a, b = set(r.tools), set(other.tools)
        report.agreements.append(Agreement(
            r.question, r.intent == other.intent,
            len(a & b) / len(a | b) if a | b else 1.0, None, r.intent, other.intent))
    return report


def shadow_logged(entries: Sequence[Any], current: Any, candidate: Any,
                  default_scenario: str) -> ShadowReport:
    """Ask logged production questions (`LoggedAnswer`s) again under two configurations
    (`Harness`es) at the time they were asked, and score the answers against each other."""
    from bot.answer import Question, QuestionError

    report = ShadowReport()
    for entry in entries:
        scenario = entry.context or default_scenario
        when = datetime.fromtimestamp(entry.asked_at, UTC)
        try:
            answers = [h.copilot(scenario).answer(Question(entry.question, when)).to_json()
                       for h in (current, candidate)]
        except QuestionError:
            continue  # a question neither can take is no evidence either way
        report.agreements.append(agreement(entry.question, *answers))
    return report


class ConfigRegistry:
    """`<data_dir>/evals/configs/`: one JSON per named configuration, `aliases.json`
    (champion, challenger) and `history.jsonl` (every promotion and rollback)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @classmethod
    def from_settings(cls, settings: Any) -> ConfigRegistry:
        return cls(settings.resolved_data_dir() / "evals" / "configs")

    def _write(self, path: Path, text: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)

    def register(self, config: EvalConfig) -> None:
        self._write(self.folder / f"{config.name}.json", json.dumps(config.to_dict(), indent=1))

    def get(self, name: str) -> EvalConfig:
        path = self.folder / f"{name}.json"
        if not path.is_file() and name == "current":
            return EvalConfig()  # the shipped configuration needs no registration
        if not path.is_file():
            known = ", ".join(sorted(p.stem for p in self.folder.glob("*.json")
                                     if p.stem != "aliases")) or "none"
            raise LookupError(f"no configuration named {name!r} (registered: {known}); run "
                              "`opscopilot eval shadow --name NAME --set ...` first")
        return EvalConfig(**json.loads(path.read_text(encoding="utf-8")))

    def aliases(self) -> dict[str, str]:
        path = self.folder / "aliases.json"
        data: dict[str, str] = json.loads(path.read_text("utf-8")) if path.is_file() else {}
        return data

    def champion(self) -> EvalConfig:
        """The configuration in service (the shipped one until something is promoted)."""
        name = self.aliases().get("champion")
        return self.get(name) if name else EvalConfig()

    def history(self) -> list[dict[str, Any]]:
        path = self.folder / "history.jsonl"
        if not path.is_file():
            return []
        return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line]

    def _record(self, event: dict[str, Any]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with (self.folder / "history.jsonl").open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(event) + "\n")

    def set_alias(self, alias: str, name: str) -> None:
        self.get(name)
        self._write(self.folder / "aliases.json",
                    json.dumps(self.aliases() | {alias: name}, indent=1))

    def promote(self, name: str, actor: str, reason: str = "",
                evidence: Sequence[str] = ()) -> dict[str, Any]:
        self.get(name)  # must exist
        previous = self.aliases().get("champion", "current")
        if name == "current":
            self._unset_champion()
        else:
            self.set_alias("champion", name)
        event = {"action": "promote", "to": name, "from": previous, "actor": actor,
                 "reason": reason, "evidence": list(evidence),
                 "at": datetime.now(UTC).isoformat(timespec="seconds")}
        self._record(event)
        return event

    def _unset_champion(self) -> None:
        aliases = self.aliases()
        aliases.pop("champion", None)
        self._write(self.folder / "aliases.json", json.dumps(aliases, indent=1))

    def rollback(self, actor: str, reason: str = "") -> dict[str, Any]:
        """The champion goes back to what it was before the last promotion."""
        promotions = [e for e in self.history() if e["action"] in ("promote", "rollback")]
        if not promotions:
            raise LookupError("nothing to roll back: no promotion is recorded")
        last = promotions[-1]
        target = last["from"]
        current = self.aliases().get("champion", "current")
        if target == "current":
            self._unset_champion()
        else:
            self.set_alias("champion", target)
        event = {"action": "rollback", "to": target, "from": current, "actor": actor,
                 "reason": reason, "evidence": [],
                 "at": datetime.now(UTC).isoformat(timespec="seconds")}
        self._record(event)
        return event
