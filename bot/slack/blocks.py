"""Block Kit for an `Answer`: summary, findings, ranked root causes, similar incidents, runbooks
with a "Plan" button, a context line (data sources, window) and feedback buttons.

Everything posted passes `redact_blocks` (secrets out) and `split_blocks` (Slack's limits: 50
blocks a message, 3,000 characters a section). No other module builds answer blocks.
"""

from __future__ import annotations

import json
import re
from typing import Any

from bot.answer import Answer
from infra.redact import redact
from tools.formatting import fmt_window

Block = dict[str, Any]

MAX_BLOCKS = 50  # per message
MAX_SECTION = 3000  # characters of a section's text
MAX_CONTEXT_ELEMENT = 2000
MAX_FALLBACK = 3000  # the notification text
MAX_RUNBOOK_BUTTONS = 5

FEEDBACK_HELPFUL = "feedback_helpful"
FEEDBACK_UNHELPFUL = "feedback_unhelpful"
RUNBOOK_PLAN = "runbook_plan"


def escape(text: str) -> str:
    """Slack mrkdwn control characters in data (log lines, titles) shown literally."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_ESCAPED_MENTION = re.compile(r"&lt;@([UW][A-Z0-9]{2,20})&gt;")


def escape_keeping_mentions(text: str) -> str:
    """`escape`, except user mentions (`<@U123>`) stay mentions: Slack shows the person's name."""
    return _ESCAPED_MENTION.sub(r"<@\1>", escape(text))


def mention(user: str) -> str:
    """`<@U123>` for a Slack user id; anything else (a CLI user name) escaped as it is."""
    return f"<@{user}>" if re.fullmatch(r"[UW][A-Z0-9]{2,20}", user) else escape(user)


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def button(text: str, action_id: str, value: str, style: str | None = None,
           confirm: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "button", "action_id": action_id, "value": value[:2000],
                           "text": {"type": "plain_text", "text": text[:75], "emoji": True}}
    if style:
        out["style"] = style
    if confirm:
        out["confirm"] = confirm
    return out


def chunk_text(text: str, limit: int = MAX_SECTION) -> list[str]:
    """Split at line ends (else hard) so each piece fits a section."""
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            if current:
                pieces.append(current)
                current = ""
            pieces.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            pieces.append(current)
            current = line
        else:
            current = candidate
    if current:
        pieces.append(current)
    return pieces or [""]


def sections(text: str) -> list[Block]:
    return [section(piece) for piece in chunk_text(text)]


def answer_blocks(answer: Answer, answer_id: str, thread: str = "") -> list[Block]:
    """The full answer; `answer_id` goes into the feedback buttons' values."""
    blocks: list[Block] = sections(escape(answer.summary.split("\n")[0]))
    rest = "\n".join(answer.summary.split("\n")[1:]).strip()
    if answer.findings:
        lines = [f"• {escape(f.text)}" for f in answer.findings]
        blocks += sections("*Findings*\n" + "\n".join(lines))
    elif rest:
        blocks += sections(escape(rest))
    if answer.root_causes:
        lines = []
        for i, rc in enumerate(answer.root_causes, 1):
            signal = f", {escape(rc.metric)}" if rc.metric else ""
            evidence = f"\n    evidence: `{'`, `'.join(rc.evidence)}`" if rc.evidence else ""
            lines.append(f"{i}. *{escape(rc.service)}*{signal} (score {rc.score:.2f}): "
                         f"{escape(rc.reason)}{evidence}")
        blocks += sections("*Suspected root causes*\n" + "\n".join(lines))
    if answer.similar_incidents:
        lines = []
        for inc in answer.similar_incidents:
            name = f"{escape(inc.id)}: {escape(inc.title)}"
            shown = f"<{inc.link}|{name}>" if inc.link else f"*{name}*"
            summary = f" — {escape(inc.summary)}" if inc.summary else ""
            lines.append(f"• {shown} (match {inc.score:.2f}){summary}")
        blocks += sections("*Similar past incidents*\n" + "\n".join(lines))
    if answer.runbooks:
        blocks.append(section("*Runbooks that fit*"))
        for rb in answer.runbooks[:MAX_RUNBOOK_BUTTONS]:
            value = json.dumps({"runbook": rb.runbook or rb.name, "services": answer.services[:3],
                                "thread": thread})
            reason = f" — {escape(rb.reason)}" if rb.reason else ""
            block = section(f"`{escape(rb.name)}` (fit {rb.score:.2f}){reason}")
            block["accessory"] = button("Plan", RUNBOOK_PLAN, value)
            blocks.append(block)
    blocks.append(context(context_line(answer)))
    blocks.append({"type": "actions", "block_id": "feedback", "elements": [
        button("👍 Helpful", FEEDBACK_HELPFUL, answer_id),
        button("👎 Not helpful", FEEDBACK_UNHELPFUL, answer_id),
    ]})
    return blocks


def context_line(answer: Answer) -> str:
    sources = sorted({e.source for e in answer.evidence}) or ["none"]
    parts = [f"Data: {', '.join(sources)}"]
    if answer.window:
        parts.append(f"window {fmt_window(*answer.window)}")
    tools = ", ".join(dict.fromkeys(answer.tools)) or "none"
    parts.append(f"tools: {tools}")
    parts.append(f"intent {answer.intent} ({answer.confidence:.2f}) · {answer.latency_ms:.0f} ms")
    return escape(" · ".join(parts))[:MAX_CONTEXT_ELEMENT]


def fallback_text(text: str) -> str:
    """The notification text of a message (redacted, shortened)."""
    text = redact(text)
    return text if len(text) <= MAX_FALLBACK else text[: MAX_FALLBACK - 1] + "…"


def redact_blocks(value: Any) -> Any:
    """Every string inside the blocks with secrets replaced (values and URLs included)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [redact_blocks(v) for v in value]
    if isinstance(value, dict):
        return {k: redact_blocks(v) for k, v in value.items()}
    return value


def split_blocks(blocks: list[Block], limit: int = MAX_BLOCKS) -> list[list[Block]]:
    """Messages of at most `limit` blocks each, keeping the feedback row on the last one."""
    return [blocks[i:i + limit] for i in range(0, len(blocks), limit)] or [[]]


_MENTION = re.compile(r"<@[A-Z0-9]+(\|[^>]*)?>")


def strip_mentions(text: str) -> str:
    """The question without `<@U123>` mentions (and Slack's escaping undone)."""
    text = _MENTION.sub(" ", text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return " ".join(text.split())
