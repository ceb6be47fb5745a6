"""Export a sandbox's metrics for other tools, and the scenario index the CLI lists.

OpenMetrics text (`export_openmetrics`) is what `promtool tsdb create-blocks-from openmetrics`
backfills into a real Prometheus. Every catalog metric `<metric>` becomes the gauge family
`opscopilot_sandbox_<metric>` in the catalog's unit (ms, %, MB, days, req/s, count) with one
label, `service`; timestamps are unix seconds. CSV (`export_csv`) has the columns
timestamp,service,metric,value.

The file formats of the offline commands, so each can be tried on a scenario: `export_rca` writes
the RCAEval layout `opscopilot rca` reads (`time,<service>_<metric>...`, from an hour before the
first fault to its end), `export_series` one `timestamp,value` series for `anomaly score`, and
`export_logs` raw log lines (`<ISO time> <LEVEL> <service>: <message>`) for `logs templates`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TextIO

import numpy as np

from tools.catalog import METRICS
from tools.sandbox.simulator import Sandbox

PREFIX = "opscopilot_sandbox_"


def om_name(metric: str) -> str:
    """The OpenMetrics family name of a catalog metric."""
    return PREFIX + metric


def _window(sandbox: Sandbox, start: int | None, end: int | None) -> tuple[int, int]:
    return (sandbox.start if start is None else start, sandbox.end if end is None else end)


def _numbers(values: np.ndarray) -> list[str]:
    return [repr(round(v, 6)) for v in values.tolist()]


def export_openmetrics(sandbox: Sandbox, out: TextIO, start: int | None = None,
                       end: int | None = None) -> None:
    """Write every series in [start, end) as OpenMetrics text, one family at a time."""
    start, end = _window(sandbox, start, end)
    for metric, info in METRICS.items():
        services = [s for s in sandbox.topology.names() if metric in sandbox.metric_names(s)]
        if not services:
            continue
        name = om_name(metric)
        unit = f" ({info.unit})" if info.unit else ""
        out.write(f"# HELP {name} {info.description}{unit}\n# TYPE {name} gauge\n")
        for service in services:
            ts, vs = sandbox.series(service, metric, start, end)
            prefix = f'{name}{{service="{service}"}} '
            out.write("".join(f"{prefix}{v} {t}\n"
                              for t, v in zip(ts.tolist(), _numbers(vs), strict=True)))
    out.write("# EOF\n")


def export_csv(sandbox: Sandbox, out: TextIO, start: int | None = None,
               end: int | None = None) -> None:
    """Write every series in [start, end) as CSV rows timestamp,service,metric,value."""
    start, end = _window(sandbox, start, end)
    out.write("timestamp,service,metric,value\n")
    for service in sandbox.topology.names():
        for metric in sandbox.metric_names(service):
            ts, vs = sandbox.series(service, metric, start, end)
            out.write("".join(f"{t},{service},{metric},{v}\n"
                              for t, v in zip(ts.tolist(), _numbers(vs), strict=True)))


RCA_LEAD_S = 3600  # normal data before the first fault in the RCA export


def fault_window(sandbox: Sandbox) -> tuple[int, int, int]:
    """(start, first fault's onset, end) of the window the RCA and log exports cover."""
    faults = sandbox.scenario.faults
    if not faults:
        return sandbox.start, sandbox.end, sandbox.end
    onset = min(f.start for f in faults)
    end = max(f.end for f in faults)
    return max(sandbox.start, onset - RCA_LEAD_S), onset, min(sandbox.end, end)


def export_rca(sandbox: Sandbox, out: TextIO) -> int:
    """Write the RCAEval layout around the first fault; returns the fault's onset (unix s)."""
    start, onset, end = fault_window(sandbox)
    columns: list[str] = []
    rows: list[list[str]] = []
    for service in sandbox.topology.names():
        for metric in sandbox.metric_names(service):
            ts, vs = sandbox.series(service, metric, start, end)
            if not rows:
                rows = [[str(t)] for t in ts.tolist()]
            columns.append(f"{service}_{metric}")
            for row, v in zip(rows, _numbers(vs), strict=True):
                row.append(v)
    out.write(",".join(["time", *columns]) + "\n")
    out.write("".join(",".join(row) + "\n" for row in rows))
    return onset


def export_series(sandbox: Sandbox, out: TextIO, service: str, metric: str) -> None:
    """Write one series over the whole scenario as timestamp,value (unix seconds)."""
    ts, vs = sandbox.series(service, metric, sandbox.start, sandbox.end)
    out.write("timestamp,value\n")
    out.write("".join(f"{t},{v}\n" for t, v in zip(ts.tolist(), _numbers(vs), strict=True)))


def export_logs(sandbox: Sandbox, out: TextIO, service: str | None = None) -> None:
    """Write the log lines of the fault window (with its lead) as raw text, oldest first."""
    start, _, end = fault_window(sandbox)
    for r in sandbox.logs(service, start, end):
        when = datetime.fromtimestamp(r.ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        out.write(f"{when} {r.level} {r.service}: {r.message}\n")


def scenario_index() -> list[dict[str, Any]]:
    """The data of `opscopilot sandbox list --json`: each shipped scenario and its faults."""
    from tools.sandbox.scenario import list_scenarios

    return [{"name": sc.name,
             "faults": [{"service": f.service, "kind": f.kind, "start": f.start, "end": f.end}
                        for f in sc.faults]}
            for sc in list_scenarios()]
