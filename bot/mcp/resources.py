"""The MCP resources: open and past incidents (the incident store), runbooks (the library, with
the approvals the policy asks for) and runbook requests. All JSON, all read-only."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.incidents import Incident
    from infra.settings import Settings
    from tools.runbooks.service import RunbookService

SCHEME = "opscopilot://"
PAST_LIMIT = 50


class UnknownResource(KeyError):
    """A URI this server does not serve."""


class NotFound(ValueError):
    """A served kind of URI naming an incident or runbook that does not exist; one line."""


@dataclass(frozen=True)
class ResourceSpec:
    uri: str  # a URI, or an RFC 6570 template for TEMPLATES
    name: str
    description: str
    mime_type: str = "application/json"


RESOURCES = (
    ResourceSpec(f"{SCHEME}incidents/open", "open-incidents",
                 "Incidents not yet resolved: severity, status, services, who declared them."),
    ResourceSpec(f"{SCHEME}incidents/past", "past-incidents",
                 f"The latest {PAST_LIMIT} resolved incidents with root cause, resolution and "
                 "time to resolve (the knowledge base's postmortems: the search_incidents tool)."),
    ResourceSpec(f"{SCHEME}runbooks", "runbooks",
                 "The runbook library: name, risk, title, when it applies, approvals needed."),
    ResourceSpec(f"{SCHEME}runbook-requests", "runbook-requests",
                 "The latest runbook requests and their approval status."),
)
TEMPLATES = (
    ResourceSpec(f"{SCHEME}incidents/{{id}}", "incident",
                 "One incident with its timeline and action items."),
    ResourceSpec(f"{SCHEME}runbooks/{{name}}", "runbook",
                 "One runbook as written: parameters, steps, verification, rollback."),
)


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def incident_json(inc: Incident) -> dict[str, Any]:
    return {"id": inc.id, "title": inc.title, "severity": inc.severity, "status": inc.status,
            "services": inc.services, "declared_by": inc.declared_by,
            "declared_at": _when(inc.declared_at), "acknowledged_at": _when(inc.acknowledged_at),
            "resolved_at": _when(inc.resolved_at), "root_cause": inc.root_cause,
            "resolution": inc.resolution, "time_to_resolve_s": inc.time_to_resolve}


def read(uri: str, settings: Settings,
         runbooks: Callable[[], RunbookService]) -> dict[str, Any] | list[Any]:
    """The content of `uri`. Raises UnknownResource or NotFound."""
    if not uri.startswith(SCHEME):
        raise UnknownResource(uri)
    path = uri[len(SCHEME):].strip("/")
    if path.startswith("incidents/"):
        return _incidents(path, settings)
    if path == "runbooks":
        svc = runbooks()
        return [{"name": r.name, "risk": r.risk, "title": r.title,
                 "fault_kinds": r.when.fault_kinds, "alerts": r.when.alerts,
                 "parameters": sorted(r.parameters),
                 "approvals": svc.policy.requirement(r.name, r.risk).describe()}
                for r in svc.library]
    if m := re.fullmatch(r"runbooks/([\w.-]+)", path):
        from tools.runbooks.errors import RunbookError

        try:
            return runbooks().library.get(m[1]).model_dump(mode="json", by_alias=True)
        except RunbookError as exc:
            raise NotFound(str(exc)) from None
    if path == "runbook-requests":
        return [v.to_dict() for v in runbooks().list_requests(20)]
    raise UnknownResource(uri)


def _incidents(path: str, settings: Settings) -> dict[str, Any] | list[Any]:
    from bot.incidents import IncidentError, IncidentStore

    store = IncidentStore(settings)
    if path == "incidents/open":
        return [incident_json(i) for i in store.list() if i.status != "resolved"]
    if path == "incidents/past":
        done = store.list(status="resolved")
        return [incident_json(i) for i in reversed(done[-PAST_LIMIT:])]
    incident_id = path.removeprefix("incidents/")
    try:
        inc = store.get(incident_id)
        timeline = store.timeline(inc.id)
        actions = store.action_items(inc.id)
    except IncidentError as exc:
        raise NotFound(str(exc)) from None
    return {**incident_json(inc),
            "timeline": [{"at": _when(e.at), "actor": e.actor, "kind": e.kind, "text": e.text}
                         for e in timeline],
            "action_items": [{"id": a.id, "text": a.text, "owner": a.owner, "done": a.done}
                             for a in actions]}
