"""The weekly incident summary: counts by severity and service, MTTA/MTTR and their trend against
the week before, recurring causes (clusters of similar incidents over the last weeks), open
action items and incidents per day. Built from the `IncidentStore`; rendered as Markdown or HTML
here and as Block Kit by the Slack adapter (bot/slack/cards.py).
"""

from __future__ import annotations

import html
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from bot.incidents import ActionItem, Incident, IncidentStore
from knowledge.documents import SEVERITIES
from tools.formatting import fmt_duration

LOOKBACK_WEEKS = 4  # how far back recurring causes are looked for
SIMILARITY = 0.35  # cosine of TF-IDF vectors above which two incidents are "the same cause"


class WeekError(ValueError):
    """A week that cannot be read; the message shows the expected form."""


def parse_week(text: str | None, today: date | None = None) -> tuple[str, datetime, datetime]:
    """'2026-W48' (or None: the last complete week) -> (label, Monday 00:00 UTC, next Monday)."""
    if not text:
        ref = (today or datetime.now(UTC).date()) - timedelta(days=7)
        year, week, _ = ref.isocalendar()
    else:
        m = re.fullmatch(r"(\d{4})-?W(\d{1,2})", text.strip(), re.IGNORECASE)
        if not m:
            raise WeekError(f"week {text!r}: expected YYYY-Www, e.g. 2026-W48")
        year, week = int(m[1]), int(m[2])
    try:
        monday = date.fromisocalendar(year, week, 1)
    except ValueError:
        raise WeekError(f"week {text!r}: {year} has no week {week}") from None
    start = datetime(monday.year, monday.month, monday.day, tzinfo=UTC)
    return f"{year}-W{week:02d}", start, start + timedelta(days=7)


@dataclass
class Cluster:
    label: str
    incidents: list[str]  # ids, oldest first
    services: list[str]


@dataclass
class WeeklySummary:
    week: str
    start: datetime
    end: datetime
    incidents: list[Incident]
    by_severity: dict[str, int]
    by_service: dict[str, int]
    mtta_s: float | None
    mttr_s: float | None
    prev_mtta_s: float | None
    prev_mttr_s: float | None
    recurring: list[Cluster] = field(default_factory=list)
    open_actions: list[ActionItem] = field(default_factory=list)

    def per_day(self) -> tuple[list[str], dict[str, list[float]]]:
        """Labels Mon..Sun and, per severity, the number of incidents declared each day."""
        days = [self.start + timedelta(days=i) for i in range(7)]
        stacks = {sev: [0.0] * 7 for sev in SEVERITIES}
        for inc in self.incidents:
            index = (inc.declared_at - self.start).days
            if 0 <= index < 7 and inc.severity in stacks:
                stacks[inc.severity][index] += 1
        return [f"{d:%a %d}" for d in days], {k: v for k, v in stacks.items() if any(v)}


def _mean(values: list[float | None]) -> float | None:
    real = [v for v in values if v is not None]
    return sum(real) / len(real) if real else None


def recurring_causes(incidents: list[Incident], focus: set[str]) -> list[Cluster]:
    """Groups of two or more similar incidents (title, cause, services) touching `focus` ids."""
    if len(incidents) < 2:
        return []
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics.pairwise import cosine_similarity

    texts = [f"{i.title} {i.root_cause} {' '.join(i.services)}" for i in incidents]
    matrix = TfidfVectorizer(stop_words="english").fit_transform(texts)
    sims = cosine_similarity(matrix)
    parent = list(range(len(incidents)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(incidents)):
        for j in range(i + 1, len(incidents)):
            if sims[i, j] >= SIMILARITY:
                parent[find(i)] = find(j)
    groups: dict[int, list[Incident]] = {}
    for i, inc in enumerate(incidents):
        groups.setdefault(find(i), []).append(inc)
    clusters = []
    for members in groups.values():
        if len(members) < 2 or not focus & {m.id for m in members}:
            continue
        latest = max(members, key=lambda m: m.declared_at)
        services = [s for s, _ in Counter(s for m in members for s in m.services).most_common()]
        clusters.append(Cluster(latest.root_cause or latest.title,
                                [m.id for m in sorted(members, key=lambda m: m.declared_at)],
                                services))
    return sorted(clusters, key=lambda c: -len(c.incidents))


def build_summary(store: IncidentStore, week: str | None = None,
                  today: date | None = None) -> WeeklySummary:
    label, start, end = parse_week(week, today)
    incidents = store.list(since=start, until=end)
    previous = store.list(since=start - timedelta(days=7), until=start)
    history = store.list(since=start - timedelta(days=7 * (LOOKBACK_WEEKS - 1)), until=end)
    by_sev = {s: 0 for s in SEVERITIES}
    for inc in incidents:
        by_sev[inc.severity] = by_sev.get(inc.severity, 0) + 1
    services = Counter(s for inc in incidents for s in inc.services)
    return WeeklySummary(
        week=label, start=start, end=end, incidents=incidents, by_severity=by_sev,
        by_service=dict(services.most_common()),
        mtta_s=_mean([i.time_to_acknowledge for i in incidents]),
        mttr_s=_mean([i.time_to_resolve for i in incidents]),
        prev_mtta_s=_mean([i.time_to_acknowledge for i in previous]),
        prev_mttr_s=_mean([i.time_to_resolve for i in previous]),
        recurring=recurring_causes(history, {i.id for i in incidents}),
        open_actions=store.action_items(open_only=True))


def trend(now: float | None, before: float | None) -> str:
    """'42 min (down from 1 h 10 min)'; 'n/a' when there is nothing to measure."""
    if now is None:
        return "n/a"
    if before is None:
        return f"{fmt_duration(now)} (no incidents the week before)"
    word = "down" if now < before else "up" if now > before else "same as"
    return f"{fmt_duration(now)} ({word} {'from ' if word != 'same as' else ''}" \
           f"{fmt_duration(before)})"


def summary_lines(s: WeeklySummary) -> dict[str, list[str]]:
    """The summary's sections as plain lines, shared by every renderer."""
    sev = ", ".join(f"{k}: {v}" for k, v in s.by_severity.items() if v) or "none"
    svc = ", ".join(f"{k}: {v}" for k, v in s.by_service.items()) or "none recorded"
    resolved = sum(1 for i in s.incidents if i.status == "resolved")
    return {
        "Incidents": [f"{len(s.incidents)} declared, {resolved} resolved",
                      f"by severity: {sev}", f"by service: {svc}"],
        "Response": [f"MTTA {trend(s.mtta_s, s.prev_mtta_s)}",
                     f"MTTR {trend(s.mttr_s, s.prev_mttr_s)}"],
        "Recurring causes": [f"{c.label} ({len(c.incidents)} incidents: "
                             f"{', '.join(c.incidents)})" for c in s.recurring] or ["none"],
        "Open action items": [f"{a.incident_id}: {a.text}" + (f" ({a.owner})" if a.owner else "")
                              for a in s.open_actions] or ["none"],
        "This week's incidents": [f"{i.id} {i.severity} {i.status}: {i.title}"
                                  for i in s.incidents] or ["none"],
    }


def title(s: WeeklySummary) -> str:
    return (f"Incident summary {s.week} ({s.start:%Y-%m-%d} to "
            f"{s.end - timedelta(days=1):%Y-%m-%d})")


def to_markdown(s: WeeklySummary) -> str:
    out = [f"# {title(s)}", ""]
    for heading, lines in summary_lines(s).items():
        out += [f"## {heading}", *[f"- {line}" for line in lines], ""]
    return "\n".join(out)


def to_html(s: WeeklySummary, chart_png: bytes | None = None) -> str:
    import base64

    parts = [f"<!doctype html><meta charset='utf-8'><title>{html.escape(title(s))}</title>",
             f"<h1>{html.escape(title(s))}</h1>"]
    for heading, lines in summary_lines(s).items():
        items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
        parts.append(f"<h2>{html.escape(heading)}</h2><ul>{items}</ul>")
    if chart_png:
        data = base64.b64encode(chart_png).decode()
        parts.append(f"<img alt='incidents per day' src='data:image/png;base64,{data}'>")
    return "\n".join(parts) + "\n"


def chart_png(s: WeeklySummary) -> bytes:
    from infra.charts import stacked_bars_png

    labels, stacks = s.per_day()
    return stacked_bars_png(labels, stacks, f"Incidents per day, {s.week}")
