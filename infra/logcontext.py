"""The request id that ties one piece of work together (a Slack event, the answer it asks for,
its tool calls, the audit entries it writes), and the logging set-up that shows it: plain lines
by default, one JSON object a line with `OPSCOPILOT_TELEMETRY__JSON_LOGS=true`.

The id lives in a context variable: `request_scope()` sets it for a block; work handed to another
thread keeps it only when started with `contextvars.copy_context().run` (the Slack answer pool
does). Entry points call `configure_logging` once; modules only use `logging.getLogger`.
"""

from __future__ import annotations

import json
import logging
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO

from infra.redact import redact

_REQUEST_ID: ContextVar[str | None] = ContextVar("opscopilot_request_id", default=None)

PLAIN_FORMAT = "%(levelname)s %(name)s: %(message)s"


def current_request_id() -> str | None:
    return _REQUEST_ID.get()


def new_request_id() -> str:
    return uuid.uuid4().hex[:16]


@contextmanager
def request_scope(request_id: str | None = None) -> Iterator[str]:
    """Within the block, logs and audit entries carry `request_id` (a new one when None). A
    nested scope keeps the outer id: the work started by one request stays one request."""
    outer = _REQUEST_ID.get()
    if outer is not None:
        yield outer
        return
    chosen = request_id or new_request_id()
    token = _REQUEST_ID.set(chosen)
    try:
        yield chosen
    finally:
        _REQUEST_ID.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message (redacted), request id, thread, and
    the traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        request_id = getattr(record, "request_id", None) or current_request_id()
        if request_id:
            out["request_id"] = request_id
        out["thread"] = record.threadName
        if record.exc_info:
            out["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(out, ensure_ascii=False)


class _RequestIdFilter(logging.Filter):
    """Stamps the record with the request id of the thread that logged it (a handler may format
    it later, elsewhere)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = current_request_id() or ""
        return True


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is when a record comes (a test runner swaps it)."""

    @property  # type: ignore[override]
    def stream(self) -> IO[str]:
        return sys.stderr

    @stream.setter
    def stream(self, value: IO[str]) -> None:
        pass


def configure_logging(level: str = "WARNING", json_logs: bool = False,
                      stream: IO[str] | None = None) -> logging.Handler | None:
    """Plain lines: `logging.basicConfig` as ever (a no-op when the root logger already has a
    handler). JSON lines, or an explicit `stream`: our handler replaces basicConfig's plain
    stream handlers (others, such as a test runner's capture, stay)."""
    if not json_logs and stream is None:
        logging.basicConfig(level=level, format=PLAIN_FORMAT)
        return None
    handler: logging.Handler = logging.StreamHandler(stream) if stream else _Stderr()
    handler.addFilter(_RequestIdFilter())
    handler.setFormatter(JsonFormatter() if json_logs else logging.Formatter(PLAIN_FORMAT))
    root = logging.getLogger()
    for old in [h for h in root.handlers if type(h) in (logging.StreamHandler, _Stderr)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
