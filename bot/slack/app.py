"""The Bolt app: one `App` over the transport-neutral core, wired the same way for Socket Mode and
HTTP mode. `build_bot` gathers what listeners need from settings and a `Runtime`;
`build_app` registers the listeners (conversations, `/ops`, buttons) and the once-only middleware.

Every request in HTTP mode passes Bolt's signature and timestamp check (signing secret); Socket
Mode is authenticated by its app-level token instead. The Web API client retries rate-limited
(HTTP 429, honouring Retry-After), failed (5xx) and broken calls.

Three lanes, so that a backlog of answers never delays what must be quick: acks run on the
thread that received the request (Bolt's `process_before_response`), lazy listeners (the
placeholder, commands, clicks) on the listener executor, and answers with their charts in the
bot's answer pool (bot/slack/work.py), sized to the cores.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from slack_bolt import App, BoltResponse
from slack_bolt.request import BoltRequest
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.incidents import IncidentStore
from bot.slack.context import Answerer, SlackBot
from bot.slack.records import Records
from bot.slack.threads import ThreadStore
from bot.slack.work import AnswerPool, usable_cores
from infra.claims import Claims
from infra.logcontext import request_scope
from infra.settings import Settings, SettingsError

if TYPE_CHECKING:
    from bot.app import Runtime
    from bot.oncall import OnCallSource

log = logging.getLogger(__name__)

LISTENER_THREADS = 32  # placeholders, commands and clicks: short work, answers run elsewhere


def make_client(token: str, base_url: str | None = None) -> WebClient:
    """A Web API client that honours rate limits and retries transient failures."""
    handlers = [ConnectionErrorRetryHandler(max_retry_count=2),
                RateLimitErrorRetryHandler(max_retry_count=3),
                ServerErrorRetryHandler(max_retry_count=2)]
    kwargs: dict[str, Any] = {"token": token, "retry_handlers": handlers, "timeout": 30}
    if base_url:
        kwargs["base_url"] = base_url
    return WebClient(**kwargs)


def require_tokens(settings: Settings) -> None:
    """Stop start-up with one line naming the variables that are missing for the chosen mode."""
    s = settings.slack
    missing = []
    if s.bot_token is None:
        missing.append("OPSCOPILOT_SLACK__BOT_TOKEN (xoxb-...)")
    if s.mode == "socket" and s.app_token is None:
        missing.append("OPSCOPILOT_SLACK__APP_TOKEN (xapp-..., Socket Mode)")
    if s.mode == "http" and s.signing_secret is None:
        missing.append("OPSCOPILOT_SLACK__SIGNING_SECRET (HTTP mode)")
    if missing:
        raise SettingsError(f"Slack {s.mode} mode needs {' and '.join(missing)}; "
                            "see docs/slack.md")
    wrong = [f"{name} should start with {prefix}" for name, token, prefix in (
        ("OPSCOPILOT_SLACK__BOT_TOKEN", s.bot_token, "xoxb-"),
        ("OPSCOPILOT_SLACK__APP_TOKEN", s.app_token if s.mode == "socket" else None, "xapp-"))
        if token is not None and not token.get_secret_value().startswith(prefix)]
    if wrong:
        raise SettingsError(f"{' and '.join(wrong)} (a token of another kind was given); "
                            "see docs/slack.md")


def build_bot(settings: Settings, runtime: Runtime, *, oncall: OnCallSource | None = None,
              copilot: Answerer | None = None,
              clock: Callable[[], datetime] | None = None) -> SlackBot:
    """The listeners' context from settings and a built copilot runtime."""
    from bot.oncall import oncall_source
    from bot.slack.approvals import runbook_engine
    from tools.sandbox.backend import SandboxBackend

    backends = getattr(runtime, "backends", None)  # Prometheus or the sandbox: charts' series
    metrics = backends.metrics if backends is not None else (
        SandboxBackend(runtime.sandbox) if runtime.sandbox is not None else None)
    return SlackBot(
        settings=settings, copilot=copilot or runtime.copilot, now=runtime.default_now,
        claims=Claims(settings), threads=ThreadStore(settings), records=Records(settings),
        incidents=IncidentStore(settings, clock), oncall=oncall or oncall_source(settings),
        metrics=metrics, kb=runtime.kb, clock=clock,
        runbooks=runbook_engine(settings, runtime.sandbox.scenario.name if runtime.sandbox
                                else None),
        answers=AnswerPool(answer_workers(settings)))


def answer_workers(settings: Settings) -> int:
    """Answers computed at once. The deterministic core is CPU-bound Python, so more workers
    than cores only add contention for the GIL (which acks need too); LLM answers mostly wait
    on the network, so several run at once."""
    return usable_cores() if settings.mode == "deterministic" else 8


def check_token(client: WebClient) -> None:
    """Ask Slack whether the bot token is good (auth.test) before anything slow starts; raises
    SettingsError with one line when it is not."""
    from slack_sdk.errors import SlackApiError

    try:
        client.auth_test()
    except SlackApiError as exc:
        raise SettingsError("Slack did not accept OPSCOPILOT_SLACK__BOT_TOKEN: "
                            f"{exc.response.get('error', exc)}") from None
    except OSError as exc:  # unreachable, TLS, DNS
        raise unreachable(client.base_url, exc) from None


def check_app_token(app_token: str, base_url: str | None = None) -> None:
    """Ask Slack whether the app-level token opens Socket Mode (apps.connections.open), before
    the models load; raises SettingsError with one line when it does not."""
    from slack_sdk.errors import SlackApiError

    client = WebClient(token=app_token, timeout=30, base_url=base_url or WebClient.BASE_URL)
    try:
        client.apps_connections_open(app_token=app_token)
    except SlackApiError as exc:
        raise SettingsError("Slack did not accept OPSCOPILOT_SLACK__APP_TOKEN for Socket Mode: "
                            f"{exc.response.get('error', exc)}") from None
    except OSError as exc:
        raise unreachable(client.base_url, exc) from None


def unreachable(url: str, exc: OSError) -> SettingsError:
    """One line naming the URL and the setting, for a Web API that cannot be reached."""
    from infra.redact import redact

    reason = getattr(exc, "reason", None) or exc.strerror or exc
    return SettingsError(f"cannot reach Slack's Web API at {redact(url)} ({reason}); check "
                         "OPSCOPILOT_SLACK__API_URL (default https://slack.com/api/)")


def build_app(bot: SlackBot, client: WebClient, *, signing_secret: str | None = None,
              executor: ThreadPoolExecutor | None = None, verify_token: bool = True) -> App:
    """The Bolt app; `signing_secret` turns on request verification (HTTP mode). Acks run on
    the request's own thread, lazy listeners on `executor`, answers in `bot.answers`."""
    from bot.slack import approvals, commands, conversations

    executor = executor or ThreadPoolExecutor(LISTENER_THREADS,
                                              thread_name_prefix="slack-listener")
    app = _ScopedApp(client=client, signing_secret=signing_secret or "",
                     request_verification_enabled=signing_secret is not None,
                     listener_executor=_InContext(executor),
                     # auth.test once, now (unless check_token did)
                     token_verification_enabled=verify_token,
                     process_before_response=True)  # acks never queue behind lazy work
    app.use(_once_only(bot))
    conversations.register(app, bot)
    commands.register(app, bot)
    approvals.register(app, bot)

    @app.error
    def on_error(error: Exception, body: dict[str, Any]) -> None:
        log.error("Slack listener failed for %s: %s", body.get("type"), error, exc_info=error)

    return app


class _InContext(Executor):
    """Bolt's listener executor, running lazy listeners in the request's context (its id)."""

    def __init__(self, inner: Executor) -> None:
        self.inner = inner

    def submit(self, fn: Callable[..., Any], /, *args: Any,  # type: ignore[override]
               **kwargs: Any) -> Future[Any]:
        return self.inner.submit(contextvars.copy_context().run, fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.inner.shutdown(wait, cancel_futures=cancel_futures)


class _ScopedApp(App):
    """Bolt's App, each request dispatched under its request id (Slack's event id, else a new
    one): the listener, the answer it queues, its tool calls and audit entries carry it
    (infra/logcontext.py). Bolt's middleware cannot: it does not wrap the listener."""

    def dispatch(self, req: BoltRequest) -> BoltResponse:
        body = req.body if isinstance(req.body, dict) else {}
        with request_scope(body.get("event_id") or None) as request_id:
            log.info("slack request %s: %s", request_id, body.get("type") or "command")
            return super().dispatch(req)


def _once_only(bot: SlackBot) -> Callable[..., BoltResponse]:
    """Global middleware: a redelivered event (same event_id) is acked and dropped."""

    def once_only(req: BoltRequest, resp: BoltResponse,
                  next: Callable[[], None]) -> BoltResponse:  # noqa: A002 - Bolt's name
        body = req.body or {}
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id and not bot.claims.claim(f"event:{event_id}"):
            retry = (req.headers.get("x-slack-retry-num") or ["-"])[0]
            log.info("dropped a redelivery of %s (retry %s)", event_id, retry)
            return BoltResponse(status=200, body="")
        next()
        return resp

    return once_only


def utc_now() -> datetime:
    return datetime.now(UTC)
