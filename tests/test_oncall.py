"""On-call sources: the schedule file, and PagerDuty / Opsgenie through httpx.MockTransport
replaying the shapes their APIs document."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from bot.oncall import (
    OnCallError,
    OpsgenieSchedules,
    PagerDutySchedules,
    ScheduleFile,
    describe,
    oncall_source,
)
from tests.slack_support import fresh_settings, write_schedule

AT = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)


def test_schedule_file_rotates_weekly_with_overrides(tmp_path):
    path = write_schedule(tmp_path / "oncall.yaml")
    [now] = ScheduleFile(path).on_call(AT)
    assert now.person.name == "Ana Diaz" and now.person.slack == "U0ANA"
    [next_week] = ScheduleFile(path).on_call(datetime(2026, 11, 24, tzinfo=UTC))
    assert next_week.person.name == "Bo Chen"
    path.write_text(path.read_text() + (
        "overrides:\n  - {rotation: primary, start: 2026-11-20T00:00:00Z, "
        "end: 2026-11-21T00:00:00Z, person: {name: Cy Okafor, slack: U0CY}}\n"))
    [covered] = ScheduleFile(path).on_call(AT)
    assert covered.person.name == "Cy Okafor"
    assert describe([covered]) == ["primary: Cy Okafor until Sat 2026-11-21 00:00 UTC"]


def test_schedule_file_errors_say_what_to_fix(tmp_path):
    with pytest.raises(OnCallError, match="no on-call schedule"):
        ScheduleFile(tmp_path / "missing.yaml").on_call(AT)
    bad = tmp_path / "bad.yaml"
    bad.write_text("rotations:\n  - name: x\n    start: yesterday\n    people: [{name: A}]\n")
    with pytest.raises(OnCallError, match="bad time 'yesterday'"):
        ScheduleFile(bad).on_call(AT)


# GET /oncalls?include[]=users (PagerDuty REST API v2, "List all of the on-calls")
PD_ONCALLS = {"oncalls": [
    {"user": {"id": "PUSR1", "type": "user", "name": "Ana Diaz", "summary": "Ana Diaz",
              "email": "ana@example.com", "self": "https://api.pagerduty.com/users/PUSR1"},
     "schedule": {"id": "PSCHED1", "type": "schedule_reference", "summary": "Shop primary"},
     "escalation_policy": {"id": "PEP1", "type": "escalation_policy_reference"},
     "escalation_level": 1, "start": "2026-11-16T09:00:00Z", "end": "2026-11-23T09:00:00Z"},
    {"user": {"id": "PUSR2", "type": "user", "name": "Bo Chen", "email": "bo@example.com"},
     "schedule": {"id": "PSCHED2", "type": "schedule_reference", "summary": "Shop secondary"},
     "escalation_policy": {"id": "PEP1", "type": "escalation_policy_reference"},
     "escalation_level": 2, "start": "2026-11-16T09:00:00Z", "end": "2026-11-23T09:00:00Z"},
], "limit": 25, "offset": 0, "more": False, "total": None}


def test_pagerduty_oncalls():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.headers["Authorization"] != "Token token=pd-token":
            return httpx.Response(401, json={"error": {"message": "Unauthorized"}})
        return httpx.Response(200, json=PD_ONCALLS)

    client = httpx.Client(transport=httpx.MockTransport(handler))
    entries = PagerDutySchedules("pd-token", ["PSCHED1", "PSCHED2"], client).on_call(AT)
    assert [(e.person.name, e.person.email, e.level) for e in entries] == [
        ("Ana Diaz", "ana@example.com", 1), ("Bo Chen", "bo@example.com", 2)]
    params = seen[0].url.params
    assert params.get_list("schedule_ids[]") == ["PSCHED1", "PSCHED2"]
    assert params["include[]"] == "users" and seen[0].url.path == "/oncalls"
    assert "version=2" in seen[0].headers["Accept"]
    with pytest.raises(OnCallError, match="refused the API key"):
        PagerDutySchedules("wrong", ["PSCHED1"], client).on_call(AT)


# GET /v2/schedules/{name}/on-calls?scheduleIdentifierType=name&flat=true (Who is On Call API)
OG_ONCALLS = {"data": {"_parent": {"id": "d875e654-9b4e", "name": "shop_schedule",
                                   "enabled": True},
                       "onCallRecipients": ["ana@example.com"]},
              "took": 0.102, "requestId": "6b8b3c1e-5c0f"}


def test_opsgenie_oncalls():
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["Authorization"] == "GenieKey og-key"
        assert request.url.path == "/v2/schedules/shop_schedule/on-calls"
        assert request.url.params["flat"] == "true"
        return httpx.Response(200, json=OG_ONCALLS)

    client = httpx.Client(transport=httpx.MockTransport(handler))
    [entry] = OpsgenieSchedules("og-key", ["shop_schedule"], client).on_call(AT)
    assert entry.person.email == "ana@example.com" and entry.schedule == "shop_schedule"


def test_opsgenie_down_is_one_line():
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    client = httpx.Client(transport=httpx.MockTransport(handler))
    with pytest.raises(OnCallError, match="Opsgenie could not be reached"):
        OpsgenieSchedules("k", ["s"], client).on_call(AT)


def test_source_from_settings_names_missing_variables():
    with pytest.raises(OnCallError, match="OPSCOPILOT_ONCALL__PAGERDUTY_TOKEN"):
        oncall_source(fresh_settings(oncall={"provider": "pagerduty"}))
    source = oncall_source(fresh_settings(oncall={"provider": "opsgenie", "opsgenie_api_key": "k",
                                                  "schedules": ["a"]}))
    assert isinstance(source, OpsgenieSchedules)
    assert json.dumps(PD_ONCALLS)  # the replayed shape is plain JSON
