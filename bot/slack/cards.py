"""Block Kit for everything that is not an answer: the incident card, the timeline, the weekly
summary, on-call and `/ops help`. Pure functions: data in, blocks out.
"""

from __future__ import annotations

from bot.incidents import Incident, TimelineEntry
from bot.slack.blocks import (
    Block,
    button,
    context,
    escape,
    escape_keeping_mentions,
    section,
    sections,
)
from bot.summary import WeeklySummary, summary_lines, title
from tools.formatting import fmt_duration

INCIDENT_ACK = "incident_ack"

USAGE = """*`/ops` commands*
• `/ops ask <question>`: investigate, e.g. `/ops ask what is wrong with checkout?`
• `/ops incident declare <title> [sev1-4]`: open `#inc-<date>-<slug>`, invite on-call, pin the card
• `/ops incident status [update]`: show the incident of this channel, or add a status update
• `/ops incident ack`, `/ops incident action <text>`, `/ops incident timeline`
• `/ops incident resolve [what fixed it]`: durations, postmortem draft into the knowledge base
• `/ops incident list`: open incidents
• `/ops runbook list`, `/ops runbook plan <name> [k=v ...]`, `/ops runbook run <name> [k=v ...]`
• `/ops oncall`: who is on call now
• `/ops summary [YYYY-Www]`: the weekly incident summary
• `/ops help`: this text
Mention me (`@opscopilot why is checkout slow?`) or DM me to ask in a thread."""


def usage_blocks(problem: str = "") -> list[Block]:
    blocks: list[Block] = []
    if problem:
        blocks.append(section(f":warning: {escape(problem)}"))
    return blocks + [section(USAGE)]


def _status_icon(status: str) -> str:
    return {"open": ":red_circle:", "acknowledged": ":large_orange_circle:",
            "resolved": ":large_green_circle:"}.get(status, ":white_circle:")


def incident_card(inc: Incident, on_call: list[str], note: str = "") -> list[Block]:
    fields = [f"*Severity*\n{inc.severity.upper()}",
              f"*Status*\n{_status_icon(inc.status)} {inc.status}",
              f"*Declared*\n{inc.declared_at:%Y-%m-%d %H:%M} UTC by "
              f"{f'<@{inc.declared_by}>' if inc.declared_by else 'unknown'}",
              f"*On call*\n{escape(', '.join(on_call)) or 'unknown'}"]
    if inc.time_to_acknowledge is not None:
        fields.append(f"*Time to acknowledge*\n{fmt_duration(inc.time_to_acknowledge)}")
    if inc.time_to_resolve is not None:
        fields.append(f"*Time to resolve*\n{fmt_duration(inc.time_to_resolve)}")
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text",
                                    "text": f"{inc.id}: {inc.title}"[:150]}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
    ]
    if note:
        blocks.append(context(escape_keeping_mentions(note)))
    if inc.status == "open":
        blocks.append({"type": "actions", "block_id": f"incident:{inc.id}", "elements": [
            button("Acknowledge", INCIDENT_ACK, inc.id, style="primary")]})
    blocks.append(context("`/ops incident status <update>` · `/ops incident timeline` · "
                          "`/ops incident resolve <what fixed it>` · mention me to investigate"))
    return blocks


def timeline_blocks(inc: Incident, entries: list[TimelineEntry]) -> list[Block]:
    lines = [f"• {e.at:%H:%M} UTC {escape(e.kind)}"
             f"{' by <@' + e.actor + '>' if e.actor else ''}: {escape(e.text)}" for e in entries]
    return sections(f"*Timeline of {inc.id}*\n" + ("\n".join(lines) or "empty"))


def summary_blocks(s: WeeklySummary) -> list[Block]:
    blocks: list[Block] = [{"type": "header",
                            "text": {"type": "plain_text", "text": title(s)[:150]}}]
    for heading, lines in summary_lines(s).items():
        blocks += sections(f"*{heading}*\n" + "\n".join(f"• {escape(x)}" for x in lines))
    return blocks
