"""Alerts that investigate themselves: an Alertmanager webhook payload (version 4) in, the
question the copilot investigates out, with the alert group it came from.

`parse_payload` validates a body into an `AlertGroup` (ValueError with one line saying what to
fix); `alert_question` turns the group's labels (service, job, namespace) and start time into
the `Question` the copilot answers, the same path as `opscopilot ask`; `investigate` runs it and
puts the alerts' own words (names, summaries, generator URLs) in front of the answer. Nothing
here knows Slack or HTTP: the CLI (`opscopilot alerts investigate`) and the receiver
(bot/slack/alerts.py) are adapters over it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.answer import Answer, Question
from bot.copilot import Conversation

SERVICE_LABELS = ("service", "job", "app", "namespace")  # where a service is named, best first
MAX_ALERTS = 1000


class WebhookAlert(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime  # noqa: N815 - Alertmanager's field names
    endsAt: datetime | None = None  # noqa: N815
    generatorURL: str = ""  # noqa: N815
    fingerprint: str = ""

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "alert")


class WebhookPayload(BaseModel):
    """Alertmanager's webhook body, version 4 (prometheus.io/docs/alerting/latest/configuration,
    <webhook_config>)."""

    model_config = ConfigDict(extra="ignore")

    version: Literal["4"]
    groupKey: str = Field(min_length=1)  # noqa: N815
    status: Literal["firing", "resolved"]
    receiver: str = ""
    groupLabels: dict[str, str] = Field(default_factory=dict)  # noqa: N815
    commonLabels: dict[str, str] = Field(default_factory=dict)  # noqa: N815
    commonAnnotations: dict[str, str] = Field(default_factory=dict)  # noqa: N815
    externalURL: str = ""  # noqa: N815
    truncatedAlerts: int = 0  # noqa: N815
    alerts: list[WebhookAlert] = Field(min_length=1, max_length=MAX_ALERTS)


@dataclass
class AlertGroup:
    """One Alertmanager group (its `groupKey`) as the copilot sees it."""

    key: str
    status: str
    receiver: str
    labels: dict[str, str]  # the group's common labels
    alerts: list[WebhookAlert]
    external_url: str = ""

    @property
    def firing(self) -> list[WebhookAlert]:
        return [a for a in self.alerts if a.status == "firing"]

    @property
    def severity(self) -> str:
        return self.labels.get("severity", "") or next(
            (a.labels["severity"] for a in self.alerts if "severity" in a.labels), "")

    def services(self, known: list[str]) -> list[str]:
        """The services the firing alerts name (service, job, app or namespace label) that this
        deployment knows, in the order they appear."""
        found: list[str] = []
        for alert in self.firing or self.alerts:
            for label in SERVICE_LABELS:
                value = alert.labels.get(label, "")
                if value in known and value not in found:
                    found.append(value)
                    break
        return found

    def when(self) -> datetime:
        """The alerts' time: the latest start among those firing (when the group became what
        it is), else the latest end of the resolved ones."""
        firing = self.firing
        if firing:
            return max(a.startsAt for a in firing).astimezone(UTC)
        ends = [a.endsAt for a in self.alerts if a.endsAt is not None]
        return max(ends or [a.startsAt for a in self.alerts]).astimezone(UTC)

    def headline(self) -> str:
        """One line: what fires, where, since when."""
        names = sorted({a.name for a in self.firing or self.alerts})
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        where = next((self.labels[k] for k in SERVICE_LABELS if k in self.labels), "")
        state = f"{len(self.firing)} firing" if self.firing else "resolved"
        since = min(a.startsAt for a in self.alerts).astimezone(UTC)
        return (f"{shown}{f' on {where}' if where else ''}: {state} of {len(self.alerts)} "
                f"alert{'s' if len(self.alerts) != 1 else ''}, since {since:%Y-%m-%d %H:%M} UTC")

    def alerts_json(self) -> list[dict[str, Any]]:
        return [{"name": a.name, "status": a.status, "labels": a.labels,
                 "summary": a.annotations.get("summary", ""),
                 "starts_at": int(a.startsAt.timestamp()),
                 "ends_at": int(a.endsAt.timestamp()) if a.endsAt and a.endsAt.year > 1 else None,
                 "generator_url": a.generatorURL, "fingerprint": a.fingerprint}
                for a in self.alerts]


def parse_payload(body: bytes | str) -> AlertGroup:
    """The alert group in a webhook body; ValueError with one line saying what to fix."""
    try:
        raw = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ValueError("not valid JSON: expected an Alertmanager webhook payload "
                         "(version 4)") from None
    if not isinstance(raw, dict):
        raise ValueError("expected a JSON object: an Alertmanager webhook payload (version 4)")
    try:
        payload = WebhookPayload.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "payload"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ValueError(f"not an Alertmanager webhook payload (version 4): {where}: "
                         f"{first['msg']}{more}") from None
    return AlertGroup(payload.groupKey, payload.status, payload.receiver,
                      payload.commonLabels or payload.groupLabels, payload.alerts,
                      payload.externalURL)


def alert_question(group: AlertGroup, known: list[str], when: datetime | None = None) -> Question:
    """What the copilot is asked about a group: an investigation of the services its alerts
    name, at the alerts' time (or `when`), in the group's thread."""
    services = group.services(known)
    text = (f"what is wrong with {' and '.join(services)}?" if services
            else "is anything broken right now?")
    return Question(text, when or group.when(), user="alertmanager", thread=group.key)


class Investigator(Protocol):
    def answer(self, question: Question, conversation: Conversation | None = None) -> Answer: ...


@dataclass
class AlertInvestigation:
    group: AlertGroup
    question: Question
    answer: Answer
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The keys of `ask --json`, plus the group key, its status and its alerts."""
        return self.answer.to_json() | {
            "group_key": self.group.key, "status": self.group.status,
            "receiver": self.group.receiver, "headline": self.group.headline(),
            "alerts": self.group.alerts_json()}


def investigate(copilot: Investigator, group: AlertGroup, known: list[str],
                when: datetime | None = None,
                conversation: Conversation | None = None) -> AlertInvestigation:
    """The copilot's investigation of an alert group, led by the alerts' own headline."""
    question = alert_question(group, known, when)
    answer = copilot.answer(question, conversation)
    lines = [f"Alert: {group.headline()}"]
    for alert in (group.firing or group.alerts)[:5]:
        summary = alert.annotations.get("summary") or alert.annotations.get("description", "")
        link = f" ({alert.generatorURL})" if alert.generatorURL else ""
        lines.append(f"- {alert.name}: {summary or alert.status}{link}")
    answer.summary = "\n".join(lines) + "\n" + answer.summary
    return AlertInvestigation(group, question, answer)
