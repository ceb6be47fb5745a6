"""Read metrics in the RCAEval CSV layout: a `time` column (unix seconds) and one column per
series named `<service>_<metric>` (`cartservice_cpu`, `checkoutservice_latency-90`).

With a call graph the longest known service name that prefixes a column wins (service names may
hold underscores); without one the name splits at its first underscore, as RCAEval does.
Columns that hold no number at all are dropped and reported; everything else that is wrong is a
one-line `RcaInputError`.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tools.rca.errors import RcaInputError

TIME_COLUMNS = ("time", "timestamp", "Time")


@dataclass
class SignalTable:
    timestamps: np.ndarray  # unix seconds, ascending
    signals: dict[tuple[str, str], np.ndarray]
    dropped: list[str] = field(default_factory=list)  # columns with no number in them
    notes: list[str] = field(default_factory=list)


def split_column(name: str, services: list[str] | None = None) -> tuple[str, str] | None:
    """(service, metric) of a `<service>_<metric>` column, None when it has no such shape."""
    if services:
        for s in sorted(services, key=len, reverse=True):
            if name.startswith(s + "_") and len(name) > len(s) + 1:
                return s, name[len(s) + 1:]
    service, sep, metric = name.partition("_")
    if not sep or not service or not metric:
        return None
    return service, metric


def _number(text: str) -> float:
    t = text.strip()
    if not t or t.lower() in ("nan", "null", "none", "na", "-"):
        return math.nan
    return float(t)


def read_signal_csv(path: str | Path, services: list[str] | None = None) -> SignalTable:
    p = Path(path)
    label = str(p)
    try:
        with p.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except FileNotFoundError:
        raise RcaInputError(f"{label}: no such file") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise RcaInputError(f"{label}: cannot read it as CSV ({exc})") from None
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise RcaInputError(f"{label}: empty file (expected a header with a time column)")
    header = [h.strip() for h in rows[0]]
    time_col = next((header.index(c) for c in TIME_COLUMNS if c in header), None)
    if time_col is None:
        shown = ", ".join(header[:6]) + (", ..." if len(header) > 6 else "")
        raise RcaInputError(f"{label}: no `time` column (unix seconds); the header has: {shown}")
    body = [r for r in rows[1:] if any(cell.strip() for cell in r)]
    if len(body) < 2:
        raise RcaInputError(f"{label}: {len(body)} data rows; need a series over time")
    columns: list[tuple[int, tuple[str, str]]] = []
    skipped = []
    for i, name in enumerate(header):
        if i == time_col or name in TIME_COLUMNS or name.startswith("time."):
            continue
        parts = split_column(name, services)
        if parts is None:
            skipped.append(name)
        else:
            columns.append((i, parts))
    if not columns:
        raise RcaInputError(f"{label}: no `<service>_<metric>` columns besides time "
                            "(name them e.g. cartservice_cpu)")
    width = len(header)
    times = np.empty(len(body))
    values = np.full((len(columns), len(body)), math.nan)
    for r, row in enumerate(body, start=2):
        if len(row) != width:
            raise RcaInputError(f"{label}: line {r} has {len(row)} fields, the header {width}")
        try:
            times[r - 2] = _number(row[time_col])
        except ValueError:
            raise RcaInputError(f"{label}: line {r}: time {row[time_col]!r} is not a number "
                                "(write unix seconds)") from None
        for j, (i, _) in enumerate(columns):
            try:
                values[j, r - 2] = _number(row[i])
            except ValueError:
                raise RcaInputError(f"{label}: line {r}: {header[i]} = {row[i]!r} is not a "
                                    "number") from None
    if not np.isfinite(times).all():
        raise RcaInputError(f"{label}: the time column has empty or NaN cells")
    notes = []
    if np.median(times) > 1e11:  # milliseconds, as some exporters write
        times = times / 1000.0
        notes.append("time looks like unix milliseconds: read as such")
    if np.any(np.diff(times) < 0):
        notes.append(f"rows are not in time order ({int(np.sum(np.diff(times) < 0))} step(s) "
                     "back): sorted by time")
    order = np.argsort(times, kind="stable")
    times, values = times[order], values[:, order]
    dup = np.concatenate([[False], np.diff(times) == 0])
    if dup.any():
        notes.append(f"{int(dup.sum())} row(s) repeat an earlier timestamp: the first of each "
                     "is kept")
        times, values = times[~dup], values[:, ~dup]
    missing = int(np.isnan(values).sum())
    if missing:
        notes.append(f"{missing} empty or NaN cell(s) in {int(np.isnan(values).any(axis=1).sum())}"
                     " column(s): read as no sample")
    if skipped:
        notes.append(f"ignored {len(skipped)} column(s) not named <service>_<metric>: "
                     + ", ".join(skipped[:5]))
    signals: dict[tuple[str, str], np.ndarray] = {}
    dropped = []
    for j, (i, key) in enumerate(columns):
        if not np.isfinite(values[j]).any():
            dropped.append(header[i])
        elif key in signals:
            raise RcaInputError(f"{label}: column {header[i]} appears twice")
        else:
            signals[key] = values[j]
    if not signals:
        raise RcaInputError(f"{label}: every signal column is empty or NaN")
    if dropped:
        notes.append(f"dropped {len(dropped)} column(s) with no numbers: " + ", ".join(dropped[:5]))
    return SignalTable(times.astype(np.int64) if np.all(times == np.round(times)) else times,
                       signals, dropped, notes)


def check_onset(table: SignalTable, onset: int, label: str = "--inject-time") -> None:
    """A one-line error when the onset is outside the data."""
    first, last = int(table.timestamps[0]), int(table.timestamps[-1])
    if not first < onset <= last:
        hint = (f"; {label} is read in unix seconds, and {onset} looks like milliseconds "
                f"(try {onset // 1000})" if onset > 1e11 and first < onset / 1000 <= last
                else "")
        raise RcaInputError(f"{label} {onset} is outside the data ({first} to {last}); give a "
                            f"time inside it, after some normal data{hint}")


def write_signal_csv(path: str | Path, timestamps: np.ndarray,
                     signals: dict[tuple[str, str], np.ndarray]) -> None:
    """Write the same layout (used by the benchmark to feed other tools); temp file + rename."""
    p = Path(path)
    tmp = p.with_suffix(p.suffix + ".tmp")
    keys = list(signals)
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["time", *[f"{s}_{m}" for s, m in keys]])
        matrix = np.vstack([signals[k] for k in keys]).T if keys else np.empty((0, 0))
        for t, row in zip(timestamps.tolist(), matrix, strict=True):
            w.writerow([t, *[repr(round(float(v), 6)) for v in row]])
    tmp.replace(p)
