"""The runbook format: the shipped library, the JSON Schema, and files that must be rejected at
load with the file, the line and the reason."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.runbook_support import library
from tools.runbooks.errors import RunbookFileError
from tools.runbooks.loader import LIBRARY_DIR, RunbookLibrary, load_runbook
from tools.runbooks.schema import SCHEMA_PATH, runbook_schema, schema_text

REQUIRED = {"restart-deployment", "scale-out", "roll-back-deploy", "flush-cache",
            "rotate-certificate", "fail-over-postgres", "fail-over-redis",
            "raise-connection-pool", "clear-disk-space", "drain-node", "toggle-feature-flag"}


def test_library_has_the_real_world_runbooks():
    lib = library()
    assert len(lib) >= 10 and set(lib.names()) >= REQUIRED
    kinds = {s.kind for rb in lib for s in [*rb.steps, *rb.verification, *rb.rollback]}
    assert kinds == {"command", "http", "promql_check", "pause_for_approval", "notify"}
    programs = {s.argv[0] for rb in lib for s in rb.steps if s.kind == "command"}
    assert programs == {"kubectl", "helm", "cmctl"}
    assert {rb.risk for rb in lib} == {"read-only", "low", "high"}
    assert all(rb.verification for rb in lib if rb.risk != "read-only")


def test_shipped_schema_is_generated_from_the_models():
    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_text(), \
        "run: python -m tools.runbooks.schema"


def test_shipped_runbooks_validate_against_the_json_schema():
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(runbook_schema())
    for path in sorted(LIBRARY_DIR.glob("*.yaml")):
        errors = list(validator.iter_errors(yaml.safe_load(path.read_text(encoding="utf-8"))))
        assert not errors, f"{path.name}: {errors[0].message}"
    bad = {"name": "x", "title": "t", "description": "d", "risk": "medium", "steps": []}
    assert list(validator.iter_errors(bad))


GOOD = """\
name: demo
title: Demo
description: demo
parameters:
  service:
    pattern: "^[a-z]+$"
risk: low
steps:
  - name: restart
    kind: command
    argv: [kubectl, rollout, restart, deployment, "{service}"]
"""

BAD = [
    # (what is wrong, replace this, with this, line, reason)
    ("a shell string with a parameter inside an argv item",
     '"{service}"]', '"deployment/{service}"]', 11, "must fill a whole argv item"),
    ("an unknown field", "risk: low", "risk: low\nrisky: true", 8, "risky is not a known field"),
    ("a missing field", "title: Demo\n", "", None, "title is missing"),
    ("a bad risk", "risk: low", "risk: medium", 7, "risk"),
    ("an undeclared parameter", '"{service}"]', '"{svc}"]', 9, "{svc}, which is not a declared"),
    ("a string parameter with no pattern", '    pattern: "^[a-z]+$"\n', "    type: string\n",
     5, "needs a pattern or an enum"),
    ("a program that is a parameter", "argv: [kubectl,", 'argv: ["{service}",', 11,
     "argv[0]"),
    ("a YAML syntax error", "steps:\n", "steps: [\n", None, "YAML syntax error"),
    ("a read-only runbook that changes something", "risk: low", "risk: read-only", 9,
     "changes something"),
    ("a step kind that does not exist", "kind: command", "kind: shell", 10, "kind"),
]


@pytest.mark.parametrize(("what", "old", "new", "line", "reason"), BAD, ids=[b[0] for b in BAD])
def test_schema_errors_are_rejected_with_file_line_and_reason(tmp_path, what, old, new, line,
                                                              reason):
    assert old in GOOD
    path = tmp_path / "demo.yaml"
    path.write_text(GOOD.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(RunbookFileError) as info:
        load_runbook(path)
    err = info.value
    assert err.path == str(path) and reason in err.reason, str(err)
    if line is not None:
        assert err.line == line, str(err)
    assert str(err).startswith(f"{path}:") and "\n" not in str(err)


def test_the_good_file_loads_and_the_name_must_match_the_file(tmp_path):
    (tmp_path / "demo.yaml").write_text(GOOD, encoding="utf-8")
    assert load_runbook(tmp_path / "demo.yaml").name == "demo"
    (tmp_path / "other.yaml").write_text(GOOD, encoding="utf-8")
    with pytest.raises(RunbookFileError, match="differs from the file name"):
        RunbookLibrary.load([tmp_path])


def test_plan_hash_changes_with_any_parameter_and_only_then():
    lib = library()
    a = lib.get("scale-out")
    from tools.runbooks.plan import render_plan

    p1 = render_plan(a, {"service": "cart"}, "sandbox")
    assert render_plan(a, {"service": "cart"}, "sandbox").hash == p1.hash
    assert render_plan(a, {"service": "cart", "replicas": 7}, "sandbox").hash != p1.hash
    assert render_plan(a, {"service": "cart"}, "production").hash != p1.hash
    assert json.loads(json.dumps(p1.to_dict()))["hash"] == p1.hash
