"""The service call graph the ranking walks: built from a `TopologySource` or read from YAML.

A graph is a plain dict: service -> the services it calls. Accepted YAML shapes (a file from
`--graph`):

    frontend: [cart, checkout]          # caller: [callees]
    services: {frontend: [cart]}        # the same under a `services` key
    services: [{name: frontend, calls: [cart]}]   # the sandbox scenario layout
    edges: [[frontend, cart], ...]      # or {from: frontend, to: cart}: caller -> callee
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tools.backends import TopologySource
from tools.rca.errors import RcaInputError

Graph = dict[str, list[str]]


def graph_from_topology(topology: TopologySource) -> Graph:
    return {s: list(topology.dependencies(s)) for s in topology.services()}


def _names(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise RcaInputError(f"{where}: expected a list of service names, got {value!r}")


def parse_graph(raw: Any, label: str = "graph") -> Graph:
    """A graph from already-parsed YAML/JSON in one of the accepted shapes."""
    graph: Graph = {}

    def add(caller: str, callees: list[str]) -> None:
        graph.setdefault(caller, [])
        for callee in callees:
            graph.setdefault(callee, [])
            if callee != caller and callee not in graph[caller]:
                graph[caller].append(callee)

    if not isinstance(raw, dict) or not raw:
        raise RcaInputError(f"{label}: expected a mapping of service -> callees, a `services` "
                            "list or an `edges` list")
    if "edges" in raw:
        edges = raw["edges"]
        if not isinstance(edges, list):
            raise RcaInputError(f"{label}: edges must be a list of caller -> callee pairs "
                                "(two names each)")
        for i, e in enumerate(edges):
            if isinstance(e, dict) and isinstance(e.get("from"), str) \
                    and isinstance(e.get("to"), str):
                add(e["from"], [e["to"]])
            elif isinstance(e, list | tuple) and len(e) == 2 and all(isinstance(v, str)
                                                                      for v in e):
                add(e[0], [e[1]])
            else:
                raise RcaInputError(f"{label}: edges[{i}] {e!r} is not a caller -> callee pair")
        return graph
    body = raw.get("services", raw)
    if isinstance(body, list):
        for i, item in enumerate(body):
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                raise RcaInputError(f"{label}: services[{i}] needs a `name` (and `calls`)")
            add(item["name"], _names(item.get("calls"), f"{label}: services[{i}].calls"))
    elif isinstance(body, dict) and body:
        for caller, callees in body.items():
            add(str(caller), _names(callees, f"{label}: {caller}"))
    else:
        raise RcaInputError(f"{label}: services must be a mapping or a list")
    return graph


def load_graph(path: str | Path) -> Graph:
    """Read a graph file (YAML or JSON); every problem is a one-line `RcaInputError`."""
    import yaml

    p = Path(path)
    label = f"graph {p}"
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RcaInputError(f"{label}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RcaInputError(f"{label}: cannot read it ({exc})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise RcaInputError(f"{label}: YAML syntax error{where}") from None
    return parse_graph(raw, label)


def closure(graph: Graph, service: str) -> set[str]:
    """Every service `service` calls, directly or not."""
    seen: set[str] = set()
    todo = list(graph.get(service, []))
    while todo:
        s = todo.pop()
        if s not in seen:
            seen.add(s)
            todo.extend(graph.get(s, []))
    return seen


def reverse(graph: Graph) -> Graph:
    """service -> the services that call it."""
    out: Graph = {s: [] for s in graph}
    for caller, callees in graph.items():
        for c in callees:
            out.setdefault(c, []).append(caller)
    return out
