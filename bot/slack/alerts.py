"""The Alertmanager webhook receiver: each alert group (its `groupKey`) gets one Slack message in
the configured channel (or the channel of the open incident about its service), edited in place
as alerts join, resolve or re-fire, with the copilot's investigation (bot/alerting.py) in its
thread.

    POST /alertmanager   an Alertmanager webhook body (version 4); 200 {"status": ...}
    GET  /healthz        200 {"ok": true}

Each POST carries `Authorization: Bearer <secret>` (Alertmanager's `http_config.authorization`)
or `X-Opscopilot-Signature: sha256=<hex HMAC-SHA256 of the body>`, else 401; bodies above
`alerts.max_body_bytes` get 413, bad payloads 400 with one line. Across replicas a group is
posted once (the state store's claims, infra/claims.py) and its message is found again through
the `alert_posts` table. Storms: at most `alerts.posts_per_minute` new group messages a minute
(the groups past it are counted in one storm message, and their claims given back so a later
notification can post them), and a group's message is edited at most once per
`alerts.group_interval_s` unless its status changes. The limits are per replica.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from functools import partial
from http.server import ThreadingHTTPServer
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Float, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.alerting import AlertGroup, investigate, parse_payload
from bot.copilot import Conversation
from bot.slack.blocks import (
    Block,
    context,
    escape,
    fallback_text,
    redact_blocks,
    section,
    sections,
)
from bot.slack.context import SlackBot
from bot.slack.conversations import APOLOGY, PLACEHOLDER, post_answer
from infra.settings import AlertsSettings, SettingsError
from infra.state import Base, ensure_tables, session_factory, state_engine
from tools.backends.webhook import SIGNATURE_HEADER, JsonHandler, authorised

log = logging.getLogger(__name__)

PATH = "/alertmanager"
STORM_EDIT_S = 5.0  # the storm message is edited at most this often
MAX_LISTED = 10  # alerts listed in a group's message
LOCK_STRIPES = 64  # webhooks of one group are handled one at a time (stripes: bounded memory)


class AlertPost(Base):
    """Where a group's message is: so any replica can edit it."""

    __tablename__ = "alert_posts"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the groupKey
    channel: Mapped[str] = mapped_column(String(40))
    ts: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16))
    edited: Mapped[float] = mapped_column(Float)


def group_id(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def group_blocks(group: AlertGroup) -> list[Block]:
    """The group's message: what fires (or resolved), each alert, where it came from."""
    icon = ":rotating_light:" if group.firing else ":white_check_mark:"
    severity = f" ({escape(group.severity)})" if group.severity else ""
    lines = []
    for alert in group.alerts[:MAX_LISTED]:
        mark = ":red_circle:" if alert.status == "firing" else ":large_green_circle:"
        summary = alert.annotations.get("summary", "")
        name = (f"<{alert.generatorURL}|{escape(alert.name)}>" if alert.generatorURL
                else escape(alert.name))
        lines.append(f"{mark} {name}{': ' + escape(summary) if summary else ''}")
    if len(group.alerts) > MAX_LISTED:
        lines.append(f"… and {len(group.alerts) - MAX_LISTED} more")
    where = f"receiver {group.receiver} · " if group.receiver else ""
    return redact_blocks([
        section(f"{icon} *{escape(group.headline())}*{severity}"),
        *sections("\n".join(lines)),  # long generator URLs: several sections, never one too big
        context(escape(f"{where}updated {time.strftime('%H:%M:%S', time.gmtime())} UTC · "
                       "the investigation is in the thread")),
    ])


@dataclass
class Outcome:
    status: int
    body: dict[str, Any]


class AlertReceiver:
    """What a webhook does: auth, parse, post or edit the group's message, queue the
    investigation. Transport-free: `receive(body, headers)`; `AlertServer` serves it."""

    def __init__(self, bot: SlackBot, client: WebClient, settings: AlertsSettings,
                 known: list[str], clock: Any = time.monotonic) -> None:
        self.check(settings)
        assert settings.secret is not None
        self.bot, self.client, self.settings, self.known = bot, client, settings, known
        self._secret = settings.secret.get_secret_value()
        self._clock = clock
        engine = state_engine(bot.settings)
        ensure_tables(engine)
        self._session = session_factory(engine)
        self._lock = threading.Lock()
        self._group_locks = [threading.Lock() for _ in range(LOCK_STRIPES)]
        self._posted: deque[float] = deque()  # when new group messages were posted
        self._storm: dict[str, Any] = {}  # ts, groups, alerts, names, edited, started
        self._storm_timer: threading.Timer | None = None

    @staticmethod
    def check(settings: AlertsSettings) -> None:
        """SettingsError with one line when the receiver cannot start."""
        if not settings.channel:
            raise SettingsError("the alert receiver needs OPSCOPILOT_ALERTS__CHANNEL (a "
                                "channel ID); see docs/slack.md")
        if settings.secret is None:
            raise SettingsError("the alert receiver needs OPSCOPILOT_ALERTS__SECRET (the "
                                "bearer token Alertmanager sends); see docs/slack.md")

    # -- the request ---------------------------------------------------------------------------
    def receive(self, body: bytes, headers: dict[str, str]) -> Outcome:
        lower = {k.lower(): v for k, v in headers.items()}
        if len(body) > self.settings.max_body_bytes:
            return Outcome(413, {"error": f"body of {len(body)} bytes; at most "
                                          f"{self.settings.max_body_bytes}"})
        if not authorised(self._secret, body, lower.get(SIGNATURE_HEADER.lower()),
                          lower.get("authorization")):
            return Outcome(401, {"error": "missing or wrong Authorization: Bearer or "
                                          f"{SIGNATURE_HEADER} (sha256=<hex HMAC of the body>)"})
        try:
            group = parse_payload(body)
        except ValueError as exc:
            return Outcome(400, {"error": str(exc)})
        wanted = self.settings.severities
        if wanted and group.severity not in wanted:
            return Outcome(200, {"status": f"severity {group.severity or 'unset'} does not post"})
        gid = group_id(group.key)
        with self._group_locks[int(gid[:8], 16) % LOCK_STRIPES]:
            return self._handle(gid, group)

    def _handle(self, gid: str, group: AlertGroup) -> Outcome:
        with self._session() as session:
            post = session.get(AlertPost, gid)
            if post is None:
                return self._first(session, gid, group)
            now = self._clock()
            changed = post.status != group.status
            if not changed and now - post.edited < self.settings.group_interval_s:
                return Outcome(200, {"status": "unchanged", "ts": post.ts})
            self._edit(post.channel, post.ts, group)
            refired = changed and group.status == "firing"
            post.status, post.edited = group.status, now
            session.commit()
            if refired:
                self._queue(group, post.channel, post.ts, note=":repeat: Firing again.")
            return Outcome(200, {"status": "refired" if refired else "updated", "ts": post.ts})

    def _first(self, session: Any, gid: str, group: AlertGroup) -> Outcome:
        if not self.bot.claims.claim(f"alertgroup:{gid}"):
            return Outcome(200, {"status": "handled elsewhere"})
        if not self._allow_post():
            self.bot.claims.release(f"alertgroup:{gid}")  # a later notification may post it
            self._count_in_storm(group)
            return Outcome(200, {"status": "storm: counted, not posted"})
        channel = self._channel_for(group)
        try:
            reply = self.client.chat_postMessage(channel=channel, text=fallback_text(
                group.headline()), blocks=group_blocks(group))
        except SlackApiError as exc:
            self.bot.claims.release(f"alertgroup:{gid}")
            log.error("posting alert group to %s failed: %s", channel, exc.response.get("error"))
            return Outcome(503, {"error": "could not post to Slack; retry later"})
        session.add(AlertPost(key=gid, channel=channel, ts=reply["ts"], status=group.status,
                              edited=self._clock()))
        session.commit()
        self.bot.records.audit("alertmanager", "alerts.post", gid,
                               {"channel": channel, "alerts": len(group.alerts)})
        if group.firing:
            self._queue(group, channel, reply["ts"])
        return Outcome(200, {"status": "posted", "ts": reply["ts"]})

    def _channel_for(self, group: AlertGroup) -> str:
        """The channel of the open incident about one of the group's services (the newest),
        else the configured one."""
        services = set(group.services(self.known))
        if services:
            for incident in reversed(self.bot.incidents.list()):
                if incident.status != "resolved" and incident.channel_id \
                        and services & set(incident.services):
                    return incident.channel_id
        return self.settings.channel

    def _edit(self, channel: str, ts: str, group: AlertGroup) -> None:
        try:
            self.client.chat_update(channel=channel, ts=ts, text=fallback_text(group.headline()),
                                    blocks=group_blocks(group))
        except SlackApiError as exc:
            log.warning("editing alert group message failed: %s", exc.response.get("error"))

    # -- the investigation ---------------------------------------------------------------------
    def _queue(self, group: AlertGroup, channel: str, ts: str, note: str = "") -> None:
        placeholder = self.client.chat_postMessage(
            channel=channel, thread_ts=ts, text=f"{note} {PLACEHOLDER}".strip())
        self.bot.answers.submit(channel, partial(self._investigate, group, channel, ts,
                                                 placeholder["ts"]), serial=f"{channel}:{ts}")

    def _investigate(self, group: AlertGroup, channel: str, ts: str, placeholder: str) -> None:
        try:
            started = time.perf_counter()
            conversation = self.bot.threads.get(channel, ts) or Conversation()
            result = investigate(self.bot.copilot, group, self.known, None, conversation)
            latency_ms = (time.perf_counter() - started) * 1000
            question = result.question
            question.channel = channel
            self.bot.threads.save(channel, ts, conversation)  # follow-ups in the thread work
            answer_id = self.bot.records.answer(question, result.answer, latency_ms,
                                                source="slack-alerts")
            post_answer(self.client, channel, ts, placeholder, result.answer, answer_id)
        except Exception:
            log.exception("investigating alert group %s failed", group.key)
            self.client.chat_update(channel=channel, ts=placeholder, text=APOLOGY)

    # -- storms --------------------------------------------------------------------------------
    def _allow_post(self) -> bool:
        with self._lock:
            now = self._clock()
            while self._posted and now - self._posted[0] >= 60:
                self._posted.popleft()
            if len(self._posted) >= self.settings.posts_per_minute:
                return False
            self._posted.append(now)
            return True

    def _count_in_storm(self, group: AlertGroup) -> None:
        with self._lock:
            now = self._clock()
            storm = self._storm
            if not storm or now - storm["started"] >= 60:
                storm.clear()
                storm.update(ts=None, groups=0, alerts=0, names={}, edited=0.0, started=now)
            storm["groups"] += 1
            storm["alerts"] += len(group.alerts)
            for alert in group.alerts:
                storm["names"][alert.name] = storm["names"].get(alert.name, 0) + 1
            due = storm["ts"] is None or now - storm["edited"] >= STORM_EDIT_S
            if due:
                storm["edited"] = now
            elif self._storm_timer is None:  # the last count is shown, a little later
                self._storm_timer = threading.Timer(STORM_EDIT_S, self._flush_storm)
                self._storm_timer.daemon = True
                self._storm_timer.start()
        if due:
            self._show_storm()

    def _flush_storm(self) -> None:
        with self._lock:
            self._storm_timer = None
            self._storm["edited"] = self._clock()
        self._show_storm()

    def _show_storm(self) -> None:
        with self._lock:
            storm = dict(self._storm)
            names = sorted(storm["names"].items(), key=lambda kv: -kv[1])[:5]
        text = (f":ocean: Alert storm: {storm['groups']} more groups ({storm['alerts']} alerts) "
                f"in the last minute, past the limit of {self.settings.posts_per_minute} posts "
                "a minute; not investigated one by one. Most frequent: "
                + ", ".join(f"{name} ×{n}" for name, n in names))
        blocks = redact_blocks([section(escape(text))])
        channel = self.settings.channel
        try:
            if storm["ts"] is None:
                reply = self.client.chat_postMessage(channel=channel, text=fallback_text(text),
                                                     blocks=blocks)
                with self._lock:
                    if self._storm.get("started") == storm["started"]:
                        self._storm["ts"] = reply["ts"]
            else:
                self.client.chat_update(channel=channel, ts=storm["ts"],
                                        text=fallback_text(text), blocks=blocks)
        except SlackApiError as exc:
            log.warning("the storm message failed: %s", exc.response.get("error"))


class _Handler(JsonHandler):
    server: AlertServer
    server_version = "opscopilot-alerts"
    not_found = f"not found: POST Alertmanager webhooks to {PATH}"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        log.debug("%s %s", self.address_string(), format % args)

    def do_POST(self) -> None:  # noqa: N802
        if self.path.rstrip("/") != PATH:
            self._reply(404, {"error": f"not found: POST Alertmanager webhooks to {PATH}"})
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._reply(411, {"error": "Content-Length header required"})
            return
        limit = self.server.receiver.settings.max_body_bytes
        if length > limit:
            self._reply(413, {"error": f"body of {length} bytes; at most {limit}"})
            return
        outcome = self.server.receiver.receive(self.rfile.read(length), dict(self.headers))
        self._reply(outcome.status, outcome.body)


class AlertServer(ThreadingHTTPServer):
    """The receiver over HTTP: `serve_forever()` in `opscopilot alerts serve`, a thread beside
    the Slack app in `opscopilot serve`, and in tests (port 0 = any free one)."""

    daemon_threads = True
    request_queue_size = 256  # storms arrive in bursts

    def __init__(self, receiver: AlertReceiver, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__((host, port), _Handler)
        self.receiver = receiver

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}{PATH}"

    def start_background(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, args=(0.1,), daemon=True,
                                  name="alert-receiver")
        thread.start()
        return thread


def start_receiver(bot: SlackBot, client: WebClient, known: list[str],
                   port: int | None = None) -> AlertServer:
    """The receiver on `alerts.host:alerts.port` (or `port`), serving in a thread."""
    s = bot.settings.alerts
    server = AlertServer(AlertReceiver(bot, client, s, known), s.host,
                         s.port if port is None else port)
    server.start_background()
    log.info("receiving Alertmanager webhooks on %s", server.url)
    return server
