"""Answer latency with a warm process (as in `opscopilot chat` or the Slack bot), and cold.

    python -m evals.bench_latency [--rounds N] [--cold] [--serve]

Warm: one process, the model loaded and the router trained, questions of every intent asked
round after round; prints the median and p95 per question. Cold (--cold): wall time of whole
`opscopilot ask` processes, which pay for imports and the model load, beside `--help`.
Serve (--serve): `opscopilot serve` in HTTP mode against the Slack Web API stand-in; seconds
from start until `/healthz` first answers and until it says ready.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

QUESTIONS = (
    "what is wrong with checkout?",
    "is anything broken right now?",
    "p99 latency of frontend over the last hour",
    "show me error logs of payment in the last 30 minutes",
    "what changed in the last 3 hours?",
    "which alerts are firing?",
    "cpu of recommendation since 13:00",
    "why is cart slow?",
)


def warm(rounds: int) -> list[float]:
    from bot.answer import Question
    from bot.app import build_runtime
    from infra.settings import load_settings

    runtime = build_runtime(load_settings(), "bad-deploy-checkout")
    now = runtime.default_now()
    runtime.warm()
    timings = []
    for _ in range(rounds):
        for q in QUESTIONS:
            started = time.perf_counter()
            runtime.copilot.answer(Question(q, now))
            timings.append((time.perf_counter() - started) * 1000)
    return timings


def cold(runs: int, *args: str) -> list[float]:
    """Wall milliseconds of whole `opscopilot <args>` processes."""
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "bot.cli", *args], check=True, capture_output=True)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def serve_start(runs: int) -> tuple[list[float], list[float]]:
    """(seconds to the first /healthz answer, seconds to "ready") of `serve --mode http`."""
    import json
    import os
    import socket
    import urllib.error
    import urllib.request

    from bot.slack.testing import FakeSlackAPI

    first, ready = [], []
    for _ in range(runs):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        with FakeSlackAPI() as fake:
            env = os.environ | {"OPSCOPILOT_SLACK__BOT_TOKEN": "xoxb-bench",
                                "OPSCOPILOT_SLACK__SIGNING_SECRET": "bench",
                                "OPSCOPILOT_SLACK__API_URL": fake.base_url}
            started = time.perf_counter()
            proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--mode", "http",
                                     "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            answered = None
            try:
                while time.perf_counter() - started < 120 and proc.poll() is None:
                    try:
                        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz",
                                                    timeout=2) as resp:
                            status = json.loads(resp.read())["status"]
                    except urllib.error.HTTPError as exc:
                        status = json.loads(exc.read())["status"]
                    except OSError:
                        time.sleep(0.05)
                        continue
                    answered = answered or time.perf_counter() - started
                    if status == "ready":
                        first.append(answered)
                        ready.append(time.perf_counter() - started)
                        break
                    time.sleep(0.05)
            finally:
                proc.terminate()
                proc.wait(timeout=10)
    return first, ready


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cold", action="store_true", help="also time whole ask processes")
    parser.add_argument("--serve", action="store_true", help="also time `serve` to ready")
    args = parser.parse_args()
    t = sorted(warm(args.rounds))
    p95 = t[min(len(t) - 1, int(0.95 * len(t)))]
    print(f"warm answer latency over {len(t)} questions: median {statistics.median(t):.0f} ms, "
          f"p95 {p95:.0f} ms, max {t[-1]:.0f} ms (target: median < 300 ms)")
    if args.cold:
        cold(1, "ask", QUESTIONS[0], "--json")  # the first ever run exports the model, once
        ask = statistics.median(cold(5, "ask", QUESTIONS[0], "--json"))
        helps = statistics.median(cold(5, "--help"))
        print(f"cold `opscopilot ask` process: median {ask / 1000:.2f} s over 5 runs "
              f"(target <= 2 s); `opscopilot --help` {helps / 1000:.2f} s, ratio "
              f"{ask / helps:.1f}x (target <= 3x)")
    if args.serve:
        first, ready = serve_start(3)
        if not ready:
            print("serve: never became ready")
            return 1
        print(f"`serve --mode http`: /healthz answers after {statistics.median(first):.2f} s "
              f"(target <= 2 s), ready after {statistics.median(ready):.2f} s (target <= 15 s), "
              f"median of {len(ready)} starts")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
