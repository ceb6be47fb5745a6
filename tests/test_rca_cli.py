"""`opscopilot rca`: the RCAEval CSV layout in, a ranked JSON list out, one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from bot.cli import app
from evals.rca_cases import make_case
from tools.rca.errors import RcaInputError
from tools.rca.graph import load_graph, parse_graph
from tools.rca.table import read_signal_csv, split_column, write_signal_csv

runner = CliRunner()


@pytest.fixture(scope="module")
def fault_csv(tmp_path_factory):
    """A sandbox dependency_down on one service, written as RCAEval does, with its graph."""
    case = make_case(11, "dependency_down")
    assert case is not None
    inp = case.rca_input(0, (case.onset - 3600, case.onset + 900))
    folder = tmp_path_factory.mktemp("rca")
    csv_path, graph_path = folder / "data.csv", folder / "graph.yaml"
    write_signal_csv(csv_path, inp.timestamps, inp.signals)
    graph_path.write_text(yaml.safe_dump(case.graph))
    return csv_path, graph_path, case.onset, case.service


def run(*args):
    return runner.invoke(app, ["rca", *map(str, args)])


def test_json_ranking_with_and_without_a_graph(fault_csv):
    csv_path, graph_path, onset, culprit = fault_csv
    for extra in (["--graph", graph_path], []):
        result = run(csv_path, "--inject-time", onset, "--json", *extra)
        assert result.exit_code == 0, result.output
        ranked = json.loads(result.stdout)
        assert ranked[0]["service"] == culprit
        assert {"service", "metric", "score"} <= set(ranked[0])
        scores = [r["score"] for r in ranked]
        assert scores == sorted(scores, reverse=True)


def test_text_output_explains_the_top_candidate(fault_csv):
    csv_path, graph_path, onset, culprit = fault_csv
    result = run(csv_path, "--inject-time", onset + 60, "--graph", graph_path)
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    assert first.startswith(f"1. {culprit}")
    assert "explains anomalous callers" in result.stdout


def test_a_quiet_file_says_no_clear_root_cause(tmp_path):
    case = make_case(5, "quiet")
    assert case is not None
    inp = case.rca_input(0, (case.onset - 3600, case.onset + 900))
    path = tmp_path / "quiet.csv"
    write_signal_csv(path, inp.timestamps, inp.signals)
    result = run(path, "--inject-time", case.onset)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("No clear root cause")


BAD = {
    "no time": ("a_cpu,b_cpu\n1,2\n3,4\n", "no `time` column"),
    "nan only": ("time,a_cpu\n1,nan\n2,\n", "every signal column is empty or NaN"),
    "text cell": ("time,a_cpu\n1,2\n2,lots\n", "line 3: a_cpu = 'lots' is not a number"),
    "ragged": ("time,a_cpu\n1,2\n2\n", "line 3 has 1 fields"),
    "no signals": ("time,cpu\n1,2\n2,3\n", "no `<service>_<metric>` columns"),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_csv_is_one_line_and_exit_2(tmp_path, name):
    text, message = BAD[name]
    path = tmp_path / "in.csv"
    path.write_text(text)
    result = run(path, "--inject-time", 2)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_bad_window_and_graph_are_one_line(fault_csv, tmp_path):
    csv_path, graph_path, onset, _ = fault_csv
    outside = run(csv_path, "--inject-time", 1000)
    assert outside.exit_code == 2 and "is outside the data" in outside.output
    too_early = run(csv_path, "--inject-time", onset - 3600 + 30)
    assert too_early.exit_code == 2 and "before the onset" in too_early.output
    broken = tmp_path / "g.yaml"
    broken.write_text("edges: [[a]]\n")
    bad_graph = run(csv_path, "--inject-time", onset, "--graph", broken)
    assert bad_graph.exit_code == 2 and "is not a caller -> callee pair" in bad_graph.output
    other = tmp_path / "other.yaml"
    other.write_text("x: [y]\n")
    unrelated = run(csv_path, "--inject-time", onset, "--graph", other)
    assert unrelated.exit_code == 2 and "names none of the CSV's services" in unrelated.output
    missing = run(tmp_path / "nope.csv", "--inject-time", onset)
    assert missing.exit_code == 2 and "no such file" in missing.output


def test_nan_only_columns_are_dropped_and_milliseconds_read(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("time,cart_cpu,cart_mem,ts-auth_latency-90\n"
                    "1795132800000,1,,5\n1795132815000,2,nan,6\n")
    table = read_signal_csv(path)
    assert table.dropped == ["cart_mem"]
    assert list(table.timestamps) == [1795132800, 1795132815]
    assert set(table.signals) == {("cart", "cpu"), ("ts-auth", "latency-90")}
    assert any("milliseconds" in n for n in table.notes)


def test_service_names_with_underscores_split_by_the_graph():
    assert split_column("ts_auth_service_cpu", ["ts_auth_service"]) == ("ts_auth_service", "cpu")
    assert split_column("checkoutservice_latency-90") == ("checkoutservice", "latency-90")
    assert split_column("nounderscore") is None


def test_graph_shapes(tmp_path):
    expected = {"frontend": ["cart"], "cart": ["redis"], "redis": []}
    assert parse_graph({"frontend": ["cart"], "cart": ["redis"]}) == expected
    assert parse_graph({"services": [{"name": "frontend", "calls": ["cart"]},
                                     {"name": "cart", "calls": ["redis"]}]}) == expected
    assert parse_graph({"edges": [["frontend", "cart"], {"from": "cart", "to": "redis"}]}) \
        == expected
    path = tmp_path / "g.yaml"
    path.write_text("services: [1, 2]\n")
    with pytest.raises(RcaInputError, match="needs a `name`"):
        load_graph(path)


def test_write_then_read_round_trips(tmp_path):
    ts = np.arange(0, 150, 15)
    signals = {("a", "cpu"): np.linspace(0, 1, 10), ("b", "latency_p99"): np.arange(10.0)}
    write_signal_csv(tmp_path / "x.csv", ts, signals)
    table = read_signal_csv(tmp_path / "x.csv")
    assert list(table.timestamps) == list(ts)
    assert np.allclose(table.signals[("a", "cpu")], signals[("a", "cpu")])


def test_unsorted_duplicated_and_nan_rows_are_read_and_reported(tmp_path):
    from tools.rca.table import read_signal_csv

    path = tmp_path / "m.csv"
    path.write_text("time,a_cpu\n120,3\n60,2\n60,9\n180,\n")
    table = read_signal_csv(path)
    assert table.timestamps.tolist() == [60, 120, 180]
    assert table.signals[("a", "cpu")][:2].tolist() == [2.0, 3.0]
    text = " ".join(table.notes)
    assert "not in time order" in text and "repeat an earlier timestamp" in text
    assert "NaN cell" in text


def test_an_inject_time_in_milliseconds_is_named_as_such(tmp_path):
    from tools.rca.errors import RcaInputError
    from tools.rca.table import check_onset, read_signal_csv

    path = tmp_path / "m.csv"
    path.write_text("time,a_cpu\n" + "".join(f"{1_700_000_000 + 60 * i},1\n" for i in range(10)))
    table = read_signal_csv(path)
    with pytest.raises(RcaInputError, match="milliseconds .*1700000300"):
        check_onset(table, 1_700_000_300_000)
