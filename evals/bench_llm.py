"""LLM mode's own cost: the agent loop and guardrails against the deterministic mode, with a
replayed model (zero model latency), and optionally a live provider.

    python -m evals.bench_llm [--rounds N] [--live]

Replayed: each question is answered deterministically, then in LLM mode by a scripted model that
asks for exactly the deterministic plan's tool calls (one parallel round) and writes a summary; the
difference is the loop's overhead (LangChain message handling, the provider client's HTTP stack,
redaction, tool threads, grounding check). Prints medians side by side, per provider client, and
the guardrail checks alone. --live (needs OPSCOPILOT_LLM__PROVIDER/MODEL/...; never in CI) asks
the configured model the same questions and prints latency, tokens, cost, fallbacks, removed
claims and whether it called the same tools as the deterministic plan.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from evals.bench_latency import QUESTIONS as LATENCY_QUESTIONS

QUESTIONS = LATENCY_QUESTIONS[:6]  # the same questions as the deterministic latency bench


def _has_tool_results(body: dict[str, Any]) -> bool:
    for m in body.get("messages", []):
        if m.get("role") == "tool":
            return True
        content = m.get("content")
        if isinstance(content, list) and any(isinstance(p, dict) and p.get("type") == "tool_result"
                                             for p in content):
            return True
    return False


def replayed_model(plan: list[tuple[str, dict[str, Any]]], summary: str, provider: str) -> Any:
    from bot.llm.replay import Call, Reply, ScriptedProvider

    def step(body: dict[str, Any]) -> Reply:
        if _has_tool_results(body) or not plan:
            return Reply.say(summary)
        return Reply.tools(*(Call(tool, args) for tool, args in plan))

    return ScriptedProvider(provider, [step], repeat_last=True)


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def replayed(rounds: int) -> None:
    from bot.answer import Question
    from bot.app import build_runtime
    from bot.llm.copilot import build_llm_copilot
    from infra.settings import LLMSettings, load_settings

    settings = load_settings()
    runtime = build_runtime(settings, "bad-deploy-checkout")
    runtime.warm()
    now = runtime.default_now()
    deterministic = runtime.copilot
    rows = []
    for provider in ("openai", "anthropic", "ollama"):
        llm = LLMSettings(provider=provider, model="replayed", api_key="k",
                          base_url="http://replay.test/v1" if provider == "openai" else None)
        llm_settings = settings.model_copy(update={"llm": llm})
        det_t: list[float] = []
        llm_t: list[float] = []
        bare_t: list[float] = []
        fallbacks = 0
        for q in QUESTIONS:
            base = deterministic.answer(Question(q, now))
            plan = [(c.tool, c.args) for c in base.tool_calls]
            first_line = base.summary.splitlines()[0] if base.summary else "Nothing found."
            double = replayed_model(plan, first_line, provider)
            copilot = build_llm_copilot(runtime.copilot, llm_settings, transport=double.transport())
            copilot.answer(Question(q, now))  # warm the provider client and imports
            bare = build_llm_copilot(runtime.copilot, llm_settings, transport=replayed_model(
                [], first_line, provider).transport())
            for _ in range(rounds):
                started = time.perf_counter()
                deterministic.answer(Question(q, now))
                det_t.append(time.perf_counter() - started)
                started = time.perf_counter()
                answer = copilot.answer(Question(q, now))
                llm_t.append(time.perf_counter() - started)
                fallbacks += answer.mode != "llm"
                started = time.perf_counter()
                bare.answer(Question(q, now))
                bare_t.append(time.perf_counter() - started)
        rows.append((provider, median_ms(det_t), median_ms(llm_t), median_ms(bare_t), fallbacks,
                     len(llm_t)))
    print(f"replayed model, {len(QUESTIONS)} questions x {rounds} rounds "
          "(median ms per answer; the model itself answers instantly)")
    print(f"{'provider client':16} {'deterministic':>14} {'llm mode':>10} {'ratio':>7} "
          f"{'llm, no tools':>14} {'fallbacks':>10}")
    for provider, det, llm_ms, bare_ms, fb, n in rows:
        print(f"{provider:16} {det:14.1f} {llm_ms:10.1f} {llm_ms / det:7.2f} {bare_ms:14.1f} "
              f"{fb:>5}/{n}")
    print("llm mode runs the same tool calls in one parallel round; 'llm, no tools' is the loop's "
          "fixed cost (routing, two prompt round trips, redaction, composing, grounding check)")


def guardrails(rounds: int) -> None:
    from langchain_core.messages import HumanMessage, SystemMessage, ToolMessage

    from bot.answer import Answer
    from bot.llm.guardrails import check_summary, looks_like_instructions, untrusted
    from bot.llm.redaction import Redactor
    from bot.llm.toolkit import render_result
    from tools.base import Evidence, ToolResult, ToolStatus

    lines = [f"2026-11-20T14:{i % 60:02d}:00Z ERROR checkout payment declined order={i} "
             f"user=user{i}@example.com token=abc{i}def" for i in range(200)]
    ev = Evidence("E1", "search_logs", "sandbox", "logs{service=checkout}", "\n".join(lines),
                  {"count": 200})
    result = ToolResult("search_logs", ToolStatus.OK, "200 lines", evidence=[ev])
    redactor = Redactor()
    timings: dict[str, list[float]] = {"render + label tool result": [],
                                       "injection scan": [], "redact prompt": [],
                                       "grounding check": []}
    answer = Answer("why?", "logs", "", evidence=[ev])
    text = "Checkout logged 200 errors since 14:00. Payment declined for orders. " * 3
    for _ in range(rounds * 20):
        t = time.perf_counter()
        block = untrusted("tool:search_logs", render_result(result), "abcd1234")
        timings["render + label tool result"].append(time.perf_counter() - t)
        t = time.perf_counter()
        looks_like_instructions(block)
        timings["injection scan"].append(time.perf_counter() - t)
        messages = [SystemMessage("rules " * 200), HumanMessage("why is checkout failing?"),
                    ToolMessage(block, tool_call_id="1")]
        t = time.perf_counter()
        redactor.messages(messages)
        timings["redact prompt"].append(time.perf_counter() - t)
        t = time.perf_counter()
        check_summary(text, answer, ["checkout", "payment", "cart"])
        timings["grounding check"].append(time.perf_counter() - t)
    size = len(block)
    print(f"\nguardrail checks on a {size // 1000} kB tool result (median ms, {rounds * 20} runs)")
    for name, samples in timings.items():
        print(f"  {name:28} {median_ms(samples):8.3f}")


def live(rounds: int) -> None:
    from bot.answer import Question
    from bot.app import build_runtime
    from bot.llm.copilot import build_llm_copilot
    from infra.settings import load_settings

    settings = load_settings()
    runtime = build_runtime(settings, "bad-deploy-checkout")
    runtime.warm()
    now = runtime.default_now()
    copilot = build_llm_copilot(runtime.copilot, settings)
    print(f"\nlive: {settings.llm.provider} {settings.llm.model}")
    print(f"{'question':46} {'ms':>7} {'in tok':>7} {'out tok':>7} {'usd':>8} {'same tools':>10} "
          f"{'removed':>7} mode")
    for q in QUESTIONS:
        expected = set(runtime.copilot.answer(Question(q, now)).tools)
        for _ in range(rounds):
            started = time.perf_counter()
            a = copilot.answer(Question(q, now))
            ms = (time.perf_counter() - started) * 1000
            same = bool(expected) and expected <= set(a.tools)
            print(f"{q[:46]:46} {ms:7.0f} {a.llm['input_tokens']:7} {a.llm['output_tokens']:7} "
                  f"{a.llm['cost_usd']:8.4f} {str(same):>10} "
                  f"{len(a.llm['ungrounded_removed']):7} {a.mode}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--live", action="store_true",
                        help="also ask the configured provider (OPSCOPILOT_LLM__*)")
    args = parser.parse_args()
    replayed(args.rounds)
    guardrails(args.rounds)
    if args.live:
        live(max(1, args.rounds // 5))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
