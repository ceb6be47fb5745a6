"""Scenario files: what loads, what does not, and one-line errors that say what to fix."""

from __future__ import annotations

import pytest

from tools.sandbox.errors import ScenarioError
from tools.sandbox.scenario import load_scenario, parse_duration
from tools.sandbox.simulator import load_sandbox

GOOD = """\
name: tiny
description: one fault
seed: 5
faults:
  - service: checkout
    kind: bad_deploy
    start: 18h05m
    duration: 45m
"""


def write(tmp_path, text, name="s.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_defaults_and_offsets(tmp_path):
    sc = load_scenario(write(tmp_path, GOOD))
    assert sc.start == 1795132800  # 2026-11-20T00:00:00Z
    assert sc.end == sc.start + 86400 and sc.step == 15
    f = sc.faults[0]
    assert (f.service, f.kind, f.intensity) == ("checkout", "bad_deploy", 1.0)
    assert f.start == sc.start + 18 * 3600 + 300 and f.end == f.start + 2700
    assert sc.now == f.start + 600
    assert len(sc.topology.names()) == 12


def test_iso_times_explicit_now_and_topology_override(tmp_path):
    text = """\
name: small
seed: 1
start: 2026-12-01T00:00:00Z
duration: 6h
step: 30s
now: 5h
services:
  - {name: web, kind: web, calls: [api], base_rps: 20}
  - {name: api, calls: [db], pool_size: 10}
  - {name: db, kind: database, has_disk: true}
faults:
  - {service: api, kind: connection_pool_exhaustion, start: 2026-12-01T04:00:00Z,
     duration: 2h, intensity: 0.5}
"""
    sc = load_scenario(write(tmp_path, text))
    assert sc.step == 30 and sc.end - sc.start == 6 * 3600
    assert sc.now == sc.start + 5 * 3600
    assert sc.faults[0].start == sc.start + 4 * 3600 and sc.faults[0].intensity == 0.5
    sb = load_sandbox(sc.path)
    assert sb.topology.names() == ["web", "api", "db"]
    assert any(a.metric == "connections" for a in sb.ground_truth[0].affected)
    assert sb.traces("db", sb.now - 600, sb.now, limit=3)


def test_durations():
    assert parse_duration("1h30m") == 5400 and parse_duration("15s") == 15
    assert parse_duration("1d") == 86400 and parse_duration(20) == 20
    for bad in ("", "45 minutes", "1.5h", "m"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_unknown_fault_kind_names_file_field_and_choices(tmp_path):
    path = write(tmp_path, GOOD.replace("bad_deploy", "disk_ful"), "disk.yaml")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    msg = str(info.value)
    assert msg.startswith("scenario disk.yaml: faults[0].kind 'disk_ful' is not a fault kind")
    assert "choose one of: cpu_hog, memory_leak" in msg and "\n" not in msg


@pytest.mark.parametrize(("text", "expected"), [
    (GOOD.replace("service: checkout", "service: chekout"),
     "faults[0].service 'chekout' is not a service (choose one of: frontend,"),
    (GOOD.replace("start: 18h05m", "start: 30h"), "faults[0].start '30h' is outside the data"),
    (GOOD.replace("duration: 45m", "duration: 45 minutes"),
     "faults[0].duration '45 minutes' is not a duration"),
    (GOOD.replace("duration: 45m", "durration: 45m"),
     "faults[0].durration is not a known field"),
    (GOOD.replace("start: 18h05m", "start: yesterday"),
     "faults[0].start 'yesterday' is not a time"),
    (GOOD.replace("name: tiny\n", ""), "name is missing (add it)"),
    (GOOD.replace("seed: 5", "seed: five"), "seed 'five': Input should be a valid integer"),
    (GOOD.replace("kind: bad_deploy", "kind: disk_full"),
     "faults[0].service 'checkout' has no disk for disk_full (choose one of: postgres)"),
    (GOOD.replace("kind: bad_deploy", "kind: connection_pool_exhaustion"),
     "has no connection pool for connection_pool_exhaustion (choose one of: payment, catalog)"),
    (GOOD + "    intensity: -1\n", "faults[0].intensity -1.0 must be in (0, 10]"),
    (GOOD + "duration: 2h\n", "faults[0].start '18h05m' is outside the data"),
    (GOOD + "step: 0s\n", "step '0s' must be positive"),
    (GOOD + "now: 40h\n", "now '40h' is outside the data"),
    ("name: x\nfaults: [\n", "YAML syntax error at line"),
    ("- just\n- a list\n", "expected a mapping"),
    ("name: c\nservices:\n  - {name: a, calls: [b]}\n  - {name: b, calls: [a]}\n",
     "calls form a cycle (a -> b -> a)"),
    ("name: c\nservices:\n  - {name: a, calls: [zz]}\n", "services[0].calls 'zz' is not a service"),
    ("name: c\nservices:\n  - {name: a, base_rps: 0}\n",
     "services[0].base_rps 0: Input should be greater than 0"),
    (GOOD.replace("seed: 5", "seed: -1"), "seed -1: Input should be greater than or equal to 0"),
])
def test_bad_files_fail_in_one_line(tmp_path, text, expected):
    path = write(tmp_path, text, "bad.yaml")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    msg = str(info.value)
    assert msg.startswith("scenario bad.yaml: ") and expected in msg, msg
    assert "\n" not in msg and isinstance(info.value, ValueError)


def test_shipped_names_match_their_files():
    from tools.sandbox.scenario import list_scenarios

    for sc in list_scenarios():
        assert sc.path.endswith(f"/{sc.name}.yaml") and sc.description
        assert load_scenario(sc.name) == sc


def test_unknown_names_and_missing_files(tmp_path):
    with pytest.raises(ScenarioError, match="'no-such' is not a shipped scenario.*quiet"):
        load_scenario("no-such")
    with pytest.raises(ScenarioError, match="no such file"):
        load_sandbox(tmp_path / "missing.yaml")
    (tmp_path / "latin.yaml").write_bytes(b"name: caf\xe9\n")
    with pytest.raises(ScenarioError, match="not UTF-8"):
        load_scenario(tmp_path / "latin.yaml")


def test_load_sandbox_caches_by_file_and_reloads_an_edited_file(tmp_path):
    path = write(tmp_path, GOOD)
    first = load_sandbox(path)
    assert load_sandbox(str(path)) is first
    assert load_sandbox("quiet") is load_sandbox("quiet")
    path.write_text(GOOD.replace("seed: 5", "seed: 6"))
    import os
    os.utime(path, ns=(1, 1))
    assert load_sandbox(path).scenario.seed == 6
