"""Run one `opscopilot` command in a child process and measure that child alone: wall seconds,
peak resident memory and CPU seconds (`os.wait4`), for the large-file benchmarks."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class ChildRun:
    returncode: int
    wall_s: float
    peak_rss_mb: float
    cpu_s: float
    stdout_bytes: int  # what it wrote to stdout (kept in a file: a pipe could fill and block)


def run_cli(*args: str) -> ChildRun:
    """`python -m bot.cli ARGS...`; its stderr (progress) goes to this process's stderr."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "bot.cli", *args], stdout=out)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        size = out.seek(0, os.SEEK_END)
    return ChildRun(proc.returncode, wall, usage.ru_maxrss / 1024,
                    usage.ru_utime + usage.ru_stime, size)
