"""Progress of one LLM answer, as events an adapter can show while it waits: the terminal prints
them, the Slack adapter edits its "working on it" message in the thread."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProgressEvent:
    kind: str  # "model" | "tool" | "tool_done" | "blocked" | "answer" | "fallback"
    text: str  # one line for people
    step: int = 0
    tool: str | None = None


Progress = Callable[[ProgressEvent], None]


def emit(progress: Progress | None, event: ProgressEvent) -> None:
    """Report an event; a failing reporter (a Slack update that errors) never breaks the answer."""
    if progress is None:
        return
    try:
        progress(event)
    except Exception:  # the reporter is an adapter's code we cannot explain here: log, go on
        log.warning("progress reporter failed on %s", event.kind, exc_info=True)


def terminal_progress(console: Any) -> Progress:
    """Print each event as a dim line on a rich Console (stderr, so --json stays clean)."""
    def show(event: ProgressEvent) -> None:
        console.print(f"[dim]… {event.text}[/dim]")

    return show


class ProgressLog:
    """Collects events: for tests, and for adapters that render them at the end."""

    def __init__(self) -> None:
        self.events: list[ProgressEvent] = []

    def __call__(self, event: ProgressEvent) -> None:
        self.events.append(event)

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]


class SlackThreadProgress:
    """Edit one Slack message (the thread's "working on it" placeholder) as the answer progresses.

    `client` is a slack_sdk `WebClient` (anything with `chat_update(channel=, ts=, text=)`).
    Updates are throttled to one per `min_interval_s` (Slack's chat.update is rate limited to about
    one a second per channel); the final answer replaces the message anyway.
    """

    def __init__(self, client: Any, channel: str, ts: str, min_interval_s: float = 1.0,
                 clock: Callable[[], float] | None = None) -> None:
        import time

        self.client = client
        self.channel = channel
        self.ts = ts
        self.min_interval_s = min_interval_s
        self.clock = clock or time.monotonic
        self._last = float("-inf")
        self.lines: list[str] = []

    def __call__(self, event: ProgressEvent) -> None:
        self.lines.append(event.text)
        now = self.clock()
        if event.kind not in ("fallback", "answer") and now - self._last < self.min_interval_s:
            return
        self._last = now
        shown = "\n".join(f"… {line}" for line in self.lines[-4:])
        self.client.chat_update(channel=self.channel, ts=self.ts,
                                text=f"Investigating…\n{shown}")
