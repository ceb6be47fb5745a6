"""Load benchmark of the Slack app in HTTP mode: N concurrent `@opscopilot` mentions, signed like
Slack signs them, POSTed to the real HTTP server on loopback; the Web API is the loopback
stand-in (bot.slack.testing.FakeSlackAPI). Every mention must be acked within 3 s and answered
exactly once (one placeholder, one chat.update), also when Slack redelivers some events.

    .venv/bin/python -m evals.bench_slack_load [--mentions 50] [--router minilm|hashing]

Prints ack, placeholder and answer latencies (p50 / p99 / max) side by side.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bot.slack.testing import FakeSlackAPI, signed_headers

SECRET = "bench-signing-secret"
QUESTIONS = ("what is wrong with checkout?", "which alerts are firing?",
             "error logs of checkout in the last 30 minutes", "what changed in the last 3 hours?",
             "p99 latency of frontend over the last hour")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def build(router: str, fake: FakeSlackAPI):  # noqa: ANN201 - (server, executor)
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
    bot = build_bot(settings, runtime, oncall=ScheduleFile(data / "oncall.yaml"))
    executor = ThreadPoolExecutor(64, thread_name_prefix="slack-listener")
    app = build_app(bot, make_client("xoxb-bench", fake.base_url), signing_secret=SECRET,
                    executor=executor)
    server = SlackHTTPServer(app, "127.0.0.1", 0)
    server.start_background()
    return server, executor


def mention_body(i: int, ts: str) -> str:
    event = {"type": "app_mention", "user": f"U{i:05d}", "channel": "C0BENCH", "ts": ts,
             "text": f"<@UBOT0001> {QUESTIONS[i % len(QUESTIONS)]}", "event_ts": ts}
    return json.dumps({"type": "event_callback", "team_id": "T0000001", "api_app_id": "A1",
                       "event": event, "event_id": f"EvBENCH{i:05d}", "event_time": 1800000000})


def post(url: str, body: str, extra: dict[str, str] | None = None) -> int:
    headers = signed_headers(SECRET, body) | (extra or {})
    req = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mentions", type=int, default=50)
    parser.add_argument("--redeliveries", type=int, default=10,
                        help="events sent again with x-slack-retry-num (must not be re-answered)")
    parser.add_argument("--router", choices=("minilm", "hashing"), default="minilm")
    args = parser.parse_args()
    n = args.mentions

    with FakeSlackAPI() as fake:
        t0 = time.monotonic()
        server, executor = build(args.router, fake)
        print(f"built and warmed the copilot in {time.monotonic() - t0:.1f} s "
              f"(router: {args.router}); {n} concurrent mentions over HTTP on loopback")
        tss = [f"1795198{i:03d}.000100" for i in range(n)]
        bodies = [mention_body(i, ts) for i, ts in enumerate(tss)]
        sent: dict[str, float] = {}
        acks: list[float] = []
        statuses: list[int] = []
        lock = threading.Lock()
        barrier = threading.Barrier(n)

        def send(i: int) -> None:
            barrier.wait()
            start = time.monotonic()  # the stand-in stamps calls with monotonic() too
            status = post(server.url, bodies[i])
            with lock:
                sent[tss[i]] = start
                acks.append(time.monotonic() - start)
                statuses.append(status)

        threads = [threading.Thread(target=send, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for i in range(min(args.redeliveries, n)):  # Slack retrying a "late" ack
            statuses.append(post(server.url, bodies[i], {"x-slack-retry-num": "1",
                                                         "x-slack-retry-reason": "http_timeout"}))
        fake.wait_for(lambda: len(fake.calls_to("chat.update")) >= n, timeout=300)
        time.sleep(1.0)  # anything extra (a double answer) would arrive now
        executor.shutdown(wait=True)  # charts finish uploading
        server.shutdown()
        server.server_close()

    placeholders = [c for c in fake.calls_to("chat.postMessage") if "Looking" in c.body["text"]]
    per_thread = Counter(c.body["thread_ts"] for c in placeholders)
    first: dict[str, float] = {}
    for c in placeholders:
        first.setdefault(c.body["thread_ts"], c.at)
    updates = fake.calls_to("chat.update")
    per_message = Counter(u.body["ts"] for u in updates)
    begin = min(sent.values())

    def row(name: str, values: list[float]) -> None:
        ms = [v * 1000 for v in values]
        print(f"{name:24}{pct(ms, 50):9.0f}{pct(ms, 99):9.0f}{max(ms):9.0f}")

    print(f"HTTP statuses: {dict(Counter(statuses))} "
          f"({n} mentions + {min(args.redeliveries, n)} redeliveries)")
    print(f"{'latency, ms':24}{'p50':>9}{'p99':>9}{'max':>9}")
    row("ack (HTTP 200)", acks)
    row("placeholder posted", [first[ts] - sent[ts] for ts in first])
    row("answer posted (update)", [u.at - begin for u in updates])
    once = (len(per_thread) == n and set(per_thread.values()) == {1}
            and len(updates) == n and set(per_message.values()) == {1})
    within = sum(1 for a in acks if a < 3.0)
    print(f"acked within 3 s: {within}/{n}; placeholders: {len(placeholders)}; answers: "
          f"{len(updates)} for {len(per_message)} messages; answered exactly once: "
          f"{'yes' if once else 'NO'}")


if __name__ == "__main__":
    main()
