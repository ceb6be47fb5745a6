"""`opscopilot rca IN.csv --inject-time T [--graph G.yaml] [--json]`: rank root causes in exported
metrics (the RCAEval CSV layout: a `time` column and `<service>_<metric>` columns).

`--inject-time` (unix seconds) is the only hint: data before it is the normal baseline. Bad input
is one line on stderr and exit code 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from bot.cli.common import UsageError, err, out, user_errors


def rca(
    csv_path: Annotated[Path, typer.Argument(metavar="IN.csv", help="time + <service>_<metric> "
                                             "columns, one row per sample")],
    inject_time: Annotated[int, typer.Option("--inject-time", help="when the fault began (or "
                                             "was noticed), unix seconds")],
    graph: Annotated[Path | None, typer.Option("--graph", help="call graph YAML: service: "
                                               "[callees], or an edges list")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print a JSON list")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, help="candidates to show")] = 5,
) -> None:
    """Rank the likely root-cause service and signal of an incident in a metrics CSV."""
    from tools.rca.errors import RcaInputError

    with user_errors():
        try:
            result, notes = run_rca(csv_path, inject_time, graph, limit)
        except RcaInputError as exc:
            raise UsageError(str(exc)) from None
    for note in notes:
        err.print(f"note: {note}", markup=False)
    if as_json:
        rows = [{"service": c.service, "metric": c.metric, "score": round(c.score, 4),
                 "clear": result.clear, "reasons": c.reasons} for c in result.candidates]
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        if not result.clear:
            err.print(result.note or "no clear root cause", markup=False)
        return
    if not result.clear:
        out.print(f"No clear root cause: {result.note}.", markup=False)
        if result.candidates:
            out.print("Weak hints only:")
    for i, c in enumerate(result.candidates, 1):
        metric = f" ({c.metric})" if c.metric else ""
        out.print(f"{i}. {c.service}{metric}  score {c.score:.2f}", markup=False)
        for reason in c.reasons:
            out.print(f"   - {reason}", markup=False)
    for ch in result.changes_near_onset:
        if not any(ch in c.changes for c in result.candidates):
            out.print(f"Change near the onset: {ch.description} at {ch.ts}", markup=False)


def run_rca(csv_path: Path, inject_time: int, graph_path: Path | None, limit: int):
    """Read, check and rank; returns the `RcaResult` and notes about the input."""
    from tools.rca.graph import load_graph
    from tools.rca.model import RcaInput
    from tools.rca.rank import rank_causes
    from tools.rca.table import check_onset, read_signal_csv

    graph = load_graph(graph_path) if graph_path is not None else None
    table = read_signal_csv(csv_path, list(graph) if graph else None)
    check_onset(table, inject_time)
    notes = list(table.notes)
    if graph is not None:
        in_csv = {s for s, _ in table.signals}
        if not in_csv & set(graph):
            from tools.rca.errors import RcaInputError

            raise RcaInputError(f"--graph {graph_path}: names none of the CSV's services "
                                f"({', '.join(sorted(in_csv)[:5])}, ...)")
        missing = sorted(in_csv - set(graph))
        if missing:
            notes.append(f"services not in the graph (ranked without graph position): "
                         f"{', '.join(missing[:5])}")
    result = rank_causes(RcaInput(table.timestamps, table.signals, inject_time, graph),
                         limit=limit)
    return result, notes
