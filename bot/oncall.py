"""Who is on call: a local schedule file by default, PagerDuty or Opsgenie over their HTTP APIs.

One seam, `OnCallSource.on_call(at) -> list[OnCall]`; `oncall_source(settings)` picks the
implementation. The schedule file is YAML:

    rotations:
      - name: primary
        start: 2026-11-02T09:00:00Z     # a hand-over time
        every_days: 7                   # length of a shift
        people:
          - {name: Ana Diaz, slack: U0123ABCD, email: ana@example.com}
          - {name: Bo Chen, email: bo@example.com}
    overrides:                          # optional: someone covers part of a shift
      - {rotation: primary, start: 2026-11-25T00:00:00Z, end: 2026-11-26T00:00:00Z,
         person: {name: Cy Okafor, slack: U0456EFGH}}

Errors a person can fix (a bad file, a rejected API key) raise `OnCallError` with one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import httpx
import yaml

from infra.settings import Settings


class OnCallError(ValueError):
    """The schedule cannot be read (bad file, API refused or down); the message says why."""


@dataclass(frozen=True)
class Person:
    name: str
    email: str = ""
    slack: str = ""  # a Slack user id, when known


@dataclass(frozen=True)
class OnCall:
    person: Person
    schedule: str
    start: datetime | None = None
    end: datetime | None = None
    level: int = 1


class OnCallSource(Protocol):
    name: str

    def on_call(self, at: datetime) -> list[OnCall]: ...


def _when(value: Any, where: str) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise OnCallError(f"{where}: bad time {value!r}, expected e.g. 2026-11-02T09:00:00Z") \
            from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _person(data: Any, where: str) -> Person:
    if not isinstance(data, dict) or not data.get("name"):
        raise OnCallError(f"{where}: a person needs at least a name")
    return Person(str(data["name"]), str(data.get("email", "")), str(data.get("slack", "")))


class ScheduleFile:
    """Weekly (or any length) rotations with overrides, read from a YAML file."""

    name = "schedule file"

    def __init__(self, path: Path) -> None:
        self.path = path

    def on_call(self, at: datetime) -> list[OnCall]:
        if not self.path.is_file():
            raise OnCallError(f"no on-call schedule at {self.path}: write one (see docs/slack.md)"
                              " or set OPSCOPILOT_ONCALL__PROVIDER to pagerduty or opsgenie")
        try:
            data = yaml.safe_load(self.path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise OnCallError(f"{self.path}: not valid YAML ({exc.__class__.__name__})") from None
        rotations = data.get("rotations") if isinstance(data, dict) else None
        if not isinstance(rotations, list) or not rotations:
            raise OnCallError(f"{self.path}: expected a list under 'rotations'")
        out = []
        for i, rot in enumerate(rotations):
            where = f"{self.path}: rotation {i + 1}"
            name = str(rot.get("name") or f"rotation-{i + 1}")
            people = [_person(p, where) for p in rot.get("people") or []]
            if not people:
                raise OnCallError(f"{where}: no people")
            start = _when(rot.get("start"), where)
            every = timedelta(days=float(rot.get("every_days", 7)))
            if every <= timedelta(0):
                raise OnCallError(f"{where}: every_days must be positive")
            shift = (at - start) // every
            begin = start + shift * every
            out.append(OnCall(people[shift % len(people)], name, begin, begin + every))
        for j, ov in enumerate(data.get("overrides") or []):
            where = f"{self.path}: override {j + 1}"
            begin, end = _when(ov.get("start"), where), _when(ov.get("end"), where)
            if begin <= at < end:
                person = _person(ov.get("person"), where)
                out = [OnCall(person, o.schedule, begin, end) if o.schedule == ov.get("rotation")
                       else o for o in out]
        return out


def _get(client: httpx.Client, url: str, params: Any, headers: dict[str, str],
         service: str) -> Any:
    try:
        response = client.get(url, params=params, headers=headers)
    except httpx.HTTPError as exc:
        raise OnCallError(f"{service} could not be reached: {exc.__class__.__name__}") from None
    if response.status_code in (401, 403):
        raise OnCallError(f"{service} refused the API key (HTTP {response.status_code}): "
                          "check the token setting")
    if response.status_code >= 400:
        raise OnCallError(f"{service} answered HTTP {response.status_code} for {url}")
    return response.json()


class PagerDutySchedules:
    """`GET /oncalls` (REST API v2) for the configured schedules, users included."""

    name = "PagerDuty"

    def __init__(self, token: str, schedule_ids: list[str], client: httpx.Client | None = None,
                 base_url: str = "https://api.pagerduty.com") -> None:
        self.token, self.schedule_ids = token, schedule_ids
        self.client = client or httpx.Client(timeout=10)
        self.base_url = base_url.rstrip("/")

    def on_call(self, at: datetime) -> list[OnCall]:
        params: list[tuple[str, str]] = [("include[]", "users"), ("since", at.isoformat()),
                                         ("until", (at + timedelta(seconds=1)).isoformat())]
        params += [("schedule_ids[]", s) for s in self.schedule_ids]
        headers = {"Authorization": f"Token token={self.token}",
                   "Accept": "application/vnd.pagerduty+json;version=2"}
        data = _get(self.client, f"{self.base_url}/oncalls", params, headers, self.name)
        out = []
        for item in data.get("oncalls", []):
            user = item.get("user") or {}
            schedule = (item.get("schedule") or {}).get("summary") or "escalation policy"
            out.append(OnCall(
                Person(user.get("name") or user.get("summary") or "unknown",
                       user.get("email", "")),
                schedule,
                _when(item["start"], self.name) if item.get("start") else None,
                _when(item["end"], self.name) if item.get("end") else None,
                int(item.get("escalation_level") or 1)))
        return sorted(out, key=lambda o: (o.level, o.schedule))


class OpsgenieSchedules:
    """`GET /v2/schedules/{name}/on-calls?flat=true` for each configured schedule."""

    name = "Opsgenie"

    def __init__(self, api_key: str, schedules: list[str], client: httpx.Client | None = None,
                 base_url: str = "https://api.opsgenie.com") -> None:
        self.api_key, self.schedules = api_key, schedules
        self.client = client or httpx.Client(timeout=10)
        self.base_url = base_url.rstrip("/")

    def on_call(self, at: datetime) -> list[OnCall]:
        out = []
        for schedule in self.schedules:
            data = _get(self.client, f"{self.base_url}/v2/schedules/{schedule}/on-calls",
                        {"scheduleIdentifierType": "name", "flat": "true",
                         "date": at.strftime("%Y-%m-%dT%H:%M:%SZ")},
                        {"Authorization": f"GenieKey {self.api_key}"}, self.name)
            body = data.get("data") or {}
            name = (body.get("_parent") or {}).get("name") or schedule
            for recipient in body.get("onCallRecipients") or []:
                email = recipient if "@" in recipient else ""
                out.append(OnCall(Person(recipient, email), name))
        return out


def oncall_source(settings: Settings, client: httpx.Client | None = None) -> OnCallSource:
    """The configured schedule source; a missing token is an `OnCallError` naming the variable."""
    cfg = settings.oncall
    if cfg.provider == "pagerduty":
        if cfg.pagerduty_token is None or not cfg.schedules:
            raise OnCallError("PagerDuty on-call needs OPSCOPILOT_ONCALL__PAGERDUTY_TOKEN and "
                              "OPSCOPILOT_ONCALL__SCHEDULES (schedule ids, comma-separated)")
        return PagerDutySchedules(cfg.pagerduty_token.get_secret_value(), cfg.schedules, client,
                                  cfg.pagerduty_url)
    if cfg.provider == "opsgenie":
        if cfg.opsgenie_api_key is None or not cfg.schedules:
            raise OnCallError("Opsgenie on-call needs OPSCOPILOT_ONCALL__OPSGENIE_API_KEY and "
                              "OPSCOPILOT_ONCALL__SCHEDULES (schedule names, comma-separated)")
        return OpsgenieSchedules(cfg.opsgenie_api_key.get_secret_value(), cfg.schedules, client,
                                 cfg.opsgenie_url)
    path = cfg.schedule_file or settings.resolved_data_dir() / "oncall.yaml"
    return ScheduleFile(Path(path).expanduser())


def describe(entries: list[OnCall]) -> list[str]:
    """One line per on-call person, for any transport."""
    lines = []
    for o in entries:
        until = f" until {o.end:%a %Y-%m-%d %H:%M} UTC" if o.end else ""
        level = f" (level {o.level})" if o.level > 1 else ""
        lines.append(f"{o.schedule}: {o.person.name}{level}{until}")
    return lines
