"""Logs from Grafana Loki (LogQL over `GET /loki/api/v1/query_range`), as a `LogsBackend`.

The copilot's search (services, minimum level, a text) becomes one LogQL query, e.g.
`{service=~"checkout|payment", level=~"(?i)warn|warning|error|..."} |= "timeout"`; the lines come
back as `LogLine`s which `tools.logs` summarises (counts per level and template, first and last
seen, samples). Services and labels are discovered through `/loki/api/v1/labels` and
`/loki/api/v1/label/<name>/values`. When the streams carry no level label, the level is read
from the line itself (logfmt `level=`, JSON `"level":`, or a leading word).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from tools.backends import LogLine, LogQueryResult
from tools.backends.http import HttpBackend
from tools.base import BackendError

LEVELS = ("DEBUG", "INFO", "WARN", "ERROR")
# What each of our levels is called in the wild, lower case.
LEVEL_NAMES = {
    "DEBUG": ("debug", "trace", "dbg"),
    "INFO": ("info", "information", "notice"),
    "WARN": ("warn", "warning"),
    "ERROR": ("error", "err", "fatal", "critical", "crit", "panic", "alert", "emerg"),
}
_NORMAL = {alias: level for level, aliases in LEVEL_NAMES.items() for alias in aliases}
_LEVEL_IN_LINE = re.compile(
    r"""(?:\blevel["']?\s*[=:]\s*["']?|^\s*\[?|\s\[)(?P<level>[A-Za-z]+)""")
LABELS_TTL_S = 60.0


def normal_level(word: str | None) -> str | None:
    return _NORMAL.get(word.lower()) if word else None


def level_of(labels: Mapping[str, str], line: str, level_label: str) -> str:
    """The line's level: the stream's level label, else what the line says, else INFO."""
    for key in (level_label, "detected_level", "severity"):
        if (found := normal_level(labels.get(key))) is not None:
            return found
    for m in _LEVEL_IN_LINE.finditer(line[:200]):
        if (found := normal_level(m["level"])) is not None:
            return found
    return "INFO"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def at_least(level: str) -> list[str]:
    """Every alias of `level` and the levels above it."""
    return [a for lvl in LEVELS[LEVELS.index(level):] for a in LEVEL_NAMES[lvl]]


@dataclass
class LokiBackend(HttpBackend):
    SYSTEM: ClassVar[str] = "Loki"
    service_label: str = "service"
    level_label: str = "level"
    source: str = "loki"
    _labels: tuple[float, list[str]] | None = field(default=None, init=False, repr=False)

    # -- discovery
    def labels(self) -> list[str]:
        """Label names Loki knows (cached for a minute: the query builder asks every search)."""
        now = time.monotonic()
        if self._labels is None or now - self._labels[0] > LABELS_TTL_S:
            self._labels = (now, self._strings(self._get("/loki/api/v1/labels", {})))
        return self._labels[1]

    def label_values(self, name: str) -> list[str]:
        return sorted(self._strings(self._get(f"/loki/api/v1/label/{name}/values", {})))

    def services(self) -> list[str]:
        return self.label_values(self.service_label)

    # -- LogsBackend
    def logql(self, services: list[str], level: str | None, contains: str | None,
              level_as_label: bool) -> str:
        if len(services) == 1:
            matchers = [f"{self.service_label}={_quote(services[0])}"]
        else:
            names = "|".join(re.escape(s) for s in services) or ".+"
            matchers = [f"{self.service_label}=~{_quote(names)}"]
        pipeline = ""
        if level and level != "DEBUG":
            aliases = "|".join(at_least(level))
            if level_as_label:
                matchers.append(f"{self.level_label}=~{_quote('(?i)(' + aliases + ')')}")
            else:
                pattern = "(?i)\\b(" + aliases + ")\\b"
                pipeline += f" |~ {_quote(pattern)}"
        if contains:
            pipeline += f" |= {_quote(contains)}"
        return "{" + ", ".join(matchers) + "}" + pipeline

    def search(self, services: list[str], start: int, end: int, level: str | None = None,
               contains: str | None = None, limit: int = 5000) -> LogQueryResult:
        query = self.logql(services, level, contains,
                           level_as_label=level is not None and self.level_label in self.labels())
        warnings: list[str] = []
        data = self._get("/loki/api/v1/query_range", {
            "query": query, "start": start * 10**9, "end": end * 10**9 - 1, "limit": limit,
            "direction": "backward"}, warnings)
        if not isinstance(data, dict) or data.get("resultType") != "streams":
            raise self._reader.malformed("query_range did not return streams")
        lines = self._lines(data.get("result"), services)
        if level:  # a line filter can match a word that is not the level: check each line
            wanted = set(LEVELS[LEVELS.index(level):])
            lines = [line for line in lines if line.level in wanted]
        lines.sort(key=lambda line: line.ts)
        return LogQueryResult(lines, query, truncated=len(lines) >= limit,
                              warnings=warnings)

    # -- internals
    def _lines(self, result: Any, services: list[str]) -> list[LogLine]:
        if not isinstance(result, list):
            raise self._reader.malformed("result is not a list of streams")
        lines: list[LogLine] = []
        for stream in result:
            try:
                labels = {str(k): str(v) for k, v in stream["stream"].items()}
                values = stream["values"]
                service = (labels.get(self.service_label) or labels.get("service_name")
                           or (services[0] if len(services) == 1 else labels.get("job", "")))
                for ts_ns, text in values:
                    lines.append(LogLine(int(ts_ns) // 10**9, service,
                                         level_of(labels, str(text), self.level_label),
                                         str(text)))
            except (KeyError, TypeError, ValueError, AttributeError):
                raise self._reader.malformed("a stream has no labels or [time, line] "
                                             "values") from None
        return lines

    def _strings(self, data: Any) -> list[str]:
        if not isinstance(data, list):
            raise self._reader.malformed("label data is not a list")
        return [str(v) for v in data]

    def _get(self, path: str, params: Mapping[str, Any],
             warnings: list[str] | None = None) -> Any:
        status, body = self._reader.get(path, params)
        if not isinstance(body, dict):
            raise self._reader.malformed("not a JSON object")
        if status >= 400 or body.get("status") != "success":
            reason = body.get("error") or body.get("message") or f"HTTP {status}"
            raise BackendError(f"Loki at {self.base_url} rejected the query: {reason}")
        if warnings is not None:  # e.g. a querier that gave up on a shard: partial data
            warnings.extend(str(w) for w in body.get("warnings") or [])
        return body.get("data")
