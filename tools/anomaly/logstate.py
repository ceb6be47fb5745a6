"""A template miner's state as JSON, so templates survive a restart and keep their ids.

`dumps(miner)` holds everything that decides where the next line goes: the file's header shape,
the settings, every template (tokens, header, count, which one it was merged into), the parse
tree's leaves, the word variants seen at a position, and the message and skeleton caches.
`loads(text)` rebuilds a miner that places the next lines as the one saved would have (the
line-shape and token caches are rebuilt as lines come). A state that is not valid JSON or not
a miner's raises `StateError` with one line saying what is wrong; nothing is half-loaded.
"""

from __future__ import annotations

import json
from typing import Any

from tools.anomaly.logheader import HeaderShape
from tools.anomaly.logtemplates import Template, TemplateMiner

FORMAT = "opscopilot-logtemplates"
VERSION = 1


class StateError(ValueError):
    """A saved miner state that cannot be read back."""


def dumps(miner: TemplateMiner) -> str:
    """The miner's state as one JSON document (templates by id; a template's id is its
    position in `templates` plus one)."""
    header = miner.header
    state = {
        "format": FORMAT,
        "version": VERSION,
        "similarity": miner.similarity,
        "variants": miner.variants,
        "header": None if header is None else [header.fixed, header.component, header.pipes],
        "templates": [{"tokens": t.tokens, "head": t.head, "count": t.count,
                       "merged_into": None if t.merged_into is None else t.merged_into.id}
                      for t in miner.templates],
        "leaves": [[n, first, [t.id for t in leaf]]
                   for (n, first), leaf in miner._leaves.items()],
        "siblings": [[list(key), [t.id for t in group]]
                     for key, group in miner._siblings.items()],
        "cache": {masked: t.id for masked, t in miner._cache.items()},
        "skeletons": {skeleton: t.id for skeleton, t in miner._skeletons.items()},
        "binary": None if miner._binary is None else miner._binary.id,
    }
    return json.dumps(state, separators=(",", ":"))


def loads(text: str) -> TemplateMiner:
    """The miner saved by `dumps`; `StateError` if `text` is not such a state."""
    try:
        state = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StateError(f"not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise StateError(f"not a {FORMAT} state")
    if state.get("version") != VERSION:
        raise StateError(f"state version {state.get('version')!r}, expected {VERSION}")
    try:
        return _build(state)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise StateError(f"malformed state ({type(exc).__name__}: {exc})") from None


def _strings(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TypeError("expected a list of strings")
    return value


def _build(state: dict[str, Any]) -> TemplateMiner:
    header = state["header"]
    shape = None
    if header is not None:
        fixed, component, pipes = header
        if not (isinstance(fixed, int) and isinstance(pipes, int)
                and component in ("", "colon", "dash")):
            raise ValueError(f"bad header shape {header!r}")
        shape = HeaderShape(fixed, component, pipes)
    similarity, variants = float(state["similarity"]), state["variants"]
    if not isinstance(variants, int):
        raise TypeError("variants must be an integer")
    rows = state["templates"]
    if not isinstance(rows, list):
        raise TypeError("templates must be a list")
    templates = [Template(i, _strings(row["tokens"]), int(row["count"]), _strings(row["head"]))
                 for i, row in enumerate(rows, start=1)]

    def by_id(value: Any) -> Template:
        if not isinstance(value, int) or isinstance(value, bool) or not (
                1 <= value <= len(templates)):
            raise ValueError(f"no template {value!r}")
        return templates[value - 1]

    for tpl, row in zip(templates, rows, strict=True):
        if row["merged_into"] is not None:
            tpl.merged_into = by_id(row["merged_into"])
    for tpl in templates:  # a merge chain ends: `resolved()` must not loop
        hops, seen = tpl, 0
        while hops.merged_into is not None:
            hops, seen = hops.merged_into, seen + 1
            if seen > len(templates):
                raise ValueError(f"template {tpl.id} is merged in a cycle")
    miner = TemplateMiner(similarity=similarity, header=shape, variants=variants,
                          templates=templates)
    for n, first, ids in state["leaves"]:
        if not isinstance(n, int) or not isinstance(first, str):
            raise TypeError("a leaf key is (token count, first token)")
        miner._leaves[(n, first)] = [by_id(i) for i in ids]
    for key, ids in state["siblings"]:
        miner._siblings[tuple(_strings(key))] = [by_id(i) for i in ids]
    miner._cache.update({str(k): by_id(i) for k, i in dict(state["cache"]).items()})
    miner._skeletons.update({str(k): by_id(i) for k, i in dict(state["skeletons"]).items()})
    if state["binary"] is not None:
        miner._binary = by_id(state["binary"])
    return miner
