"""The batch format of `opscopilot anomaly score`: CSV in with `timestamp,value`, CSV out with
`anomaly_score` added, and the checks that turn bad input into one-line `SeriesError`s.

Timestamps are unix seconds (integer or decimal) or ISO 8601 times (UTC when no zone is given);
they should increase. Real exports repeat a timestamp (a DST change, a duplicated sample) or step
back once: such rows are kept in file order and counted in `SeriesTable.disorder` (the caller
reports it once); `strict=True` refuses them instead. A value may be empty or `nan` (a gap:
scored 0 and left out of the baseline); any other text, or an infinite value, is an error naming
the line.

Large files: `SeriesReader` yields chunks of rows, `SeriesScan` is the first pass over them (order,
gaps, the median step) and `ScoreStream` scores the chunks of a second pass as `score_table`
scores the whole file.
"""

from __future__ import annotations

import csv
import dataclasses
import math
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import accumulate, islice
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

import numpy as np

from tools.anomaly.robust import RobustConfig

if TYPE_CHECKING:
    from tools.anomaly.likelihood import LikelihoodConfig

MISSING = {"", "nan", "NaN", "NAN", "null", "NULL", "None", "NA"}
HOUR_S, DAY_S = 3600, 86400
INDEX_WINDOW = 96  # baseline samples when timestamps only count samples
RELEARN_AFTER = 12  # the command line: 12 anomalous samples in a row start a new baseline


CLI_CONFIG = RobustConfig(relearn_after=RELEARN_AFTER, min_hop=4)


T = TypeVar("T")


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


CHUNK_ROWS = 1 << 16  # rows parsed, checked and scored at a time
DISTINCT_STEPS = 1 << 18  # more distinct timestamp steps than this: keep the steps themselves


@dataclass
class Chunk:
    rows: list[list[str]]
    timestamps: np.ndarray  # float unix seconds
    values: np.ndarray  # float, NaN where missing
    lines: list[int]  # each row's line number


def _parse_value(raw: str, line: int) -> float:
    raw = raw.strip()
    if raw in MISSING:
        return math.nan
    try:
        value = float(raw)
    except ValueError:
        raise SeriesError(f"line {line}: value {raw!r} is not a number "
                          f"(leave it empty for a missing value)") from None
    if math.isinf(value):
        raise SeriesError(f"line {line}: value {raw!r} is infinite")
    return value


class SeriesReader:
    """A `timestamp,value` CSV read in chunks of `chunk_rows` rows (extra columns kept for the
    output). Each chunk is parsed in bulk; a chunk with anything unusual (an ISO time, a gap, a
    blank line, a bad field) is parsed row by row, so errors name their line."""

    def __init__(self, handle: TextIO, name: str = "input", chunk_rows: int = CHUNK_ROWS) -> None:
        self.name = name
        self.chunk_rows = chunk_rows
        self.reader = csv.reader(handle)
        header = self._guard(lambda: next(self.reader, None))
        if header is None:
            raise SeriesError(f"{name} is empty: expected a header line 'timestamp,value'")
        cols = [h.strip().lower() for h in header]
        if "timestamp" not in cols and "timestamps" in cols:  # Yahoo S5 A3/A4 spell it so
            cols[cols.index("timestamps")] = "timestamp"
        missing_cols = [c for c in ("timestamp", "value") if c not in cols]
        if missing_cols:
            raise SeriesError(f"{name}: no {' or '.join(missing_cols)} column in the header "
                              f"{','.join(header)!r} (expected 'timestamp,value')")
        self.header = header
        self.ti, self.vi = cols.index("timestamp"), cols.index("value")

    def _guard(self, read: Callable[[], T]) -> T:
        try:
            return read()
        except UnicodeDecodeError:
            raise SeriesError(f"{self.name} is not UTF-8 text (is it a CSV file?)") from None
        except csv.Error as exc:
            raise SeriesError(f"{self.name}: not valid CSV ({exc})") from None

    def __iter__(self) -> Iterator[Chunk]:
        while True:
            rows, lines = self._guard(self._fill)
            if not rows:
                return
            yield self._parse(rows, lines)

    def _fill(self) -> tuple[list[list[str]], list[int]]:
        """The next rows and the line each ends on (a quoted field may hold line breaks)."""
        start = self.reader.line_num
        rows = list(islice(self.reader, self.chunk_rows))
        if self.reader.line_num - start == len(rows):
            return rows, list(range(start + 1, start + len(rows) + 1))
        spans = [1 + sum(c.count("\n") for c in row) for row in rows]
        return rows, list(accumulate(spans, initial=start))[1:]

    def _parse(self, rows: list[list[str]], lines: list[int]) -> Chunk:
        width, ti, vi = len(self.header), self.ti, self.vi
        if set(map(len, rows)) == {width}:
            try:
                ts = np.array(list(map(float, [r[ti] for r in rows])))
                vs = np.array(list(map(float, [r[vi] for r in rows])))
            except ValueError:
                pass
            else:
                if np.isfinite(ts).all() and not np.isinf(vs).any():
                    return Chunk(rows, ts, vs, lines)
        kept: list[list[str]] = []
        kept_lines: list[int] = []
        stamps: list[float] = []
        values: list[float] = []
        for row, line in zip(rows, lines, strict=True):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != width:
                raise SeriesError(f"line {line}: {len(row)} fields, the header has {width}")
            stamps.append(_parse_time(row[ti], line))
            values.append(_parse_value(row[vi], line))
            kept.append(row)
            kept_lines.append(line)
        return Chunk(kept, np.array(stamps, dtype=float), np.array(values, dtype=float),
                     kept_lines)


@dataclass
class SeriesScan:
    """What a first pass over the rows learns: their number, gaps, order, the first value and the
    median step (kept as distinct steps with counts while there are few of them, as the steps
    themselves once there are more than DISTINCT_STEPS: irregular timestamps)."""

    name: str = "input"
    strict: bool = False
    ti: int = 0  # the timestamp column
    rows: int = 0
    missing: int = 0
    fill: float = math.nan  # the first non-missing value
    repeats: int = 0
    backs: int = 0
    first_bad: str = ""
    last: float = math.nan  # the previous row's timestamp
    top: float = -math.inf  # the largest timestamp so far
    steps: list[np.ndarray] = dataclasses.field(default_factory=list)
    counts: list[np.ndarray] = dataclasses.field(default_factory=list)
    raw: list[np.ndarray] | None = None  # every step, once they are too varied to count
    median: float | None = None

    def add(self, chunk: Chunk) -> None:
        ts, vs = chunk.timestamps, chunk.values
        if not len(ts):
            return
        prev = np.concatenate(([self.last], ts[:-1]))
        bad = np.flatnonzero(ts <= prev)  # NaN (no previous row) compares False
        if len(bad):
            i = int(bad[0])
            what = "repeats" if ts[i] == prev[i] else "goes back from"
            text = chunk.rows[i][self.ti].strip()
            if self.strict:
                raise SeriesError(f"line {chunk.lines[i]}: timestamp {text!r} {what} the "
                                  f"previous one; sort the file by time and drop "
                                  f"duplicates (or leave out --strict)")
            self.repeats += int((ts[bad] == prev[bad]).sum())
            self.backs += int((ts[bad] < prev[bad]).sum())
            self.first_bad = (self.first_bad
                              or f"line {chunk.lines[i]}: {text!r} {what} the previous")
        ok = ~np.isnan(vs)
        if math.isnan(self.fill) and ok.any():
            self.fill = float(vs[int(np.argmax(ok))])
        self.missing += int((~ok).sum())
        # Steps of the running maximum: a step back is scored as if no time had passed.
        mono = np.maximum.accumulate(np.concatenate(([self.top], ts)))
        steps = np.diff(mono[1:] if self.rows == 0 else mono)
        self.median = None
        if self.raw is not None:
            self.raw.append(steps)
        else:
            step, count = np.unique(steps, return_counts=True)
            self.steps.append(step)
            self.counts.append(count)
            if len(self.steps) > 64:
                self._merge()
        self.rows += len(ts)
        self.last, self.top = float(ts[-1]), float(mono[-1])

    def _merge(self) -> None:
        step, inverse = np.unique(np.concatenate(self.steps), return_inverse=True)
        count = np.zeros(len(step), dtype=np.int64)
        np.add.at(count, inverse, np.concatenate(self.counts))
        self.steps, self.counts = [step], [count]
        if len(step) > DISTINCT_STEPS:
            self.raw, self.steps, self.counts = [np.repeat(step, count)], [], []

    @property
    def disorder(self) -> str:
        if not (self.repeats or self.backs):
            return ""
        return (f"{self.repeats} repeated timestamp(s) and {self.backs} step(s) back kept in "
                f"file order (first at {self.first_bad})")

    def median_step(self) -> float:
        """np.median of the running maximum's steps (NaN for fewer than two rows)."""
        if self.rows < 2:
            return math.nan
        if self.median is None:
            self.median = self._median()
        return self.median

    def _median(self) -> float:
        if self.raw is None:
            self._merge()
        if self.raw is not None:
            every = np.concatenate(self.raw)
            self.raw = [every]
            return float(np.median(every, overwrite_input=True))  # reorders, keeps the values
        step, count = self.steps[0], np.cumsum(self.counts[0])
        m = int(count[-1])
        lo = float(step[np.searchsorted(count, (m - 1) // 2, side="right")])
        if m % 2:
            return lo
        hi = float(step[np.searchsorted(count, m // 2, side="right")])
        return (lo + hi) / 2

    def is_index(self) -> bool:
        return self.rows >= 2 and self.median_step() == 1 and self.top < 1e8


def read_series(handle: TextIO, name: str = "input", strict: bool = False) -> SeriesTable:
    """Read and check a `timestamp,value` CSV (extra columns are kept for the output).

    Repeated timestamps and steps back are kept in file order (see `disorder`); `strict`
    refuses them with the line of the first one."""
    reader = SeriesReader(handle, name)
    scan = SeriesScan(name, strict, reader.ti)
    rows: list[list[str]] = []
    stamps, values = [], []
    for chunk in reader:
        scan.add(chunk)
        rows.extend(chunk.rows)
        stamps.append(chunk.timestamps)
        values.append(chunk.values)
    if not rows:
        raise SeriesError(f"{name} has a header but no rows")
    return SeriesTable(reader.header, rows, np.concatenate(stamps), np.concatenate(values),
                       scan.missing, scan.disorder)


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
        scores = apply_floors(scores, table.values, _causal_level(table.values), min_change,
                              min_rel_change)
    return check_scores(scores)


LEVEL_WINDOW = 100  # rows in the causal median the magnitude floors compare with


class CausalLevel:
    """The median of up to LEVEL_WINDOW earlier non-missing rows (the row itself where there are
    none), streamed: the last rows are carried from one chunk to the next."""

    def __init__(self, window: int = LEVEL_WINDOW) -> None:
        self.window = window
        self.tail = np.full(window, np.nan)

    def update(self, values: np.ndarray) -> np.ndarray:
        out = np.asarray(values, dtype=float).copy()
        padded = np.concatenate((self.tail, out))
        self.tail = padded[-self.window:]
        for a in range(0, len(out), 8192):  # windows sorted a few thousand rows at a time
            b = min(a + 8192, len(out))
            srt = np.sort(np.lib.stride_tricks.sliding_window_view(padded[a:b + self.window - 1],
                                                                   self.window), axis=1)
            k = (~np.isnan(srt)).sum(axis=1)  # NaN sorts last
            r = np.arange(b - a)
            lo = srt[r, np.maximum((k - 1) // 2, 0)]
            hi = srt[r, k // 2]
            med = np.where(k % 2 == 1, lo, (lo + hi) / 2)
            out[a:b] = np.where(k > 0, med, out[a:b])
        return out


def apply_floors(scores: np.ndarray, values: np.ndarray, level: np.ndarray, min_change: float,
                 min_rel_change: float) -> np.ndarray:
    """The magnitude floors: a change smaller than them is never anomalous."""
    small = np.abs(values - level) < np.maximum(min_change, min_rel_change * np.abs(level))
    return np.where(small, np.minimum(scores, 0.49), scores)


def _causal_level(values: np.ndarray, window: int = LEVEL_WINDOW) -> np.ndarray:
    """The median of up to `window` earlier rows (the row itself where there are none)."""
    return CausalLevel(window).update(values)


def stream_config(scan: SeriesScan) -> LikelihoodConfig:
    """The detector's settings from a first pass, as `score_table` chooses them."""
    from tools.anomaly.likelihood import LikelihoodConfig, season_for_step

    clock = scan.rows >= 2 and not scan.is_index()
    return LikelihoodConfig(season=season_for_step(scan.median_step()) if clock else 0)


class ScoreStream:
    """`score_table`'s scores chunk by chunk, after a `SeriesScan` of the whole file: equal to
    scoring it whole."""

    def __init__(self, scan: SeriesScan, min_change: float = 0.0,
                 min_rel_change: float = 0.0) -> None:
        from tools.anomaly.likelihood import LikelihoodStream

        self.detector = LikelihoodStream(stream_config(scan), scan.rows, scan.fill)
        self.floors = (min_change, min_rel_change)
        self.level = CausalLevel() if min_change > 0 or min_rel_change > 0 else None

    def update(self, values: np.ndarray) -> np.ndarray:
        scores = self.detector.update(values)
        if self.level is not None:
            scores = apply_floors(scores, values, self.level.update(values), *self.floors)
        return check_scores(scores)


def write_rows(writer: Any, rows: list[list[str]], scores: np.ndarray) -> None:
    """Rows as read with their score (4 decimals) appended to them; `writer` is a csv writer."""
    if len(rows) != len(scores):
        raise AssertionError("a score for every row")
    deque(map(list.append, rows, [f"{score:.4f}" for score in scores.tolist()]), maxlen=0)
    writer.writerows(rows)


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
