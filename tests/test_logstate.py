"""Template miner state: a restored miner places lines as one that never stopped; `logs templates
--state` keeps template ids across runs and refuses a corrupt state without writing anything."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from tools.anomaly.logstate import StateError, dumps, loads
from tools.anomaly.logtemplates import miner_for

LOGHUB = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "loghub-dev"
runner = CliRunner()

# Four user names at one position: the fourth merges the first three's templates (a merge
# chain to restore), plus an event with a header-less line between.
SYNTHETIC = [f"2026-01-0{d} 10:00:0{d} INFO sshd[12{d}]: login {user} ok from 10.0.0.{d}"
             for d, user in enumerate(("alice", "bob", "carol", "dave", "erin"), start=1)]
SYNTHETIC[2:2] = ["2026-01-02 10:00:05 WARN disk: /var at 91% full", "  at Foo.bar(Foo.java:12)"]


def _resumed_and_straight(lines: list[str], cut: int) -> tuple[list[str], list[str]]:
    """Each line's (final id, template) from a miner saved and restored after `cut` lines,
    and from one run straight through."""
    straight = miner_for(lines)
    one = [straight.add(line) for line in lines]
    first = miner_for(lines)
    part = [first.add(line) for line in lines[:cut]]
    resumed = loads(dumps(first))
    part += [resumed.add(line) for line in lines[cut:]]
    by_id = {t.id: t for t in resumed.templates}
    return ([f"{by_id[t.id].resolved().id} {by_id[t.id].resolved().text}" for t in part],
            [f"{t.resolved().id} {t.resolved().text}" for t in one])


def test_a_restored_miner_continues_as_if_it_never_stopped():
    for cut in range(len(SYNTHETIC) + 1):
        resumed, straight = _resumed_and_straight(SYNTHETIC, cut)
        assert resumed == straight, cut


@pytest.mark.skipif(not LOGHUB.is_dir(), reason="shared data (<repo>/../shared/data) is absent")
@pytest.mark.parametrize("system", ["Linux", "OpenSSH", "BGL"])  # the ones with merges
def test_a_restored_miner_matches_on_real_logs(system):
    path = LOGHUB / system / f"{system}_2k.log"
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    resumed, straight = _resumed_and_straight(lines, 1000)
    assert resumed == straight


def test_bad_states_raise_one_line_errors():
    good = json.loads(dumps(miner_for(SYNTHETIC)))
    miner = miner_for(SYNTHETIC)
    for line in SYNTHETIC:
        miner.add(line)
    merged = json.loads(dumps(miner))
    assert any(t["merged_into"] for t in merged["templates"])
    cycle = json.loads(dumps(miner))
    chained = next(t for t in cycle["templates"] if t["merged_into"])
    cycle["templates"][chained["merged_into"] - 1]["merged_into"] = (
        cycle["templates"].index(chained) + 1)
    broken = [
        ("{not json", "not JSON"),
        ("[]", "not a opscopilot-logtemplates state"),
        (json.dumps({**good, "version": 9}), "state version 9"),
        (json.dumps({**merged, "templates": merged["templates"][:1]}), "no template"),
        (json.dumps({**good, "header": [1, "sideways", 0]}), "bad header shape"),
        (json.dumps({**merged, "cache": {"x": 0}}), "no template 0"),
        (json.dumps(cycle), "cycle"),
        (json.dumps({k: v for k, v in good.items() if k != "leaves"}), "KeyError"),
    ]
    for text, needle in broken:
        with pytest.raises(StateError, match=needle) as caught:
            loads(text)
        assert "\n" not in str(caught.value)


def _templates(tmp_path: Path, log: Path, state: Path) -> list[list[str]]:
    out = tmp_path / "t.csv"
    result = runner.invoke(app, ["logs", "templates", str(log), "-o", str(out),
                                 "--state", str(state)])
    assert result.exit_code == 0, result.output
    return list(csv.reader(out.open()))[1:]


def test_cli_state_keeps_ids_across_runs(tmp_path):
    state = tmp_path / "miner.json"
    day1, day2 = tmp_path / "day1.log", tmp_path / "day2.log"
    day1.write_text("\n".join(SYNTHETIC[:4]) + "\n")
    day2.write_text("\n".join(["2026-01-03 11:00:00 ERROR db: connection refused to 10.0.0.9",
                               *SYNTHETIC[:4]]) + "\n")
    first = _templates(tmp_path, day1, state)
    assert state.is_file() and not list(tmp_path.glob(".*.tmp"))
    second = _templates(tmp_path, day2, state)
    assert [r[1:] for r in second[1:]] == [r[1:] for r in first]  # same lines, same ids
    known = {r[1] for r in first}
    assert second[0][1] not in known and int(second[0][1][1:]) > max(
        int(t[1:]) for t in known)  # a new event gets the next id
    fresh = tmp_path / "fresh.json"
    alone = _templates(tmp_path, day2, fresh)
    assert alone[0][1] == "T1"  # without the saved state the ids start again


def test_cli_refuses_a_corrupt_state_and_writes_nothing(tmp_path):
    log, out, state = tmp_path / "a.log", tmp_path / "t.csv", tmp_path / "miner.json"
    log.write_text("\n".join(SYNTHETIC) + "\n")
    for corrupt in (b'{"format": "opscopilot-logtemplates", "version": 1, "templ',
                    b"\xff\xfe\x00garbage"):
        state.write_bytes(corrupt)
        result = runner.invoke(app, ["logs", "templates", str(log), "-o", str(out),
                                     "--state", str(state)])
        assert result.exit_code == 2
        assert "--state" in result.output and result.output.strip().count("\n") == 0
        assert state.read_bytes() == corrupt and not out.exists()
        assert not list(tmp_path.glob(".*.tmp"))
    missing = tmp_path / "no" / "miner.json"
    result = runner.invoke(app, ["logs", "templates", str(log), "-o", str(out),
                                 "--state", str(missing)])
    assert result.exit_code == 2 and "does not exist" in result.output and not out.exists()
