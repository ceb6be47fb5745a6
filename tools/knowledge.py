"""Past incidents and runbooks as copilot tools: "have we seen this before, and what fixed it?"

`search_incidents` returns similar past postmortems (finding kind "similar_incident") with their
resolution; `suggest_runbooks` returns runbooks (finding kind "runbook"), an exact alert match
first. Each hit comes with evidence holding the passage that matched. An empty knowledge base is
NO_DATA with a hint to run `opscopilot kb seed`; a store that cannot be opened is a backend error.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, Field

from knowledge.kb import KnowledgeBase
from knowledge.search import Hit, SearchFilter
from knowledge.store import StoreError
from tools.base import BackendError, Evidence, Finding, ToolResult, ToolStatus
from tools.formatting import plural

SOURCE = "knowledge-base"
EMPTY_HINT = "the knowledge base is empty: run `opscopilot kb seed` (or `opscopilot kb ingest`)"


class SearchIncidentsParams(BaseModel):
    query: str = Field(min_length=1, description="symptoms, error messages or a question")
    services: list[str] = Field(default_factory=list,
                                description="prefer incidents that involved these services")
    k: int = Field(5, ge=1, le=20, description="how many incidents to return")


class SuggestRunbooksParams(BaseModel):
    query: str = Field(min_length=1, description="symptoms or what needs doing")
    services: list[str] = Field(default_factory=list, description="services involved")
    alerts: list[str] = Field(default_factory=list, description="names of firing alerts")
    k: int = Field(3, ge=1, le=10, description="how many runbooks to return")


def _search(kb: KnowledgeBase, query: str, k: int, filt: SearchFilter) -> list[Hit] | None:
    """Hits, or None when the store is empty; store faults become BackendError."""
    try:
        if kb.is_empty():
            return None
        return kb.search(query, k, filt)
    except StoreError as exc:
        raise BackendError(f"knowledge base: {exc}") from None


def _evidence(tool: str, hit: Hit, query: str, extra: dict[str, Any]) -> Evidence:
    meta = hit.metadata
    values = {"id": hit.id, "title": hit.title, "score": round(hit.score, 2),
              "section": hit.section, **extra}
    if meta.get("date"):
        values["date"] = meta["date"]
    link = hit.source if hit.source.startswith(("http://", "https://")) else None
    return Evidence(f"kb:{hit.id}", tool, SOURCE, f'kb search "{query}" --kind {hit.kind}',
                    hit.passage, values, link=link)


def _services(hit: Hit) -> list[str]:
    return [s for s in str(hit.metadata.get("services", "")).split(",") if s]


class SearchIncidents:
    name: ClassVar[str] = "search_incidents"
    description: ClassVar[str] = (
        "Find similar past incidents (postmortems) for symptoms or an error, with what fixed them.")
    Params: ClassVar[type[BaseModel]] = SearchIncidentsParams
    side_effects: ClassVar[bool] = False

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb

    def run(self, params: SearchIncidentsParams) -> ToolResult:
        services = tuple(s.lower() for s in params.services)
        hits = _search(self.kb, params.query, params.k,
                       SearchFilter(services=services, kinds=("postmortem",)))
        if hits is None:
            return ToolResult(self.name, ToolStatus.NO_DATA, EMPTY_HINT, data={"kb_empty": True})
        if len(hits) < params.k and services:  # the cause may sit in a service not named
            more = _search(self.kb, params.query, params.k, SearchFilter(kinds=("postmortem",)))
            hits += [h for h in more or [] if h.id not in {x.id for x in hits}]
            hits = hits[: params.k]
        if not hits:
            return ToolResult(self.name, ToolStatus.NO_DATA,
                              f"no past incident matches {params.query!r}")
        findings, evidence, incidents = [], [], []
        for hit in hits:
            meta = hit.metadata
            resolution = str(meta.get("resolution") or "")
            ev = _evidence(self.name, hit, params.query,
                           {"resolution": resolution, "severity": meta.get("severity", "")})
            evidence.append(ev)
            when = f" ({meta['date']})" if meta.get("date") else ""
            text = f"similar past incident {hit.id}{when}: {hit.title}"
            if resolution:
                text += f"; resolved by: {resolution}"
            hit_services = _services(hit)
            service = next((s for s in services if s in hit_services),
                           hit_services[0] if hit_services else "")
            findings.append(Finding("similar_incident", service, text, round(hit.score, 3),
                                    evidence=[ev.id]))
            incidents.append({"id": hit.id, "title": hit.title, "score": round(hit.score, 3),
                              "date": meta.get("date") or None, "services": hit_services,
                              "severity": meta.get("severity") or None,
                              "root_cause": meta.get("root_cause") or None,
                              "resolution": resolution or None, "passage": hit.passage,
                              "section": hit.section, "source": hit.source})
        best = hits[0]
        return ToolResult(self.name, ToolStatus.OK,
                          f"{plural(len(hits), 'similar past incident')}; closest: {best.id} "
                          f"{best.title}",
                          findings, evidence, data={"incidents": incidents})


def _tag(hit: Hit, key: str) -> str | None:
    """The value of a `key:value` tag on the hit's document (executable runbooks carry
    `runbook:<name>` and `implements:<prose runbook id>`)."""
    for tag in str(hit.metadata.get("tags", "")).split(","):
        if tag.startswith(f"{key}:"):
            return tag.split(":", 1)[1]
    return None


def _one_per_procedure(hits: list[Hit]) -> list[tuple[Hit, str | None]]:
    """(hit, executable runbook name) with an executable runbook and the prose runbook it
    implements (its first `kb_ids` entry) shown once, at the better rank of the two: they are
    one procedure and should not take two of the k slots."""
    twin: dict[str, Hit] = {}  # prose id -> best-ranked executable runbook implementing it
    for hit in hits:
        prose = _tag(hit, "implements")
        if _tag(hit, "runbook") and prose:
            twin.setdefault(prose, hit)
    out: list[tuple[Hit, str | None]] = []
    folded: set[str] = set()
    for rank, hit in enumerate(hits):
        if hit.id in folded:
            continue
        executable = _tag(hit, "runbook")
        match = twin.get(hit.id) if executable is None else None
        if match is not None:
            if hits.index(match) < rank:
                continue  # the executable form ranked higher and already stands for both
            folded.add(match.id)
            executable = _tag(match, "runbook")
        out.append((hit, executable))
    return out


class SuggestRunbooks:
    name: ClassVar[str] = "suggest_runbooks"
    description: ClassVar[str] = (
        "Suggest runbooks for symptoms, services or firing alerts; an exact alert match first.")
    Params: ClassVar[type[BaseModel]] = SuggestRunbooksParams
    side_effects: ClassVar[bool] = False

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb

    def run(self, params: SuggestRunbooksParams) -> ToolResult:
        query = " ".join([params.query, *params.alerts])
        hits = _search(self.kb, query, params.k * 3, SearchFilter(kinds=("runbook",)))
        if hits is None:
            return ToolResult(self.name, ToolStatus.NO_DATA, EMPTY_HINT, data={"kb_empty": True})
        if not hits:
            return ToolResult(self.name, ToolStatus.NO_DATA,
                              f"no runbook matches {params.query!r}")
        alerts = {a.lower() for a in params.alerts}
        services = {s.lower() for s in params.services}

        def rank(hit: Hit) -> tuple[bool, float]:
            hit_alerts = {a.lower() for a in str(hit.metadata.get("alerts", "")).split(",")}
            bonus = 0.1 if services & set(_services(hit)) else 0.0
            return (bool(alerts & hit_alerts), hit.score + bonus)

        picked = _one_per_procedure(sorted(hits, key=rank, reverse=True))[: params.k]
        hits = [hit for hit, _ in picked]
        findings, evidence, runbooks = [], [], []
        for hit, executable in picked:
            alert_match = rank(hit)[0]
            extra: dict[str, Any] = {"alert_match": alert_match}
            if executable:  # the engine's name for it: what "Plan" buttons ask the engine for
                extra["runbook"] = executable
            ev = _evidence(self.name, hit, query, extra)
            evidence.append(ev)
            why = "matches the firing alert" if alert_match else f"best passage: {hit.section}"
            hit_services = _services(hit)
            service = next((s for s in params.services if s in hit_services), "")
            findings.append(Finding("runbook", service, f"runbook {hit.title} ({why})",
                                    1.0 if alert_match else round(hit.score, 3),
                                    evidence=[ev.id]))
            runbooks.append({"id": hit.id, "title": hit.title, "score": round(hit.score, 3),
                             "alert_match": alert_match, "passage": hit.passage,
                             "section": hit.section, "source": hit.source,
                             "executable": executable,
                             "prose": _tag(hit, "implements") or (
                                 None if _tag(hit, "runbook") else hit.id)})
        return ToolResult(self.name, ToolStatus.OK,
                          f"{plural(len(hits), 'runbook')}; first: {hits[0].title}",
                          findings, evidence, data={"runbooks": runbooks})
