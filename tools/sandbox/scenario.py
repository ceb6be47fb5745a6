"""Scenario files: YAML describing a day of the shop and the faults injected into it.

`load_scenario(name_or_path)` reads and validates one (pydantic for the shape, then our own checks
for times, services and fault kinds); `list_scenarios()` loads the shipped library in
`tools/sandbox/scenarios/`. Every problem is a one-line `ScenarioError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tools.catalog import FAULT_KINDS
from tools.sandbox.errors import ScenarioError
from tools.sandbox.model import ServiceSpec
from tools.sandbox.topology import Topology, default_services

__all__ = ["Fault", "Scenario", "ScenarioError", "list_scenarios", "load_scenario",
           "parse_duration", "resolve_path", "scenario_dir"]

DEFAULT_START = "2026-11-20T00:00:00Z"
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FaultModel(_Strict):
    service: str
    kind: str
    start: str | datetime
    duration: str | int
    intensity: float = 1.0


class ServiceModel(_Strict):
    name: str
    kind: str = "api"
    calls: list[str] = []
    base_rps: float = Field(50.0, gt=0)
    base_latency_ms: float = Field(20.0, gt=0)
    cpu_limit_cores: float = Field(1.0, gt=0)
    memory_limit_mb: float = Field(1024.0, gt=0)
    pool_size: int = Field(0, ge=0)
    has_disk: bool = False
    team: str = ""


class ScenarioModel(_Strict):
    name: str
    description: str = ""
    seed: int = Field(0, ge=0)
    start: str | datetime = DEFAULT_START
    duration: str | int = "24h"
    step: str | int = "15s"
    now: str | datetime | None = None
    services: list[ServiceModel] | None = None
    faults: list[FaultModel] = []


@dataclass(frozen=True)
class Fault:
    service: str
    kind: str
    start: int  # unix seconds
    end: int
    intensity: float = 1.0


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    seed: int
    start: int
    end: int  # exclusive: the last sample is at end - step
    step: int
    now: int
    topology: Topology
    faults: tuple[Fault, ...]
    path: str = ""


def scenario_dir() -> Path:
    return Path(__file__).with_name("scenarios")


def parse_duration(text: str | int) -> int:
    """Seconds in "1d2h30m15s" style text (any part optional, at least one); a bare int is
    seconds."""
    if isinstance(text, int) and not isinstance(text, bool):
        return text
    m = _DURATION.match(str(text).strip())
    if not m or not any(m.groups()):
        raise ValueError(f"{text!r} is not a duration (write e.g. 45m, 1h30m, 15s)")
    d, h, mi, s = (int(g) if g else 0 for g in m.groups())
    return ((d * 24 + h) * 60 + mi) * 60 + s


def parse_time(value: str | datetime, origin: int | None = None) -> int:
    """An ISO UTC time, or (when `origin` is given) an offset from it such as "18h05m"."""
    if isinstance(value, datetime):
        return int((value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp())
    text = str(value).strip()
    if origin is not None and _DURATION.match(text) and text:
        return origin + parse_duration(text)
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        hint = "an offset like 18h05m or " if origin is not None else ""
        raise ValueError(f"{text!r} is not a time (write {hint}an ISO time like "
                         f"2026-11-20T18:05:00Z)") from None
    return int((when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp())


def resolve_path(name_or_path: str | Path) -> Path:
    text = str(name_or_path)
    if text.endswith((".yaml", ".yml")) or "/" in text or "\\" in text:
        path = Path(text)
        if not path.is_file():
            raise ScenarioError(f"scenario {text}: no such file")
        return path
    path = scenario_dir() / f"{text}.yaml"
    if not path.is_file():
        known = ", ".join(p.stem for p in sorted(scenario_dir().glob("*.yaml")))
        raise ScenarioError(f"scenario {text!r} is not a shipped scenario or a YAML file "
                            f"(choose one of: {known})")
    return path


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A shipped scenario by name (`bad-deploy-checkout`) or any scenario YAML file by path."""
    path = resolve_path(name_or_path)
    label = f"scenario {path.name}"
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ScenarioError(f"{label}: YAML syntax error{where}: {problem}") from None
    except OSError as exc:
        raise ScenarioError(f"{label}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"{label}: not UTF-8 text (save it as UTF-8)") from None
    if not isinstance(raw, dict):
        raise ScenarioError(f"{label}: expected a mapping with name, seed, faults, ...")
    try:
        model = ScenarioModel.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors()
        # A misspelt field also makes the real one "missing": report the spelling first.
        err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        field = _loc(err["loc"]) or "(top level)"
        if err["type"] == "extra_forbidden":
            raise ScenarioError(f"{label}: {field} is not a known field (check its spelling)") \
                from None
        if err["type"] == "missing":
            raise ScenarioError(f"{label}: {field} is missing (add it)") from None
        raise ScenarioError(f"{label}: {field} {err.get('input')!r}: {err['msg']}") from None
    return _build(model, label, str(path))


def _build(model: ScenarioModel, label: str, path: str) -> Scenario:
    def fail(field: str, what: str) -> ScenarioError:
        return ScenarioError(f"{label}: {field} {what}")

    try:
        start = parse_time(model.start)
    except ValueError as exc:
        raise fail("start", str(exc)) from None
    try:
        duration = parse_duration(model.duration)
    except ValueError as exc:
        raise fail("duration", str(exc)) from None
    try:
        step = parse_duration(model.step)
    except ValueError as exc:
        raise fail("step", str(exc)) from None
    if step <= 0 or duration < step:
        raise fail("step", f"{model.step!r} must be positive and at most the duration")
    if duration > 8 * 86400:
        raise fail("duration", f"{model.duration!r} is longer than 8 days (shorten it)")
    steps = duration // step
    end = start + steps * step

    specs = default_services() if model.services is None else [
        ServiceSpec(s.name, s.kind, tuple(s.calls), s.base_rps, s.base_latency_ms,
                    s.cpu_limit_cores, s.memory_limit_mb, s.pool_size, s.has_disk, s.team)
        for s in model.services]
    topology = Topology(specs, label)

    faults: list[Fault] = []
    for i, f in enumerate(model.faults):
        field = f"faults[{i}]"
        if f.kind not in FAULT_KINDS:
            raise fail(f"{field}.kind", f"{f.kind!r} is not a fault kind "
                                        f"(choose one of: {', '.join(FAULT_KINDS)})")
        if f.service not in topology.services:
            raise fail(f"{field}.service", f"{f.service!r} is not a service "
                                           f"(choose one of: {', '.join(topology.names())})")
        spec = topology.services[f.service]
        if f.kind == "disk_full" and not spec.has_disk:
            with_disk = [s.name for s in specs if s.has_disk]
            raise fail(f"{field}.service", f"{f.service!r} has no disk for disk_full "
                                           f"(choose one of: {', '.join(with_disk) or 'none'})")
        if f.kind == "connection_pool_exhaustion" and spec.pool_size <= 0:
            pooled = [s.name for s in specs if s.pool_size > 0]
            raise fail(f"{field}.service",
                       f"{f.service!r} has no connection pool for connection_pool_exhaustion "
                       f"(choose one of: {', '.join(pooled) or 'none'})")
        try:
            f_start = parse_time(f.start, origin=start)
        except ValueError as exc:
            raise fail(f"{field}.start", str(exc)) from None
        try:
            f_duration = parse_duration(f.duration)
        except ValueError as exc:
            raise fail(f"{field}.duration", str(exc)) from None
        if f_duration <= 0:
            raise fail(f"{field}.duration", f"{f.duration!r} must be longer than 0")
        if not start <= f_start < end:
            raise fail(f"{field}.start", f"{f.start!r} is outside the data "
                                         f"({_iso(start)} to {_iso(end)}); move it inside")
        if not 0 < f.intensity <= 10:
            raise fail(f"{field}.intensity", f"{f.intensity} must be in (0, 10]")
        faults.append(Fault(f.service, f.kind, f_start, f_start + f_duration, f.intensity))

    if model.now is not None:
        try:
            now = parse_time(model.now, origin=start)
        except ValueError as exc:
            raise fail("now", str(exc)) from None
        if not start < now <= end:
            raise fail("now", f"{model.now!r} is outside the data "
                              f"({_iso(start)} to {_iso(end)}); move it inside")
    elif faults:
        now = min(min(f.start for f in faults) + 600, end)
    else:
        now = end
    return Scenario(model.name, model.description, model.seed, start, end, step, now, topology,
                    tuple(faults), path)


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def list_scenarios() -> list[Scenario]:
    """The shipped scenario library, sorted by name."""
    return [load_scenario(p) for p in sorted(scenario_dir().glob("*.yaml"))]
