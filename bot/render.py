"""Render an Answer for a terminal (rich). No other module prints answers."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bot.answer import Answer

STATUS_STYLE = {"ok": "green", "no_data": "yellow", "error": "red", "needs_approval": "magenta"}


def render_answer(answer: Answer, console: Console, show_evidence: bool = True) -> None:
    console.print(escape(answer.summary))
    if answer.root_causes:
        table = Table(title="Suspected root causes", title_justify="left", show_edge=False)
        table.add_column("#", justify="right")
        table.add_column("service", style="bold")
        table.add_column("signal")
        table.add_column("score", justify="right")
        table.add_column("why")
        for i, rc in enumerate(answer.root_causes, 1):
            table.add_row(str(i), escape(rc.service), escape(rc.metric or "-"), f"{rc.score:.2f}",
                          escape(rc.reason))
        console.print(table)
    if show_evidence and answer.evidence:
        console.print("[dim]Evidence:[/dim]")
        cited = {e for f in answer.findings for e in f.evidence}
        shown = [e for e in answer.evidence if e.id in cited] or answer.evidence[:3]
        for ev in shown[:8]:
            console.print(f"[dim]  {escape(f'[{ev.id}]')} {escape(ev.query)}[/dim]")
        if len(shown) > 8:
            console.print(f"[dim]  ... {len(shown) - 8} more (use --json)[/dim]")
    calls = ", ".join(
        f"[{STATUS_STYLE.get(c.status, 'white')}]{c.tool}[/]" for c in answer.tool_calls
    ) or "none"
    console.print(
        f"[dim]intent {answer.intent} ({answer.confidence:.2f}) · tools: [/dim]{calls}"
        f"[dim] · {answer.latency_ms:.0f} ms[/dim]"
    )
