"""The opscopilot command: the JSON contract, the sandbox commands, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from bot.cli import app
from tools.catalog import FAULT_KINDS

runner = CliRunner()

ASK_KEYS = {"answer", "intent", "tools", "findings", "root_causes", "similar_incidents",
            "runbooks", "evidence", "latency_ms"}


def run(*args: str):
    return runner.invoke(app, list(args))


def test_sandbox_list_json_contract():
    result = run("sandbox", "list", "--json")
    assert result.exit_code == 0, result.output
    index = json.loads(result.stdout)
    names = {item["name"] for item in index}
    assert "quiet" in names and len(index) >= 10
    kinds = {f["kind"] for item in index for f in item["faults"]}
    assert kinds == set(FAULT_KINDS)
    for item in index:
        for fault in item["faults"]:
            assert set(fault) == {"service", "kind", "start", "end"}
            assert isinstance(fault["start"], int) and fault["end"] > fault["start"]


def test_sandbox_show_and_export(tmp_path):
    result = run("sandbox", "show", "bad-deploy-checkout", "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["ground_truth"][0]["service"] == "checkout"
    out = tmp_path / "shop.om"
    result = run("sandbox", "export", "quiet", "--format", "openmetrics", "-o", str(out))
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert text.rstrip().endswith("# EOF") and "# TYPE" in text
    assert not list(tmp_path.glob(".*tmp*"))


@pytest.mark.parametrize("args", [
    ("sandbox", "export", "quiet", "--format", "parquet", "-o", "{tmp}/x"),
    ("sandbox", "export", "quiet", "-o", "{tmp}/no/such/dir/x"),
    ("sandbox", "show", "no-such-scenario"),
])
def test_sandbox_bad_input_is_one_line_and_writes_nothing(tmp_path, args):
    result = run(*(a.format(tmp=tmp_path) for a in args))
    assert result.exit_code == 2
    assert "error:" in result.output and "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_broken_scenario_file(tmp_path):
    bad = tmp_path / "broken.yaml"
    bad.write_text("name: broken\nfaults:\n  - service: checkout\n    kind: disk_ful\n"
                   "    start: 14h\n    duration: 30m\n")
    result = run("ask", "what is wrong?", "--scenario", str(bad))
    assert result.exit_code == 2
    assert "disk_ful" in result.output and "Traceback" not in result.output


@pytest.mark.slow
def test_ask_json_has_the_stable_keys():
    result = run("ask", "what is wrong with checkout?", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) >= ASK_KEYS
    assert data["intent"] == "investigate"
    assert "incident_context" in data["tools"]  # anomalies, logs, changes, alerts, ranking
    for rc in data["root_causes"]:
        assert {"service", "metric", "score"} <= set(rc)


@pytest.mark.slow
@pytest.mark.parametrize(("args", "needle"), [
    (("ask", "   "), "empty"),
    (("ask", "what is wrong with the billing service?"), "billing"),
    (("ask", "errors in checkout between 15:00 and 14:00"), "15:00"),
    (("ask", "what is wrong with checkout?", "--at", "teatime"), "--at"),
    (("ask", "what is wrong with checkout?", "--at", "2020-01-01T00:00Z"), "outside"),
    (("ask", "what is wrong?", "--scenario", "no-such-scenario"), "no-such-scenario"),
])
def test_ask_bad_input(args, needle):
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert needle in result.output
    assert "Traceback" not in result.output


@pytest.mark.slow
def test_real_process_prints_one_line_not_a_traceback():
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "ask", "latency of the billing service"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "billing" in proc.stderr


def test_help_is_fast_enough_to_not_import_torch():
    code = ("import sys; from bot.cli import app; "
            "print(any(m.startswith(('torch', 'sentence_transformers', 'sklearn')) "
            "for m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert proc.stdout.strip() == "False"


def test_data_is_printed_as_it_is_no_emoji_codes_or_markup():
    """Evidence ids such as metric:email:error_rate and regexes in messages reach the terminal
    unchanged (Rich would turn ':email:' into an emoji and eat '[bold]'-like text)."""
    from bot.answer import Answer
    from bot.cli.common import out
    from bot.render import render_answer

    answer = Answer(question="q", intent="metrics", summary="does not match ^[a-z]{1,40}$ "
                    "[bold]x[/bold] :email: see [metric:email:error_rate]")
    with out.capture() as captured:
        render_answer(answer, out)
    text = captured.get()
    assert "does not match ^[a-z]{1,40}$ [bold]x[/bold] :email: see [metric:email:error_rate]" \
        in text
    from bot.cli.common import err, escape

    with err.capture() as captured:
        err.print(f"[red]error:[/red] {escape('pattern ^[a-z]{1,40}$ :email:')}")
    assert "pattern ^[a-z]{1,40}$ :email:" in captured.get()


DATA = "[/api/cart] [bold]x[/bold] :email: ^[a-z]{1,40}$ [metric:email:error_rate]"


def test_commands_print_stored_text_as_it_is(monkeypatch, tmp_path):
    """Titles and change descriptions come from people and CI: a closing tag in one crashed
    `incident declare` with a MarkupError traceback, and other markup or emoji codes were
    eaten. Every command prints them verbatim."""
    from infra.settings import load_settings
    from infra.state import state_engine
    from tools.backends.change_store import ChangeEventIn, ChangeStore

    monkeypatch.setenv("OPSCOPILOT_DATA_DIR", str(tmp_path))
    declared = run("incident", "declare", f"checkout 500s {DATA}", "--sev", "sev2")
    assert declared.exit_code == 0, declared.output
    assert DATA in declared.stdout
    inc_id = declared.stdout.split()[0]
    for args in (("incident", "list"), ("incident", "status", inc_id)):
        shown = run(*args)
        assert shown.exit_code == 0 and DATA in shown.stdout, shown.output
    ChangeStore(state_engine(load_settings(data_dir=tmp_path))).add(
        [ChangeEventIn(service="cart", description=f"deploy {DATA}")])
    listed = run("events", "list")
    assert listed.exit_code == 0 and f"deploy {DATA}" in listed.stdout, listed.output
