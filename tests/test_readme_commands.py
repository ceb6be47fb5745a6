"""Every command README.md shows runs as written, against the sandbox, in a fresh data folder.

The commands run in a folder laid out like a checkout (the repository's entries linked in, with
`../shared` beside it), so relative paths in the README resolve as they do for a reader. A block's
`export` lines apply to the commands after them. `<id>` and `<hash>` are taken from the output of
the command before, as a reader would copy them. The few commands that need something this machine
does not have here are listed in SKIP with the reason and the tests that cover them instead.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"

SKIP = {  # command start -> why it is not run here
    "make ": "the README's two commands: CI runs `make test`; `opscopilot demo` below is make demo",
    "opscopilot serve": "connects to Slack; tests/test_slack_serve.py runs it with a fake Slack",
    "OPSCOPILOT_LLM__PROVIDER=": "needs a model server; tests/test_llm_*.py replay the providers",
}
SKIP_BLOCKS = {  # a block whose first line starts so -> why
    "export OPSCOPILOT_PROMETHEUS__URL": "your servers; tests/test_*_backend.py use real ones",
}


def blocks() -> list[list[str]]:
    """The ```sh blocks of the README: continuation lines joined, comments and optional
    `[...]` parts dropped."""
    out = []
    for body in re.findall(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(), re.S):
        lines = [re.sub(r"\s\[[^\]]*\]", "", line)
                 for line in body.replace("\\\n", " ").splitlines()]
        out.append([shlex.join(words) for line in lines
                    if (words := shlex.split(line, comments=True))])
    return out


def _skipped(command: str) -> str | None:
    plain = command.replace(".venv/bin/", "")
    return next((why for start, why in SKIP.items() if plain.startswith(start)), None)


def _fill(command: str, previous: str) -> str:
    """Placeholders filled from what the block printed so far, as a reader copies them."""
    if "<id>" in command:
        command = command.replace("<id>", re.search(r"request ([0-9a-f]{8,})", previous)[1])
    if "<hash>" in command:
        command = command.replace("<hash>", re.search(r"plan hash: (\S+)", previous)[1])
    return command


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    top = tmp_path_factory.mktemp("reader")
    repo = top / "repo"
    repo.mkdir()
    for entry in ROOT.iterdir():
        if not entry.name.startswith((".git", ".pytest")) or entry.name == ".venv":
            (repo / entry.name).symlink_to(entry)
    if SHARED.exists():
        _sample_of_shared(top / "shared")
    return repo


def _sample_of_shared(to: Path) -> None:
    """`../shared/data` with the same layout and a sample of each corpus: ingesting all of it
    costs ~40 s of embeddings and proves nothing more about the command."""
    data = to / "data"
    (data / "public-postmortems").mkdir(parents=True)
    lines = (SHARED / "data" / "public-postmortems" / "post-mortems.md").read_text().splitlines()
    (data / "public-postmortems" / "post-mortems.md").write_text("\n".join(lines[:60]) + "\n")
    runbooks = SHARED / "data" / "prometheus-operator-runbooks"
    for group in sorted((runbooks / "content" / "runbooks").iterdir())[:3]:
        if group.is_dir():
            target = data / "prometheus-operator-runbooks" / "content" / "runbooks" / group.name
            target.mkdir(parents=True)
            for md in sorted(group.glob("*.md"))[:2]:
                (target / md.name).symlink_to(md)


@pytest.mark.slow
def test_every_readme_command_runs_as_written(checkout: Path):
    if not (ROOT / ".venv" / "bin" / "opscopilot").exists():
        pytest.skip("run through `make test`: the README's commands use .venv/bin/opscopilot")
    if not SHARED.exists():
        pytest.skip("../shared/data is not beside the repository")
    env = {**os.environ, "OPSCOPILOT_DATA_DIR": str(checkout.parent / "data"),
           "NO_COLOR": "1", "COLUMNS": "120"}
    env.pop("OPSCOPILOT_RUNBOOKS__POLICY_FILE", None)
    ran, failed = [], []
    for block in blocks():
        if any(block[0].startswith(start) for start in SKIP_BLOCKS):
            continue
        previous = ""
        for line in block:
            if _skipped(line):
                continue
            if line.startswith("export "):
                name, _, value = line.removeprefix("export ").partition("=")
                env[name] = value
                continue
            command = _fill(line, previous)
            stdin = "/quit\n" if " chat" in command else None
            done = subprocess.run(command, shell=True, cwd=checkout, env=env, input=stdin,
                                  capture_output=True, text=True, timeout=240)
            ran.append(command)
            previous += done.stdout
            if done.returncode != 0 or "Traceback" in done.stderr:
                failed.append(f"{command}\n  rc {done.returncode}: {done.stderr.strip()[-300:]}")
    assert not failed, "\n".join(failed)
    assert len(ran) >= 25, ran


def test_every_skip_names_a_command_the_readme_still_shows():
    text = (ROOT / "README.md").read_text().replace(".venv/bin/", "")
    for start in [*SKIP, *SKIP_BLOCKS]:
        assert start in text, f"SKIP lists {start!r}, which README.md no longer shows"
