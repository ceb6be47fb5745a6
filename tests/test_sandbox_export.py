"""Exports: OpenMetrics that promtool can backfill, CSV, and the scenario index."""

from __future__ import annotations

import csv
import io
import re
import subprocess

import numpy as np

from tests.servers import needs
from tools.catalog import FAULT_KINDS
from tools.sandbox.export import export_csv, export_openmetrics, om_name, scenario_index
from tools.sandbox.simulator import load_sandbox

SAMPLE = re.compile(r'^([a-z_0-9]+)\{service="([a-z_-]+)"\} (\S+) (\d+)$')


def openmetrics(name: str = "disk-full-postgres", **window: int) -> str:
    out = io.StringIO()
    export_openmetrics(load_sandbox(name), out, **window)
    return out.getvalue()


def test_openmetrics_parses_back_to_the_series():
    sb = load_sandbox("disk-full-postgres")
    start, end = sb.now - 3600, sb.now
    text = openmetrics(start=start, end=end)
    assert text.endswith("# EOF\n") and text.count("# EOF") == 1
    families: list[str] = []
    samples: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for line in text.splitlines()[:-1]:
        if line.startswith("# TYPE "):
            name, kind = line[7:].split()
            assert kind == "gauge" and name not in families
            families.append(name)
        elif line.startswith("# HELP "):
            continue
        else:
            m = SAMPLE.match(line)
            assert m, line
            assert m.group(1) == families[-1]  # a family's samples are contiguous
            samples.setdefault((m.group(1), m.group(2)), []).append(
                (int(m.group(4)), float(m.group(3))))
    assert om_name("disk") in families and len(families) == 10
    ts, vs = sb.series("postgres", "disk", start, end)
    got = samples[(om_name("disk"), "postgres")]
    assert [t for t, _ in got] == ts.tolist()
    assert np.allclose([v for _, v in got], vs, atol=1e-5)
    assert (om_name("connections"), "cart") not in samples
    assert len(samples) == sum(len(sb.metric_names(s)) for s in sb.topology.names())


@needs("promtool", package="prometheus")
def test_promtool_backfills_the_export(tmp_path):
    path = tmp_path / "shop.om"
    sb = load_sandbox("quiet")
    path.write_text(openmetrics("quiet", start=sb.start, end=sb.start + 2 * 3600))
    result = subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", str(path),
                             str(tmp_path / "data")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_csv_has_every_sample():
    sb = load_sandbox("quiet")
    out = io.StringIO()
    export_csv(sb, out, start=sb.start, end=sb.start + 600)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0] == ["timestamp", "service", "metric", "value"]
    n_series = sum(len(sb.metric_names(s)) for s in sb.topology.names())
    assert len(rows) - 1 == n_series * 40
    ts, vs = sb.series("cart", "cpu", sb.start, sb.start + 600)
    cart_cpu = [float(r[3]) for r in rows[1:] if r[1:3] == ["cart", "cpu"]]
    assert np.allclose(cart_cpu, vs, atol=1e-5)


def test_scenario_index_is_the_list_json_contract():
    index = scenario_index()
    assert {item["name"] for item in index} >= {"quiet", "bad-deploy-checkout"}
    assert {f["kind"] for item in index for f in item["faults"]} == set(FAULT_KINDS)
    for item in index:
        assert set(item) == {"name", "faults"}
        for fault in item["faults"]:
            assert set(fault) == {"service", "kind", "start", "end"}
            assert isinstance(fault["start"], int) and fault["end"] > fault["start"]


def test_the_offline_commands_formats_read_back(tmp_path):
    from tools.anomaly.series_io import read_series
    from tools.rca.table import read_signal_csv
    from tools.sandbox.export import export_logs, export_rca, export_series

    sb = load_sandbox("bad-deploy-checkout")
    [fault] = sb.scenario.faults
    path = tmp_path / "metrics.csv"
    with path.open("w") as fh:
        onset = export_rca(sb, fh)
    assert onset == fault.start
    table = read_signal_csv(path)
    assert table.timestamps[0] == fault.start - 3600 and table.timestamps[-1] < fault.end
    assert len(table.timestamps) == 3600 // sb.step + (fault.end - fault.start) // sb.step
    out = io.StringIO()
    export_series(sb, out, "checkout", "error_rate")
    series = read_series(io.StringIO(out.getvalue()))
    ts, vs = sb.series("checkout", "error_rate", sb.start, sb.end)
    assert np.array_equal(series.timestamps, ts) and np.allclose(series.values, vs, atol=1e-6)
    logs = io.StringIO()
    export_logs(sb, logs, "checkout")
    lines = logs.getvalue().splitlines()
    assert lines and all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ [A-Z]+ checkout: ", line)
                         for line in lines)
