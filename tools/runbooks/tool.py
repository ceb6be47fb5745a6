"""`propose_runbooks`: the copilot tool that ranks executable runbooks for an incident and shows
each one's dry-run plan. It runs nothing (no side effects): running needs a request, approvals
and `RunbookService.run`. Its result says NEEDS_APPROVAL so the answer can offer the buttons."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from pydantic import BaseModel, Field

from tools.base import Evidence, Finding, ToolResult, ToolStatus
from tools.formatting import plural
from tools.runbooks.loader import RunbookLibrary
from tools.runbooks.policy import Policy
from tools.runbooks.propose import IncidentContext, propose


class ProposeRunbooksParams(BaseModel):
    text: str = Field("", description="the question or incident summary")
    services: list[str] = Field(default_factory=list, description="suspected services, first "
                                                                  "the most likely")
    alerts: list[str] = Field(default_factory=list, description="names of firing alerts")
    metrics: list[str] = Field(default_factory=list, description="abnormal metrics")
    deployed: list[str] = Field(default_factory=list, description="services deployed recently")
    fault_kinds: list[str] = Field(default_factory=list, description="known fault kinds")
    k: int = Field(3, ge=1, le=10)


class ProposeRunbooks:
    name: ClassVar[str] = "propose_runbooks"
    description: ClassVar[str] = (
        "Propose executable runbooks for an incident with their exact dry-run plans and the "
        "approvals they need; runs nothing.")
    Params: ClassVar[type[BaseModel]] = ProposeRunbooksParams
    side_effects: ClassVar[bool] = False

    def __init__(self, library: RunbookLibrary | None, policy: Policy | None, target: str,
                 facts_for: Callable[[str], dict[str, str]] | None = None,
                 load: Callable[[], tuple[RunbookLibrary, Policy]] | None = None) -> None:
        """Pass the library and policy, or `load` to read them on the first proposal (the
        copilot's start-up then reads no runbook files)."""
        if (library is None or policy is None) and load is None:
            raise ValueError("give the library and policy, or a load function")
        self._library, self._policy, self._load = library, policy, load
        self.target, self.facts_for = target, facts_for

    def _loaded(self) -> tuple[RunbookLibrary, Policy]:
        if self._library is None or self._policy is None:
            assert self._load is not None
            self._library, self._policy = self._load()
        return self._library, self._policy

    @property
    def library(self) -> RunbookLibrary:
        return self._loaded()[0]

    @property
    def policy(self) -> Policy:
        return self._loaded()[1]

    def run(self, params: ProposeRunbooksParams) -> ToolResult:
        top = params.services[0] if params.services else ""
        ctx = IncidentContext(params.text, params.services, params.alerts, params.metrics,
                              params.deployed, [], params.fault_kinds,
                              self.facts_for(top) if self.facts_for and top else {})
        proposals = propose(self.library, ctx, self.target, params.k)
        if not proposals:
            return ToolResult(self.name, ToolStatus.NO_DATA, "no runbook fits this incident")
        findings, evidence = [], []
        for p in proposals:
            ev_id = f"runbook-plan:{p.runbook}"
            plan_text = "\n".join(s.display() for s in p.plan.steps) if p.plan else \
                f"needs parameters: {', '.join(p.missing)}"
            needs = self.policy.requirement(p.runbook, p.risk).describe()
            evidence.append(Evidence(ev_id, self.name, "runbook-library",
                                     f"runbook plan {p.runbook}", plan_text,
                                     {"risk": p.risk, "score": p.score, "approvals": needs,
                                      "params": " ".join(f"{k}={v}" for k, v in p.params.items()),
                                      "plan_hash": p.plan.hash if p.plan else None}))
            findings.append(Finding("runbook", top, f"runbook {p.title} ({p.risk} risk): "
                                    f"{'; '.join(p.reasons)}", p.score, evidence=[ev_id]))
        return ToolResult(self.name, ToolStatus.NEEDS_APPROVAL,
                          f"{plural(len(proposals), 'runbook')} fit; first: {proposals[0].title} "
                          "(needs approval to run)", findings, evidence,
                          data={"proposals": [{"runbook": p.runbook, "score": p.score,
                                               "params": p.params, "missing": p.missing,
                                               "plan_hash": p.plan.hash if p.plan else None}
                                              for p in proposals]})
