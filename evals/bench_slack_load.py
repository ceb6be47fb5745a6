"""Load benchmark of the Slack app in HTTP mode: a burst of `@opscopilot` mentions (N spread over
S seconds, or all at once with `--seconds 0`) with `/ops` commands and button clicks sent during
the burst, all signed like Slack signs them and POSTed to the real HTTP server on loopback; the
Web API is the loopback stand-in (bot.slack.testing.FakeSlackAPI). Every request must be acked
within Slack's 3 s and handled exactly once (one placeholder and one answer per mention, one
reply per command and click), also when Slack redelivers some events.

    .venv/bin/python -m evals.bench_slack_load [--mentions 200 --seconds 20]
        [--commands 20 --clicks 20] [--router minilm|hashing] [--workers N]

Prints the ack latency of mentions, commands and clicks separately, the placeholder and answer
latency of each mention (from its own send), the replies to commands and clicks, and what was
lost or doubled.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from bot.slack.testing import FakeSlackAPI, signed_headers

SECRET = "bench-signing-secret"
QUESTIONS = ("what is wrong with checkout?", "which alerts are firing?",
             "error logs of checkout in the last 30 minutes", "what changed in the last 3 hours?",
             "p99 latency of frontend over the last hour")
COMMANDS = ("incident list", "ask which alerts are firing?", "oncall", "summary")
CHANNELS = ("C0BENCH1", "C0BENCH2", "C0BENCH3")


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def build(router: str, fake: FakeSlackAPI,  # noqa: ANN201 - (server, executor, bot)
          workers: int | None = None):
    from bot.app import build_runtime
    from bot.oncall import ScheduleFile
    from bot.router import Router
    from bot.slack.app import build_app, build_bot, make_client
    from bot.slack.server import SlackHTTPServer
    from infra.settings import load_settings
    from knowledge.corpus import demo_documents

    data = Path(tempfile.mkdtemp(prefix="opscopilot-bench-slack-"))
    settings = load_settings(data_dir=data, kb={"model": "hashing-384"})
    if router == "hashing":
        from knowledge.hashing import HashingEmbedder

        runtime = build_runtime(settings, "bad-deploy-checkout",
                                router=Router(HashingEmbedder(), [], cache_dir=None))
    else:
        runtime = build_runtime(settings, "bad-deploy-checkout")
    assert runtime.kb is not None
    runtime.kb.ingest(demo_documents())
    runtime.warm()
    schedule = data / "oncall.yaml"
    schedule.write_text("rotations:\n  - name: primary\n    start: 2026-11-02T09:00:00Z\n"
                        "    every_days: 7\n    people:\n      - {name: Ana Diaz, slack: U0ANA}\n",
                        encoding="utf-8")
    bot = build_bot(settings, runtime, oncall=ScheduleFile(schedule))
    if workers is not None:
        from bot.slack.work import AnswerPool

        bot.answers = AnswerPool(workers)
    executor = ThreadPoolExecutor(32, thread_name_prefix="slack-listener")
    app = build_app(bot, make_client("xoxb-bench", fake.base_url), signing_secret=SECRET,
                    executor=executor)
    server = SlackHTTPServer(app, "127.0.0.1", 0, signing_secret=SECRET)  # as `serve` runs
    server.start_background()
    return server, executor, bot


def mention_body(i: int, ts: str, channel: str) -> str:
    event = {"type": "app_mention", "user": f"U{i:05d}", "channel": channel, "ts": ts,
             "text": f"<@UBOT0001> {QUESTIONS[i % len(QUESTIONS)]}", "event_ts": ts}
    return json.dumps({"type": "event_callback", "team_id": "T0000001", "api_app_id": "A1",
                       "event": event, "event_id": f"EvBENCH{ts}", "event_time": 1800000000})


def command_body(text: str, response_url: str, i: int) -> str:
    return urlencode({"token": "legacy", "team_id": "T0000001", "channel_id": "C0CMD",
                      "channel_name": "ops", "user_id": f"UCMD{i:03d}", "user_name": "someone",
                      "command": "/ops", "text": text, "api_app_id": "A1",
                      "response_url": response_url, "trigger_id": "1.2.3"})


def click_body(answer_id: str, response_url: str, i: int) -> str:
    """A feedback click on an answer posted before the burst (each by its own user)."""
    payload = {"type": "block_actions", "team": {"id": "T0000001"},
               "user": {"id": f"UCLK{i:03d}", "username": "someone", "team_id": "T0000001"},
               "api_app_id": "A1", "token": "legacy", "trigger_id": "1.2.3",
               "container": {"type": "message", "message_ts": "1795190000.000100",
                             "channel_id": "C0WARM"},
               "channel": {"id": "C0WARM", "name": "warm"},
               "message": {"ts": "1795190000.000100", "text": ""},
               "response_url": response_url,
               "actions": [{"type": "button", "action_id": "feedback_helpful", "block_id": "b",
                            "value": answer_id, "action_ts": "1795198001.0"}]}
    return urlencode({"payload": json.dumps(payload)})


def post(url: str, body: str, content_type: str = "application/json",
         extra: dict[str, str] | None = None) -> int:
    headers = signed_headers(SECRET, body, content_type=content_type) | (extra or {})
    req = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.status


@dataclass
class Sent:
    kind: str  # mention, command, click
    key: str  # the mention's ts, or the response_url's path
    body: str
    content_type: str
    at: float  # seconds into the burst
    started: float = 0.0
    ack: float = float("inf")
    status: int = 0


def warm_answers(server_url: str, fake: FakeSlackAPI, count: int) -> list[str]:
    """Answer ids of a few answers posted before the burst (what the clicks vote on)."""
    for i in range(count):
        ts = f"1795190{i:03d}.000100"
        assert post(server_url, mention_body(90000 + i, ts, "C0WARM")) == 200
    updates = fake.wait_for(lambda: len(fake.calls_to("chat.update")) >= count
                            and fake.calls_to("chat.update"), timeout=120)
    ids = [e["value"] for u in updates for b in u.body.get("blocks") or []
           for e in b.get("elements", []) if e.get("action_id") == "feedback_helpful"]
    assert ids, "the warm-up answers carry no feedback buttons"
    return ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mentions", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20.0,
                        help="spread the mentions over this long (0: all at once)")
    parser.add_argument("--commands", type=int, default=20, help="/ops commands in the burst")
    parser.add_argument("--clicks", type=int, default=20, help="feedback clicks in the burst")
    parser.add_argument("--redeliveries", type=int, default=10,
                        help="events sent again with x-slack-retry-num (must not be re-answered)")
    parser.add_argument("--router", choices=("minilm", "hashing"), default="minilm")
    parser.add_argument("--workers", type=int, default=None,
                        help="answer workers (default: what `serve` uses, the usable cores)")
    args = parser.parse_args()
    n = args.mentions

    with FakeSlackAPI() as fake:
        t0 = time.monotonic()
        server, executor, bot = build(args.router, fake, args.workers)
        answer_ids = warm_answers(server.url, fake, 3)
        fake.reset()
        print(f"built and warmed the copilot in {time.monotonic() - t0:.1f} s "
              f"(router: {args.router}, {bot.answers.workers} answer workers); "
              f"{n} mentions over {args.seconds:g} s, "
              f"{args.commands} /ops commands and {args.clicks} clicks during the burst, "
              "over HTTP on loopback")
        plan: list[Sent] = []
        step = args.seconds / n if n else 0.0
        for i in range(n):
            ts = f"1795198{i:03d}.000100"
            plan.append(Sent("mention", ts, mention_body(i, ts, CHANNELS[i % len(CHANNELS)]),
                             "application/json", i * step))
        # commands and clicks from 10 % to 90 % of the burst, when the backlog is deepest
        form = "application/x-www-form-urlencoded"
        for kind, count in (("command", args.commands), ("click", args.clicks)):
            for i in range(count):
                name = f"{kind}-{i}-{uuid.uuid4().hex[:6]}"
                url = fake.response_url(name)
                body = (command_body(COMMANDS[i % len(COMMANDS)], url, i) if kind == "command"
                        else click_body(answer_ids[i % len(answer_ids)], url, i))
                at = args.seconds * (0.1 + 0.8 * (i + 0.5) / count)
                plan.append(Sent(kind, f"/response/{name}", body, form, at))
        plan.sort(key=lambda s: s.at)

        def send(item: Sent) -> None:
            item.started = time.monotonic()  # the stand-in stamps calls with monotonic() too
            try:
                item.status = post(server.url, item.body, item.content_type)
                item.ack = time.monotonic() - item.started
            except urllib.error.HTTPError as exc:  # 404: Bolt gave up waiting for the ack
                item.status, item.ack = exc.code, float("inf")

        threads = []
        begin = time.monotonic()
        for item in plan:
            delay = begin + item.at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            thread = threading.Thread(target=send, args=(item,))
            thread.start()
            threads.append(thread)
        for thread in threads:
            thread.join()
        mentions = [s for s in plan if s.kind == "mention"]
        for item in mentions[:args.redeliveries]:  # Slack retrying a "late" ack
            post(server.url, item.body, extra={"x-slack-retry-num": "1",
                                               "x-slack-retry-reason": "http_timeout"})
        replies_wanted = len(plan) - n
        try:
            fake.wait_for(lambda: len(fake.calls_to("chat.update")) >= n
                          and len(fake.calls_to("response")) >= replies_wanted, timeout=300)
        except AssertionError:
            print("timed out waiting for every answer and reply")
        time.sleep(1.0)  # anything extra (a double answer) would arrive now
        server.shutdown()
        executor.shutdown(wait=True)
        bot.answers.close()  # charts finish uploading
        server.server_close()

    report(plan, fake)


def report(plan: list[Sent], fake: FakeSlackAPI) -> None:
    mentions = {s.key: s for s in plan if s.kind == "mention"}
    posts = [c for c in fake.calls_to("chat.postMessage")
             if c.body.get("thread_ts") in mentions and c.body.get("text") != "(continued)"]
    per_thread = Counter(c.body["thread_ts"] for c in posts)
    placeholder_of: dict[str, str] = {}  # placeholder ts -> thread
    first: dict[str, float] = {}
    for c in posts:
        first.setdefault(c.body["thread_ts"], c.at)
        placeholder_of[str(c.reply.get("ts"))] = c.body["thread_ts"]
    updates = [u for u in fake.calls_to("chat.update") if u.body.get("ts") in placeholder_of]
    answered: dict[str, list[float]] = {}
    for u in updates:
        answered.setdefault(placeholder_of[u.body["ts"]], []).append(u.at)
    replies = Counter(c.path for c in fake.calls_to("response"))

    def row(name: str, values: list[float]) -> None:
        ms = [v * 1000 for v in values]
        print(f"{name:28}{len(ms):6}{pct(ms, 50):9.0f}{pct(ms, 99):9.0f}"
              f"{max(ms, default=float('nan')):9.0f}")

    statuses = Counter(s.status for s in plan)
    print(f"HTTP statuses: {dict(statuses)}")
    print(f"{'latency, ms':28}{'n':>6}{'p50':>9}{'p99':>9}{'max':>9}")
    for kind in ("mention", "command", "click"):
        row(f"ack of {kind}s", [s.ack for s in plan if s.kind == kind])
    row("placeholder posted", [first[k] - mentions[k].started for k in first])
    row("answer posted", [min(v) - mentions[k].started for k, v in answered.items()])
    for kind in ("command", "click"):
        done = [s for s in plan if s.kind == kind and s.key in replies]
        row(f"{kind} replied", [min(c.at for c in fake.calls_to("response") if c.path == s.key)
                                - s.started for s in done])
    lost_answers = sum(1 for k in mentions if k not in answered)
    doubled = (sum(1 for v in answered.values() if len(v) > 1)
               + sum(1 for v in per_thread.values() if v > 1))
    others = [s for s in plan if s.kind != "mention"]
    lost_replies = sum(1 for s in others if s.key not in replies)
    doubled_replies = sum(1 for s in others if replies[s.key] > 1)
    late = sum(1 for s in plan if not s.ack < 3.0)
    print(f"acked after 3 s or not at all: {late}/{len(plan)}; answers lost {lost_answers}, "
          f"doubled {doubled}; command/click replies lost {lost_replies}, doubled "
          f"{doubled_replies}")


if __name__ == "__main__":
    main()
