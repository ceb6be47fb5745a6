"""Load runbook YAML files; every problem is a `RunbookFileError` with the file, line and reason.

`load_runbook(path)` reads one file, `load_library(dirs)` every `*.yaml` under the given folders
(default: knowledge/runbooks/library). Line numbers come from the YAML node tree, so a pydantic
error on `steps[2].argv` points at the line where that value is written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from tools.runbooks.errors import RunbookFileError, UnknownRunbook
from tools.runbooks.model import Runbook

_STEP_REF = re.compile(r"^(steps|verification|rollback)\[(\d+)\]")
LIBRARY_DIR = Path(__file__).resolve().parents[2] / "knowledge" / "runbooks" / "library"


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the deepest node that `loc` reaches (tags of unions are skipped)."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in loc:
        child = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    child = value
                    break
        elif (isinstance(node, yaml.SequenceNode) and isinstance(part, int)
              and 0 <= part < len(node.value)):
            child = node.value[part]
        if child is None:
            continue  # a union tag such as 'command', or a missing field: keep the parent's line
        if isinstance(node, yaml.MappingNode):  # point at the key, not where its value starts
            line = next(k.start_mark.line for k, v in node.value if v is child) + 1
        else:
            line = child.start_mark.line + 1
        node = child
    return line


def _where(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part not in ("command", "http", "promql_check", "pause_for_approval", "notify"):
            out += f".{part}" if out else str(part)
    return out or "(top level)"


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_runbook(text: str, path: str = "<text>") -> Runbook:
    try:
        raw = yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise RunbookFileError(path, mark.line + 1 if mark else None,
                               f"YAML syntax error: {problem}") from None
    if not isinstance(raw, dict):
        raise RunbookFileError(path, 1, "expected a mapping with name, title, risk, steps, ...")
    try:
        return Runbook.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors()
        err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        loc = tuple(err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        if not loc and (m := _STEP_REF.match(msg)):  # a whole-runbook check names its step
            loc = (m.group(1), int(m.group(2)))
        if err["type"] == "union_tag_invalid":
            loc = (*loc, "kind")
        line = _line_of(yaml.compose(text, Loader=_Loader), loc)  # only to report
        field = _where(loc)
        if err["type"] == "extra_forbidden":
            reason = f"{field} is not a known field (check its spelling)"
        elif err["type"] == "missing":
            reason = f"{field} is missing (add it)"
        elif not err["loc"]:
            reason = msg
        else:
            reason = f"{field}: {msg}"
        raise RunbookFileError(path, line, reason) from None


def load_runbook(path: str | Path) -> Runbook:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise RunbookFileError(str(p), None, "not UTF-8 text (save it as UTF-8)") from None
    except OSError as exc:
        raise RunbookFileError(str(p), None, f"cannot read ({exc.strerror})") from None
    runbook = parse_runbook(text, str(p))
    if p.stem != runbook.name:
        raise RunbookFileError(str(p), 1, f"name {runbook.name!r} differs from the file name "
                                          f"{p.stem!r} (make them the same)")
    return runbook


class RunbookLibrary:
    """The runbooks of one or more folders, by name."""

    def __init__(self, runbooks: Iterable[Runbook]) -> None:
        self._by_name: dict[str, Runbook] = {}
        for rb in runbooks:
            if rb.name in self._by_name:
                raise RunbookFileError(rb.name, None, f"two runbooks are named {rb.name!r}")
            self._by_name[rb.name] = rb

    @classmethod
    def load(cls, dirs: Iterable[str | Path] | None = None) -> RunbookLibrary:
        paths = []
        for d in dirs or [LIBRARY_DIR]:
            folder = Path(d)
            if not folder.is_dir():
                raise RunbookFileError(str(folder), None, "no such folder")
            paths += sorted(folder.glob("*.yaml"))
        return cls(load_runbook(p) for p in paths)

    def get(self, name: str) -> Runbook:
        try:
            return self._by_name[name]
        except KeyError:
            raise UnknownRunbook(f"no runbook named {name!r} (known: "
                                 f"{', '.join(sorted(self._by_name))})") from None

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(sorted(self._by_name.values(), key=lambda r: r.name))

    def __len__(self) -> int:
        return len(self._by_name)

    def names(self) -> list[str]:
        return sorted(self._by_name)
