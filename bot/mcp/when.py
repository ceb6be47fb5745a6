"""The `at` argument of `investigate`: when the question is asked, in the CLI's `--at` grammar
(`Runtime.asked_at`)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.app import Runtime


def asked_at(value: str | None, runtime: Runtime) -> datetime:
    return runtime.asked_at(value, name="at")
