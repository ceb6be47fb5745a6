"""manifest.yaml asks for exactly what the code uses: scopes of the Web API methods called,
the events and the slash command registered, interactivity for the buttons."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# the bot scopes each Web API method needs (api.slack.com/methods)
METHOD_SCOPES = {
    "chat_postMessage": {"chat:write"},
    "chat_update": {"chat:write"},
    "chat_postEphemeral": {"chat:write"},  # the plan after the parameter form
    "views_open": set(),  # the parameter form: needs a trigger_id, no scope
    "conversations_create": {"channels:manage"},
    "conversations_invite": {"channels:manage"},
    "pins_add": {"pins:write"},
    "files_upload_v2": {"files:write", "files:read"},
    "users_lookupByEmail": {"users:read", "users:read.email"},
    "auth_test": set(),  # checks the token at start; needs no scope
    "apps_connections_open": set(),  # checks the app-level token (connections:write), no bot scope
}
EVENT_SCOPES = {"app_mention": {"app_mentions:read"}, "message.channels": {"channels:history"},
                "message.im": {"im:history"}}


def _code() -> str:
    return "\n".join(p.read_text() for p in sorted((ROOT / "bot" / "slack").glob("*.py"))
                     if p.name != "testing.py")


def test_scopes_events_and_command_match_the_code():
    manifest = yaml.safe_load((ROOT / "manifest.yaml").read_text())
    code = _code()
    methods = set(re.findall(r"client\.([A-Za-z_0-9]+)\(", code))
    assert methods <= set(METHOD_SCOPES), methods - set(METHOD_SCOPES)
    events = manifest["settings"]["event_subscriptions"]["bot_events"]
    registered = set(re.findall(r'app\.event\("([a-z_]+)"\)', code))
    assert registered == {"app_mention", "message"}
    assert set(events) == {"app_mention", "message.channels", "message.im"}
    needed = set().union(*(METHOD_SCOPES[m] for m in methods),
                         *(EVENT_SCOPES[e] for e in events), {"commands"})
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == needed
    commands = [c["command"] for c in manifest["features"]["slash_commands"]]
    assert commands == re.findall(r'app\.command\("(/[a-z]+)"\)', code) == ["/ops"]
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert re.search(r"app\.action\(", code)
    assert manifest["settings"]["socket_mode_enabled"] is True  # the default mode
