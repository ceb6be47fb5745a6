"""`anomaly score` on large files: chunked reading and scoring equal to a whole-file run,
errors naming their line in any chunk, progress on stderr only, and the large-file benchmark."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from evals.bench_anomaly_large import run, write_series
from tools.anomaly.likelihood import LikelihoodConfig, LikelihoodStream, score_likelihood
from tools.anomaly.series_io import (
    CausalLevel,
    ScoreStream,
    SeriesError,
    SeriesReader,
    SeriesScan,
    read_series,
    score_table,
)


def _chunked(values: np.ndarray, feed, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    parts, i = [], 0
    while i < len(values):
        k = int(rng.integers(1, 400))
        parts.append(feed(values[i:i + k]))
        i += k
    return np.concatenate(parts)


# 48: a weekly predictor too; a 37-sample cycle without a clock is learned at row 500.
@pytest.mark.parametrize(("season", "cycle"), [(0, 288), (48, 288), (288, 288), (0, 37)])
def test_detector_in_small_chunks_equals_the_whole_series(season, cycle):
    rng = np.random.default_rng(season + cycle)
    n = 6000
    x = np.sin(np.arange(n) * 2 * np.pi / cycle) + rng.normal(0, 0.2, n)
    x[rng.integers(200, n, 25)] += 12  # alarms, and refractory periods across chunk edges
    x[rng.random(n) < 0.03] = np.nan
    x[:17] = np.nan  # a leading gap stands for the first value
    x[3000:3500] = 0.7  # a stuck run across chunk edges
    x[4000:4800] = np.round(x[4000:4800])  # and repeats that are not stuck
    cfg = LikelihoodConfig(season=season, short=2, hop=7)
    whole = score_likelihood(x, cfg)
    assert (whole >= 0.5).sum() >= 5
    fill = float(x[~np.isnan(x)][0])
    stream = LikelihoodStream(cfg, n, fill)
    np.testing.assert_array_equal(_chunked(x, stream.update), whole)
    assert stream.learned == (37 if cycle == 37 else 0)


def test_causal_level_is_the_median_of_earlier_rows_in_any_chunking():
    rng = np.random.default_rng(3)
    x = rng.normal(0, 1, 700).round(1)
    x[rng.random(700) < 0.2] = np.nan
    expected = x.copy()
    for i in range(1, len(x)):
        past = x[max(0, i - 100):i]
        past = past[~np.isnan(past)]
        if past.size:
            expected[i] = np.median(past)
    level = CausalLevel()
    np.testing.assert_array_equal(_chunked(x, level.update), expected)


def _csv(n: int, extra: dict[int, str] | None = None) -> str:
    rng = np.random.default_rng(1)
    lines = ["timestamp,value"]
    for i in range(n):
        value = 10 + rng.normal() + (30 if i in (900, 1500) else 0)
        lines.append(f"{1_700_000_000 + 60 * i},{value:.3f}")
    for line, text in (extra or {}).items():
        lines[line - 1] = text
    return "\n".join(lines) + "\n"


def _stream_scores(text: str, chunk_rows: int, **floors: float) -> np.ndarray:
    scan = SeriesScan()
    reader = SeriesReader(io.StringIO(text), chunk_rows=chunk_rows)
    scan.ti = reader.ti
    for chunk in reader:
        scan.add(chunk)
    stream = ScoreStream(scan, **floors)
    return np.concatenate([stream.update(c.values)
                           for c in SeriesReader(io.StringIO(text), chunk_rows=chunk_rows)])


@pytest.mark.parametrize("floors", [{}, {"min_change": 0.5, "min_rel_change": 0.1}])
def test_file_in_small_chunks_scores_as_the_whole_file(floors):
    # A gap, an ISO time and a repeated timestamp put some chunks on the row-by-row path.
    text = _csv(3000, {50: "1700002940,", 700: "2023-11-15T01:38:00Z,11.0",
                       2001: "1700119860,10.5"})
    table = read_series(io.StringIO(text))
    assert table.missing == 1 and table.disorder
    whole = score_table(table, **floors)
    assert (whole >= 0.5).sum() >= 1
    for rows in (7, 64, 5000):
        np.testing.assert_array_equal(_stream_scores(text, rows, **floors), whole)


@pytest.mark.parametrize(("line", "text", "needle"), [
    (1234, "1700073960,abc", "line 1234: value 'abc'"),
    (2500, "1700149740,inf", "line 2500: value 'inf' is infinite"),
    (2999, "1700179680", "line 2999: 1 fields"),
])
def test_errors_in_a_later_chunk_name_their_line(line, text, needle):
    with pytest.raises(SeriesError, match=needle):
        for _ in SeriesReader(io.StringIO(_csv(3000, {line: text})), chunk_rows=100):
            pass


def test_strict_names_the_line_of_a_repeat_in_a_later_chunk():
    text = _csv(3000, {1801: "1700107880,10.0"})  # line 1801 repeats line 1800's time
    scan = SeriesScan(strict=True)
    with pytest.raises(SeriesError, match="line 1801: timestamp '1700107880' repeats"):
        for chunk in SeriesReader(io.StringIO(text), chunk_rows=64):
            scan.add(chunk)


def test_progress_goes_to_stderr_and_stdout_stays_the_csv(tmp_path: Path):
    src = tmp_path / "in.csv"
    src.write_text(_csv(3000))
    proc = subprocess.run([sys.executable, "-m", "bot.cli", "anomaly", "score", str(src),
                           "--progress"], capture_output=True, text=True, check=True)
    assert "scoring 100%" in proc.stderr and "checking" in proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "timestamp,value,anomaly_score" and len(lines) == 3001
    quiet = subprocess.run([sys.executable, "-m", "bot.cli", "anomaly", "score", str(src)],
                           capture_output=True, text=True, check=True)
    assert "%" not in quiet.stderr and quiet.stdout == proc.stdout


def test_large_file_benchmark_measures_a_small_run(tmp_path: Path):
    size = write_series(tmp_path / "s.csv", 1000)
    assert (tmp_path / "s.csv").read_text().count("\n") == 1001 and size > 15_000
    res = run(2000)
    assert res["rows"] == 2000 and res["wall_s"] > 0 and res["peak_rss_mb"] > 10
    assert res["stdout_bytes"] == 0


def test_a_pipe_is_read_once_and_scored_like_the_file(tmp_path: Path):
    src = tmp_path / "in.csv"
    src.write_text(_csv(2000))
    from_file = subprocess.run([sys.executable, "-m", "bot.cli", "anomaly", "score", str(src)],
                               capture_output=True, text=True, check=True)
    from_pipe = subprocess.run([sys.executable, "-m", "bot.cli", "anomaly", "score",
                                "/dev/stdin"], input=src.read_text(), capture_output=True,
                               text=True, check=True)
    assert from_pipe.stdout == from_file.stdout and from_pipe.stdout.count("\n") == 2001


@pytest.mark.parametrize("distinct", [4, 10])
def test_median_step_is_numpys_whether_steps_are_counted_or_kept(monkeypatch, distinct):
    import tools.anomaly.series_io as series_io

    monkeypatch.setattr(series_io, "DISTINCT_STEPS", distinct)  # 10: counted, 4: kept
    rng = np.random.default_rng(distinct)
    ts = 1e9 + np.cumsum(rng.choice([9.0, 10.0, 10.5, 11.0, 30.0, 0.0], 5001))
    ts[100] = ts[99] - 5  # a step back counts as no time passing
    scan = SeriesScan()
    for a in range(0, len(ts), 50):
        scan.add(series_io.Chunk([["", ""]] * len(ts[a:a + 50]), ts[a:a + 50],
                                 np.ones(len(ts[a:a + 50])), list(range(len(ts[a:a + 50])))))
    assert (scan.raw is not None) == (distinct == 4)
    assert scan.median_step() == np.median(np.diff(np.maximum.accumulate(ts)))
    assert scan.rows == 5001 and scan.backs == 1
