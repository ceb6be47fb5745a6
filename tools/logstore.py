"""The copilot's one log template store: search_logs and incident_context's root-cause evidence
group lines by the same miner (`tools.anomaly.logtemplates`, the one `opscopilot logs templates`
runs), so a template "new since the onset" in the ranking is a template search_logs shows."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from infra.redact import redact
from tools.anomaly.logheader import SAMPLE_LINES
from tools.anomaly.logtemplates import Template, miner_for
from tools.backends import LogLine


@dataclass(frozen=True)
class LineTemplate:
    """A line's template: `key` groups lines (unique across services), `text` is shown."""

    key: str
    text: str


def line_templates(lines: Sequence[LogLine]) -> list[LineTemplate]:
    """Each line's template, mined per service from all of `lines` in the order given (time
    order: pass the window before and the window itself together, so one event has one
    template in both); every line names its template's final form. A template's text is what
    answers show, so it is redacted (a constant e-mail or token in a line stays in its template)."""
    by_service: dict[str, list[int]] = defaultdict(list)
    for i, line in enumerate(lines):
        by_service[line.service].append(i)
    # A service's lines share a format: its own miner learns its header shape once.
    assigned: dict[int, tuple[str, Template]] = {}
    for service, idx in by_service.items():
        miner = miner_for([lines[i].message for i in idx[:SAMPLE_LINES]])
        for i in idx:
            assigned[i] = (service, miner.add(lines[i].message))
    out = []
    shown: dict[str, LineTemplate] = {}
    for i in range(len(lines)):
        service, tpl = assigned[i]
        final = tpl.resolved()  # a template merged into another later is that one
        key = f"{service}/T{final.id}"
        if key not in shown:  # mining is over: a template's text no longer changes
            shown[key] = LineTemplate(key, redact(final.text))
        out.append(shown[key])
    return out
