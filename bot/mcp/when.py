"""The `at` argument of `investigate`: when the question is asked.

The same grammar as the CLI's `--at` (bot/cli/main.py `parse_at`, which this adapter cannot
import: the CLI sits above it): HH:MM on the default's day, an ISO time (UTC when no zone) or
unix seconds; in the sandbox it must fall inside the scenario's data.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bot.answer import BadTimeWindow

if TYPE_CHECKING:
    from bot.app import Runtime


def asked_at(value: str | None, runtime: Runtime) -> datetime:
    default = runtime.default_now()
    if value is None or not value.strip():
        return default
    text = value.strip()
    try:
        if re.fullmatch(r"\d{9,11}(\.\d+)?", text):
            when = datetime.fromtimestamp(float(text), UTC)
        elif m := re.fullmatch(r"(\d{1,2}):(\d{2})", text):
            when = default.replace(hour=int(m[1]), minute=int(m[2]), second=0, microsecond=0)
        else:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            when = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except ValueError:
        raise BadTimeWindow(f"at {value!r}: expected HH:MM, an ISO time like 2026-11-20T14:05Z, "
                            "or unix seconds") from None
    sb = runtime.sandbox
    if sb is not None and not sb.start < when.timestamp() <= sb.end:
        first = datetime.fromtimestamp(sb.start, UTC)
        last = datetime.fromtimestamp(sb.end, UTC)
        raise BadTimeWindow(f"at {when:%Y-%m-%d %H:%M} UTC is outside the scenario's data "
                            f"({first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC)")
    return when
