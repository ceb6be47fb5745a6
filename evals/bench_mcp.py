"""Latency of `investigate` through MCP next to the same question answered in-process.

    python -m evals.bench_mcp [--rounds N]

In-process: `copilot.answer` in this process. MCP stdio: `opscopilot mcp` as a subprocess driven
by the SDK's client. MCP HTTP: the streamable HTTP app on a loopback port (uvicorn in a thread of
this process), the SDK's client with the bearer token. Every runtime is warm (router trained,
one question asked first); each round asks every question once. Prints median and p95 per path
and checks that each MCP answer equals the in-process one (timings aside).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from typing import Any

import anyio

from evals.bench_latency import QUESTIONS

SCENARIO = "bad-deploy-checkout"
TOKEN = "bench-token-0123456789abcdef"


def _comparable(answer: dict[str, Any]) -> dict[str, Any]:
    answer = dict(answer)
    answer.pop("latency_ms", None)
    answer["tool_calls"] = [{k: v for k, v in c.items() if k != "duration_ms"}
                            for c in answer["tool_calls"]]
    return answer


def _p95(values: list[float]) -> float:
    return sorted(values)[max(0, int(round(0.95 * len(values))) - 1)]


async def _through(client: Any, rounds: int, expected: dict[str, dict[str, Any]]
                   ) -> tuple[list[float], int]:
    """Milliseconds per investigate call and how many answers differed from in-process."""
    async with client:
        await client.call_tool("investigate", {"question": QUESTIONS[0], "scenario": SCENARIO})
        timings, differ = [], 0
        for _ in range(rounds):
            for q in QUESTIONS:
                started = time.perf_counter()
                result = await client.call_tool("investigate", {"question": q,
                                                                "scenario": SCENARIO})
                timings.append((time.perf_counter() - started) * 1000)
                differ += _comparable(json.loads(result.content[0].text)) != expected[q]
        return timings, differ


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("OPSCOPILOT_DATA_DIR", tempfile.mkdtemp(prefix="bench-mcp-"))
    os.environ["OPSCOPILOT_MCP__TOKEN"] = TOKEN

    from bot.answer import Question
    from bot.app import build_runtime
    from bot.mcp.server import http_app
    from bot.mcp.service import McpService
    from bot.mcp.testing import http_client, serving, stdio_client
    from infra.redact import redact_data
    from infra.settings import load_settings

    settings = load_settings()
    runtime = build_runtime(settings, SCENARIO)
    runtime.warm()
    now = runtime.default_now()
    runtime.copilot.answer(Question(QUESTIONS[0], now))
    in_process: list[float] = []
    expected: dict[str, dict[str, Any]] = {}
    for _ in range(args.rounds):
        for q in QUESTIONS:
            started = time.perf_counter()
            answer = runtime.copilot.answer(Question(q, now))
            in_process.append((time.perf_counter() - started) * 1000)
            expected[q] = _comparable(redact_data(answer.to_json()))

    rows: list[tuple[str, list[float], int]] = [("in-process", in_process, 0)]
    rows.append(("MCP stdio", *anyio.run(_through, stdio_client(["--scenario", SCENARIO]),
                                         args.rounds, expected)))
    service = McpService(settings, runtime, SCENARIO, transport="http")
    with serving(http_app(service, settings)) as url:
        rows.append(("MCP HTTP", *anyio.run(_through, http_client(url, TOKEN), args.rounds,
                                            expected)))

    print(f"investigate, {len(QUESTIONS)} questions x {args.rounds} rounds, scenario {SCENARIO}")
    print(f"{'path':12} {'median ms':>10} {'p95 ms':>8} {'answers differing':>18}")
    for name, timings, differ in rows:
        print(f"{name:12} {statistics.median(timings):10.1f} {_p95(timings):8.1f} {differ:18d}")


if __name__ == "__main__":
    main()
