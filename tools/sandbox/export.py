"""Export a sandbox's metrics for other tools, and the scenario index the CLI lists.

OpenMetrics text (`export_openmetrics`) is what `promtool tsdb create-blocks-from openmetrics`
backfills into a real Prometheus. Every catalog metric `<metric>` becomes the gauge family
`opscopilot_sandbox_<metric>` in the catalog's unit (ms, %, MB, days, req/s, count) with one
label, `service`; timestamps are unix seconds. CSV (`export_csv`) has the columns
timestamp,service,metric,value.
"""

from __future__ import annotations

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


def scenario_index() -> list[dict[str, Any]]:
    """The data of `opscopilot sandbox list --json`: each shipped scenario and its faults."""
    from tools.sandbox.scenario import list_scenarios

    return [{"name": sc.name,
             "faults": [{"service": f.service, "kind": f.kind, "start": f.start, "end": f.end}
                        for f in sc.faults]}
            for sc in list_scenarios()]
