"""What every `opscopilot` sub-command shares: the consoles and the one way user errors end."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from infra.settings import Settings

# Data (ids like "metric:email:error_rate", regexes, log lines) is printed as it is: no emoji
# codes; markup only in our own literals, every interpolated value goes through escape().
out = Console(highlight=False, soft_wrap=True, emoji=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)

__all__ = ["UsageError", "err", "escape", "load_cli_settings", "out", "user_errors"]


def load_cli_settings() -> Settings:
    """The settings, with logging set up as they say (plain lines or JSON, on stderr: stdout is
    the command's output, and for `mcp` over stdio the protocol's wire)."""
    from infra.logcontext import configure_logging
    from infra.settings import load_settings

    settings = load_settings()
    configure_logging(settings.log_level, settings.telemetry.json_logs)
    return settings


class UsageError(ValueError):
    """Bad command-line input; the message says what to fix."""


@contextmanager
def user_errors() -> Iterator[None]:
    """Errors a person can fix (a bad question, time, scenario, document, store or setting):
    one line on stderr and exit code 2, never a traceback."""
    from bot.answer import QuestionError
    from infra.settings import SettingsError
    from knowledge.documents import DocumentError
    from knowledge.store import StoreError
    from tools.sandbox.scenario import ScenarioError

    try:
        yield
    except (UsageError, QuestionError, ScenarioError, SettingsError, StoreError,
            DocumentError) as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    except OSError as exc:
        where = f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")
        err.print(f"[red]error:[/red] {escape(where)}")
        raise typer.Exit(2) from None
