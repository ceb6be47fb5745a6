"""Helpers for tests that start a real server on loopback (Prometheus, Alertmanager, Chroma)."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

if TYPE_CHECKING:
    from tools.sandbox.simulator import Sandbox


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_ready(url: str, proc: subprocess.Popen, timeout_s: float = 60) -> bool:
    """Poll `url` until it answers 200; False if the process dies or time runs out."""
    deadline = time.monotonic() + timeout_s
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    return False


def postgres_bin(name: str) -> str | None:
    """A PostgreSQL server program from Debian's packages (not on PATH there), or None."""
    import glob
    import shutil

    found = shutil.which(name)
    if found:
        return found
    versions = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return versions[-1] if versions else None


class PostgresServer:
    """A throw-away PostgreSQL cluster on a free loopback port, in `folder`.

    PostgreSQL refuses to run as root; as root (CI) the cluster is run as the `postgres` user
    that Debian's package creates.
    """

    def __init__(self, folder: str) -> None:
        import os
        import pwd
        import shutil

        self.folder = folder
        self.port = free_port()
        self._as: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            shutil.chown(folder, user.pw_uid, user.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        self.data = f"{folder}/data"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str) -> None:
        subprocess.run([*self._as, *argv], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        initdb, pg_ctl = postgres_bin("initdb"), postgres_bin("pg_ctl")
        if not initdb or not pg_ctl:
            raise RuntimeError("PostgreSQL is not installed: apt-get install postgresql")
        self._run(initdb, "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self._run(pg_ctl, "-D", self.data, "-w", "-t", "60", "-l", f"{self.folder}/log",
                  "-o", f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
                        "-c fsync=off", "start")

    def stop(self) -> None:
        pg_ctl = postgres_bin("pg_ctl")
        if pg_ctl:
            subprocess.run([*self._as, pg_ctl, "-D", self.data, "-m", "immediate", "stop"],
                           capture_output=True, timeout=60)


@contextmanager
def backfilled_prometheus(root: Path, scenario: str, hours_before: int = 3,
                          hours_after: int = 1) -> Iterator[tuple[str, Sandbox]]:
    """A real Prometheus (Debian's package) serving a sandbox scenario's metrics, backfilled
    with `promtool tsdb create-blocks-from openmetrics`; yields (URL, the sandbox)."""
    from tools.sandbox.export import export_openmetrics
    from tools.sandbox.simulator import load_sandbox

    sb = load_sandbox(scenario)
    om = root / "shop.om"
    with om.open("w") as fh:
        export_openmetrics(sb, fh, start=sb.now - hours_before * 3600,
                           end=sb.now + hours_after * 3600)
    data = root / "data"
    subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", str(om), str(data)],
                   check=True, capture_output=True, timeout=300)
    config = root / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1h\n")
    port = free_port()
    proc = subprocess.Popen(
        ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={data}",
         f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=100y"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        if not wait_until_ready(f"{url}/-/ready", proc):
            raise RuntimeError("prometheus did not become ready within 60 s")
        yield url, sb
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def needs(*programs: str, package: str) -> pytest.MarkDecorator:
    """Skip when a server program is missing on a developer's machine, with the package to
    install; in CI (`CI` set, where .ci/run installs it) run anyway, so a missing install fails."""
    import os
    import shutil

    missing = [p for p in programs if shutil.which(p) is None and postgres_bin(p) is None]
    return pytest.mark.skipif(bool(missing) and not os.environ.get("CI"),
                              reason=f"{', '.join(missing)} not installed: apt-get install "
                                     f"{package} (.ci/run does)")
