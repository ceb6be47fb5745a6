"""Log search that summarises instead of dumping: counts per level and per message template,
first and last seen, a sample line each, and how the error volume compares with the hour before."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

from pydantic import BaseModel, Field

from infra.redact import redact
from tools.backends import LogLine, LogsBackend, TopologySource
from tools.base import Evidence, Finding, ToolResult, ToolStatus
from tools.formatting import fmt_duration, fmt_time, fmt_window
from tools.logstore import LineTemplate, line_templates
from tools.metrics import Window

SAMPLE_CHARS = 240
TOP_TEMPLATES = 3


@dataclass
class TemplateStats:
    key: str  # the store's template key (unique across services)
    template: str
    level: str
    count: int
    first: int
    last: int
    sample: str


def _kind(template: str) -> str:
    """What kind of error a template is, by its first two words ("panic: runtime",
    "Unhandled exception"): templates that differ only further on are the same failure."""
    return " ".join(template.split()[:2]).lower()


def summarise(lines: list[LogLine],
              templates: list[LineTemplate] | None = None) -> list[TemplateStats]:
    """Group lines by template, most frequent first; `templates` are the lines' templates from
    `tools.logstore.line_templates` (computed from `lines` when not given)."""
    shown = templates if templates is not None else line_templates(lines)
    groups: dict[str, list[tuple[LogLine, LineTemplate]]] = defaultdict(list)
    for line, tpl in zip(lines, shown, strict=True):
        groups[tpl.key].append((line, tpl))
    stats = [
        TemplateStats(key, g[0][1].text, g[0][0].level, len(g), g[0][0].ts, g[-1][0].ts,
                      redact(g[-1][0].message)[:SAMPLE_CHARS])
        for key, g in groups.items()
    ]
    return sorted(stats, key=lambda s: -s.count)


class SearchLogsParams(Window):
    services: list[str] = Field(
        default_factory=list, description="services whose logs to search; empty means all"
    )
    level: Literal["DEBUG", "INFO", "WARN", "ERROR"] | None = Field(
        default=None, description="lowest level to include (WARN includes ERROR)"
    )
    contains: str | None = Field(default=None, description="text the line must contain")


class SearchLogs:
    name: ClassVar[str] = "search_logs"
    description: ClassVar[str] = (
        "Search services' logs in a time window (optionally by level and text) and summarise "
        "them: counts per level and per message template, first/last seen, sample lines."
    )
    Params: ClassVar[type[BaseModel]] = SearchLogsParams
    side_effects: ClassVar[bool] = False

    def __init__(self, backend: LogsBackend, services: Sequence[str] | TopologySource) -> None:
        """`services`: the names it may be asked about, fixed or read from the service graph
        at each call (a graph whose discovery could not read a backend refuses no name)."""
        self.backend = backend
        self.services = services

    def _known(self) -> tuple[list[str], bool]:
        """The known services, and whether that list is complete."""
        if isinstance(self.services, Sequence):
            return list(self.services), True
        known = self.services.services()  # refreshes the discovery first, when it is due
        problems = getattr(self.services, "discovery_problems", None)
        incomplete = problems() if callable(problems) \
            else getattr(self.services, "problems", [])
        return known, not incomplete

    def run(self, params: SearchLogsParams) -> ToolResult:
        known, complete = self._known()
        unknown = [s for s in params.services if s not in known]
        if unknown and complete:
            return ToolResult(self.name, ToolStatus.ERROR,
                              f"unknown service(s) {', '.join(unknown)}")
        services = params.services or known
        result = self.backend.search(services, params.start, params.end, params.level,
                                     params.contains)
        window = fmt_window(params.start, params.end)
        if not result.lines:
            return ToolResult(self.name, ToolStatus.NO_DATA,
                              f"no matching log lines for {', '.join(services)} in {window}",
                              evidence=[Evidence("logs:none", self.name, self.backend.source,
                                                 result.query, "no matching lines", {})])
        # The hour before, same filters, to say whether the volume is unusual.
        before = self.backend.search(services, params.start - 3600, params.start, params.level,
                                     params.contains)
        span_s = params.end - params.start
        findings: list[Finding] = []
        evidence: list[Evidence] = []
        per_service: dict[str, list[LogLine]] = defaultdict(list)
        for line in result.lines:
            per_service[line.service].append(line)
        before_counts = Counter(line.service for line in before.lines if line.level == "ERROR")
        for service, lines in sorted(per_service.items(), key=lambda kv: -len(kv[1])):
            levels = Counter(line.level for line in lines)
            earlier = [line for line in before.lines if line.service == service]
            templates = line_templates(earlier + lines)
            grouped = summarise(lines, templates[len(earlier):])
            top = grouped[:TOP_TEMPLATES]
            errors = levels.get("ERROR", 0)
            warnings = levels.get("WARN", 0)
            expected = before_counts.get(service, 0) * span_s / 3600
            values: dict[str, object] = {
                "lines": len(lines),
                "window": window,
                "duration": fmt_duration(span_s),
                **{f"level_{lvl}": n for lvl, n in levels.items()},
                "errors_hour_before": before_counts.get(service, 0),
            }
            for i, t in enumerate(top, 1):
                values[f"top{i}_template"] = t.template
                values[f"top{i}_count"] = t.count
                values[f"top{i}_first"] = fmt_time(t.first)
                values[f"top{i}_last"] = fmt_time(t.last)
                values[f"top{i}_sample"] = t.sample
            ev = Evidence(f"logs:{service}", self.name, self.backend.source, result.query,
                          f"{len(lines)} log lines from {service} in {window}", values,
                          result.link)
            evidence.append(ev)
            unusual = errors >= 5 and errors > 3 * max(expected, 1.0)
            if errors:
                # The telling template is the commonest ERROR one, not the loudest overall.
                main = next(t for t in grouped if t.level == "ERROR")
                values.update(error_template=main.template, error_count=main.count,
                              error_first=fmt_time(main.first))
                # Since when: the main template's first line, if it is new to this window.
                seen_before = {t.key for t in templates[:len(earlier)]}
                since = main.first if main.key not in seen_before else None
                text = (f"{service} logged {errors} ERROR lines in {fmt_duration(span_s)} "
                        f"({before_counts.get(service, 0)} in the hour before); most common: "
                        f"\"{main.template}\" ({main.count} times, first at "
                        f"{fmt_time(main.first)})")
                # A fault often fails two ways (a panic and the handler's exception), each split
                # per handler: the commonest error of another kind is named too, with all the
                # lines of its kind, so a near tie does not hide the other symptom.
                kinds = Counter(_kind(t.template) for t in grouped if t.level == "ERROR")
                second = next((t for t in grouped if t.level == "ERROR"
                               and _kind(t.template) != _kind(main.template)), None)
                if second is not None:
                    n = kinds[_kind(second.template)]
                    values.update(error2_template=second.template, error2_lines=n)
                    text += (f"; also \"{second.template}\" ({n} line{'s' * (n != 1)} of "
                             "that kind)")
                score = min(1.0, errors / (10 * max(expected, 1.0))) if unusual else 0.1
                findings.append(Finding("log_errors", service, text, score,
                                        value=float(errors), since=since,
                                        evidence=[ev.id], detail=main.template))
            if warnings:  # GC pauses, slow requests: said, below the errors
                warn = next(t for t in grouped if t.level == "WARN")
                values.update(warn_template=warn.template, warn_count=warn.count,
                              warn_first=fmt_time(warn.first), warn_lines=warnings)
                findings.append(Finding(
                    "log_warnings", service,
                    f"{service} logged {warnings} WARN lines in {fmt_duration(span_s)}; most "
                    f"common: \"{warn.template}\" ({warn.count} times, first at "
                    f"{fmt_time(warn.first)})", 0.05, value=float(warnings),
                    evidence=[ev.id], detail=warn.template))
        findings.sort(key=lambda f: -f.score)
        total = len(result.lines)
        more = " (truncated)" if result.truncated else ""
        return ToolResult(
            self.name, ToolStatus.OK,
            f"{total} log lines{more} from {len(per_service)} services in {window}",
            findings=findings, evidence=evidence,
            data={"lines": total, "truncated": result.truncated},
        )
