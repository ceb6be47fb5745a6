"""The seams a runbook runs through, each one small protocol with a production implementation:

- `Executor.run(argv, timeout_s) -> CommandResult` for `command` steps: `SubprocessExecutor`
  runs the argv list with no shell, a timeout and an allow-list of programs;
- an `httpx.BaseTransport` for `http` steps (httpx's own seam);
- `MetricsReader.value(query, at) -> float | None` for `promql_check` steps:
  `PrometheusReader` asks a Prometheus instant-query API;
- `Clock` (`now()`, `sleep(s)`): `WallClock` for real runs; the sandbox's clock is virtual.

The sandbox implements all four (tools/runbooks/sandbox_target.py); tests use the same ones.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from typing import Protocol

import httpx


@dataclass(frozen=True)
class CommandResult:
    exit_code: int
    stdout: str
    stderr: str
    timed_out: bool = False


class Executor(Protocol):
    def run(self, argv: list[str], timeout_s: float) -> CommandResult: ...


class Clock(Protocol):
    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class MetricsReader(Protocol):
    def value(self, query: str, at: float) -> float | None: ...


class WallClock:
    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


DEFAULT_PROGRAMS = frozenset({"kubectl", "helm", "cmctl"})


class SubprocessExecutor:
    """Runs argv lists as child processes: never a shell, a timeout, programs on an allow-list."""

    def __init__(self, programs: frozenset[str] = DEFAULT_PROGRAMS) -> None:
        self.programs = programs

    def run(self, argv: list[str], timeout_s: float) -> CommandResult:
        if argv[0] not in self.programs:
            return CommandResult(126, "", f"{argv[0]} is not an allowed program "
                                          f"({', '.join(sorted(self.programs))})")
        try:
            done = subprocess.run(argv, shell=False, capture_output=True, text=True,  # noqa: S603
                                  timeout=timeout_s, stdin=subprocess.DEVNULL, check=False)
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else ""
            return CommandResult(124, out, f"timed out after {timeout_s:g}s", timed_out=True)
        except FileNotFoundError:
            return CommandResult(127, "", f"{argv[0]}: command not found")
        return CommandResult(done.returncode, done.stdout, done.stderr)


class PrometheusReader:
    """The first sample of an instant query's result (None when the result is empty)."""

    def __init__(self, base_url: str, transport: httpx.BaseTransport | None = None,
                 timeout_s: float = 10.0) -> None:
        self.client = httpx.Client(base_url=base_url, transport=transport, timeout=timeout_s)

    def value(self, query: str, at: float) -> float | None:
        reply = self.client.get("/api/v1/query", params={"query": query, "time": f"{at:.3f}"})
        reply.raise_for_status()
        data = reply.json()["data"]
        if data["resultType"] == "scalar":
            return float(data["result"][1])
        result = data["result"]
        return float(result[0]["value"][1]) if result else None
