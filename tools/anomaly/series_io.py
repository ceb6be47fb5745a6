"""The batch format of `opscopilot anomaly score`: CSV in with `timestamp,value`, CSV out with
`anomaly_score` added, and the checks that turn bad input into one-line `SeriesError`s.

Timestamps are unix seconds (integer or decimal) or ISO 8601 times (UTC when no zone is given);
they should increase. Real exports repeat a timestamp (a DST change, a duplicated sample) or step
back once: such rows are kept in file order and counted in `SeriesTable.disorder` (the caller
reports it once); `strict=True` refuses them instead. A value may be empty or `nan` (a gap:
scored 0 and left out of the baseline); any other text, or an infinite value, is an error naming
the line.
"""

from __future__ import annotations

import csv
import dataclasses
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TextIO

import numpy as np

from tools.anomaly.robust import RobustConfig

MISSING = {"", "nan", "NaN", "NAN", "null", "NULL", "None", "NA"}
HOUR_S, DAY_S = 3600, 86400
INDEX_WINDOW = 96  # baseline samples when timestamps only count samples
RELEARN_AFTER = 12  # the command line: 12 anomalous samples in a row start a new baseline


CLI_CONFIG = RobustConfig(relearn_after=RELEARN_AFTER, min_hop=4)


class SeriesError(ValueError):
    """The input series cannot be scored; the message says which line and what to fix."""


@dataclass
class SeriesTable:
    header: list[str]
    rows: list[list[str]]
    timestamps: np.ndarray  # float unix seconds
    values: np.ndarray  # float, NaN where missing
    missing: int
    disorder: str = ""  # what was out of order, for one note on stderr ("" when none)


def _parse_time(text: str, line: int) -> float:
    t = text.strip()
    try:
        value = float(t)
    except ValueError:
        try:
            when = datetime.fromisoformat(t.replace("Z", "+00:00"))
        except ValueError:
            raise SeriesError(f"line {line}: timestamp {t!r} is neither unix seconds nor an ISO "
                              f"time like 2026-11-20T18:05:00Z") from None
        return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()
    if not math.isfinite(value):
        raise SeriesError(f"line {line}: timestamp {t!r} is not a finite number")
    return value


def read_series(handle: TextIO, name: str = "input", strict: bool = False) -> SeriesTable:
    """Read and check a `timestamp,value` CSV (extra columns are kept for the output).

    Repeated timestamps and steps back are kept in file order (see `disorder`); `strict`
    refuses them with the line of the first one."""
    try:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise SeriesError(f"{name} is empty: expected a header line 'timestamp,value'")
        cols = [h.strip().lower() for h in header]
        if "timestamp" not in cols and "timestamps" in cols:  # Yahoo S5 A3/A4 spell it so
            cols[cols.index("timestamps")] = "timestamp"
        missing_cols = [c for c in ("timestamp", "value") if c not in cols]
        if missing_cols:
            raise SeriesError(f"{name}: no {' or '.join(missing_cols)} column in the header "
                              f"{','.join(header)!r} (expected 'timestamp,value')")
        ti, vi = cols.index("timestamp"), cols.index("value")
        rows: list[list[str]] = []
        stamps: list[float] = []
        values: list[float] = []
        repeats = backs = 0
        first_bad = ""
        for row in reader:
            line = reader.line_num
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != len(header):
                raise SeriesError(f"line {line}: {len(row)} fields, the header has "
                                  f"{len(header)}")
            ts = _parse_time(row[ti], line)
            raw = row[vi].strip()
            if raw in MISSING:
                value = math.nan
            else:
                try:
                    value = float(raw)
                except ValueError:
                    raise SeriesError(f"line {line}: value {raw!r} is not a number "
                                      f"(leave it empty for a missing value)") from None
                if math.isinf(value):
                    raise SeriesError(f"line {line}: value {raw!r} is infinite")
            if stamps and ts <= stamps[-1]:
                what = "repeats" if ts == stamps[-1] else "goes back from"
                if strict:
                    raise SeriesError(f"line {line}: timestamp {row[ti].strip()!r} {what} the "
                                      f"previous one; sort the file by time and drop "
                                      f"duplicates (or leave out --strict)")
                repeats += ts == stamps[-1]
                backs += ts < stamps[-1]
                first_bad = first_bad or f"line {line}: {row[ti].strip()!r} {what} the previous"
            rows.append(row)
            stamps.append(ts)
            values.append(value)
    except UnicodeDecodeError:
        raise SeriesError(f"{name} is not UTF-8 text (is it a CSV file?)") from None
    except csv.Error as exc:
        raise SeriesError(f"{name}: not valid CSV ({exc})") from None
    if not rows:
        raise SeriesError(f"{name} has a header but no rows")
    vs = np.array(values, dtype=float)
    disorder = ""
    if repeats or backs:
        disorder = (f"{repeats} repeated timestamp(s) and {backs} step(s) back kept in file "
                    f"order (first at {first_bad})")
    return SeriesTable(header, rows, np.array(stamps), vs, int(np.isnan(vs).sum()), disorder)


def is_index(timestamps: np.ndarray) -> bool:
    """Timestamps that count samples (1, 2, 3, ...) rather than seconds: a step of 1 and values
    before 1973, as in Yahoo S5's A1/A2 files. They carry no clock, so no daily profile."""
    if len(timestamps) < 2:
        return False
    return bool(np.median(np.diff(timestamps)) == 1 and timestamps[-1] < 1e8)


def config_for(timestamps: np.ndarray, base: RobustConfig | None = None) -> RobustConfig:
    """Windows in samples from the median sampling interval: a one-hour baseline (30 to 2,000
    samples), refreshed every twelfth of it, and a daily profile once two days are there (one
    bucket per sample at most). Sample-index timestamps: a 96-sample baseline, no profile."""
    base = base or RobustConfig()
    if len(timestamps) < 2:
        return base
    if is_index(timestamps):
        return dataclasses.replace(base, window=INDEX_WINDOW, hop=INDEX_WINDOW // 12, season=0,
                                   min_history=min(base.min_history, INDEX_WINDOW // 2))
    step = float(np.median(np.diff(timestamps)))
    step = step if step > 0 else 1.0
    window = int(min(2000, max(30, round(HOUR_S / step))))
    hop = max(base.min_hop, window // 12)
    span = float(timestamps[-1] - timestamps[0])
    season = DAY_S if span >= 2 * DAY_S and DAY_S / step >= 2 * hop else 0
    buckets = int(min(base.season_buckets, max(4, round(DAY_S / step))))
    return dataclasses.replace(base, window=window, hop=hop, season=season,
                               season_buckets=buckets,
                               min_history=min(base.min_history, window // 2))


def score_table(table: SeriesTable, min_change: float = 0.0,
                min_rel_change: float = 0.0) -> np.ndarray:
    """The `anomaly score` command's scores for a read table: checked, in [0, 1]."""
    from tools.anomaly.likelihood import LikelihoodConfig, score_likelihood, season_rows

    # Rows stay in file order; a step back is scored as if no time had passed.
    ts = np.maximum.accumulate(table.timestamps)
    scores = score_likelihood(table.values,
                              LikelihoodConfig(season=season_rows(ts, not is_index(ts))))
    if min_change > 0 or min_rel_change > 0:
        # The magnitude floors: a change smaller than them is never anomalous.
        level = _causal_level(table.values)
        small = np.abs(table.values - level) < np.maximum(min_change,
                                                          min_rel_change * np.abs(level))
        scores = np.where(small, np.minimum(scores, 0.49), scores)
    return check_scores(scores)


def _causal_level(values: np.ndarray, window: int = 100) -> np.ndarray:
    """The median of up to `window` earlier rows (the row itself where there are none)."""
    out = values.copy()
    for i in range(1, len(values)):
        past = values[max(0, i - window):i]
        past = past[~np.isnan(past)]
        if past.size:
            out[i] = float(np.median(past))
    return out


def write_scores(handle: TextIO, table: SeriesTable, scores: Iterable[float]) -> None:
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow([*table.header, "anomaly_score"])
    for row, score in zip(table.rows, scores, strict=True):
        writer.writerow([*row, f"{score:.4f}"])


def check_scores(scores: Sequence[float] | np.ndarray) -> np.ndarray:
    """Scores as written: finite and in [0, 1] (a bug otherwise, never silently written)."""
    arr = np.asarray(scores, dtype=float)
    if not np.all(np.isfinite(arr)) or arr.min(initial=0.0) < 0 or arr.max(initial=0.0) > 1:
        raise AssertionError("anomaly scores outside [0, 1]")
    return arr
