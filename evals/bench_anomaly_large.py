"""Wall time and peak memory of `opscopilot anomaly score` on one large generated CSV.

    python -m evals.bench_anomaly_large [--rows N] [--json]

Writes an N-row `timestamp,value` file (default 11,000,000 rows, about 200 MB: unix seconds
every 10 s, a daily cycle with noise, a few spikes and a level shift) in a temporary directory,
never in the repository; runs the command on it in a child process with `--progress` (the bar
goes to this process's stderr) and prints the child's wall seconds and peak resident memory
(`os.wait4`, that child alone) beside issue 16's targets: under 60 s and
under 500 MB for 11 M rows. The scored file is checked to have every row, then deleted.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from evals.child_run import run_cli

TARGET_S, TARGET_MB = 60.0, 500.0
STEP_S = 10
START = 1_700_000_000
WRITE_ROWS = 1 << 20


def write_series(path: Path, rows: int, seed: int = 0) -> int:
    """The generated CSV at `path`; returns its size in bytes."""
    rng = np.random.default_rng(seed)
    with path.open("w", encoding="utf-8") as fh:
        fh.write("timestamp,value\n")
        for a in range(0, rows, WRITE_ROWS):
            t = np.arange(a, min(a + WRITE_ROWS, rows))
            value = (50 + 10 * np.sin(2 * np.pi * t * STEP_S / 86400)
                     + rng.normal(0, 1, len(t)) + 20 * (t >= rows * 2 // 3))
            value[rng.random(len(t)) < 1e-5] += 40
            fh.write("".join(f"{ts},{v:.3f}\n"
                             for ts, v in zip((START + STEP_S * t).tolist(), value.tolist(),
                                              strict=True)))
    return path.stat().st_size


def run(rows: int) -> dict[str, Any]:
    """Generate, score in a child process, and measure it."""
    with tempfile.TemporaryDirectory(prefix="bench_anomaly_large.") as tmp:
        src, dst = Path(tmp) / "series.csv", Path(tmp) / "scored.csv"
        size = write_series(src, rows)
        proc = run_cli("anomaly", "score", str(src), "-o", str(dst), "--progress")
        if proc.returncode != 0:
            raise SystemExit(f"anomaly score failed with exit code {proc.returncode}")
        with dst.open("rb") as fh:
            scored = sum(1 for _ in fh) - 1
    if scored != rows:
        raise SystemExit(f"anomaly score wrote {scored:,} rows for {rows:,}")
    wall, mb = proc.wall_s, proc.peak_rss_mb
    return {"rows": rows, "input_mb": round(size / 1e6, 1), "wall_s": round(wall, 2),
            "peak_rss_mb": round(mb, 1), "stdout_bytes": proc.stdout_bytes,
            "rows_per_s": round(rows / wall), "under_60_s": wall < TARGET_S,
            "under_500_mb": mb < TARGET_MB}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=11_000_000)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    if args.rows < 1:
        ap.error("--rows must be at least 1")
    res = run(args.rows)
    if args.json:
        print(json.dumps(res))
    else:
        print(f"{res['rows']:,} rows ({res['input_mb']} MB): {res['wall_s']} s wall "
              f"(target < {TARGET_S:.0f}), peak RSS {res['peak_rss_mb']} MB "
              f"(target < {TARGET_MB:.0f}), {res['rows_per_s']:,} rows/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
