"""How numbers and times are printed, in one place, so text and evidence always agree."""

from __future__ import annotations

from datetime import UTC, datetime

from tools.catalog import format_value

__all__ = ["format_value", "fmt_time", "fmt_window", "fmt_ratio", "fmt_duration", "plural",
           "yaml_problem"]


def plural(n: int, word: str, many: str | None = None) -> str:
    """`1 change`, `2 changes`; `many` for irregular plurals (`plural(2, "entry", "entries")`)."""
    return f"{n} {word if n == 1 else many or word + 's'}"


def fmt_time(ts: int) -> str:
    """14:05 UTC (with the date when it is not the same day as `ref`)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M UTC")


def fmt_datetime(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def fmt_window(start: int, end: int) -> str:
    s = datetime.fromtimestamp(start, UTC)
    e = datetime.fromtimestamp(end, UTC)
    if s.date() == e.date():
        return f"{s:%Y-%m-%d %H:%M}-{e:%H:%M} UTC"
    return f"{s:%Y-%m-%d %H:%M} to {e:%Y-%m-%d %H:%M} UTC"


def fmt_ratio(ratio: float) -> str:
    if ratio >= 10:
        return f"x{ratio:.0f}"
    return f"x{ratio:.1f}"


def fmt_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 120:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def yaml_problem(exc: Exception) -> str:
    """A YAML parser error in one line ("line 3: expected ',' or ']'"), without the multi-line
    excerpt PyYAML prints."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or "invalid YAML"
    return f"line {mark.line + 1}: {problem}" if mark is not None else str(problem)
