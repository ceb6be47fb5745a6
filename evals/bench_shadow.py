"""What the live shadow costs an answer: warm answer latency with the current version alone and
with a shadow version beside it, the same questions interleaved, medians side by side.

    python -m evals.bench_shadow [--rounds N]

The questions are evals.bench_latency's mix plus three metric questions. Both versions are
fitted on the `quiet` scenario (the shadow on its last 6 hours) into a temporary data directory.
Also prints what the shadow recorded (tools/anomaly/shadow.py): series judged, agreement, its
own scoring time per series (off the answer's path), dropped items, and the cost of `observe()`,
the only part of the shadow on the answer's path.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from evals.bench_latency import QUESTIONS

# Questions whose metric tools read anomalous series (the ones the shadow judges); most of
# QUESTIONS go through incident_context, whose metric scan does not take the fitted model yet.
METRIC_QUESTIONS = (
    "error rate of checkout over the last hour",
    "latency and errors of checkout over the last hour",
    "show anomalous metrics for checkout and payment",
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    from bot.answer import Question
    from bot.app import build_runtime
    from infra.settings import load_settings
    from infra.state import state_engine
    from tools.anomaly.models import MODEL_NAME, fit_and_save, sandbox_training
    from tools.anomaly.registry import ModelRegistry
    from tools.anomaly.shadow import ShadowRecorder, ShadowStore, shadow_report
    from tools.metrics import QueryMetrics

    root = Path(tempfile.mkdtemp(prefix="bench-shadow-"))
    alone_s = load_settings(data_dir=root / "alone")
    shadow_s = load_settings(data_dir=root / "shadow")
    current = fit_and_save(ModelRegistry.under(alone_s.resolved_data_dir()), evaluate=False)
    registry = ModelRegistry.under(shadow_s.resolved_data_dir())
    fit_and_save(registry, evaluate=False)
    fit_and_save(registry, evaluate=False, data=sandbox_training("quiet", 6 * 3600))
    print(f"current {current.version} z={current.parameters['z_threshold']}, shadow "
          f"{registry.aliases(MODEL_NAME)['shadow']} "
          f"z={registry.manifest(MODEL_NAME, 'v2').parameters['z_threshold']}")

    alone = build_runtime(alone_s, "bad-deploy-checkout")
    alone.warm()
    with_shadow = build_runtime(shadow_s, "bad-deploy-checkout", router=alone.copilot.router)
    tool = with_shadow.copilot.registry.get("query_metrics")
    assert isinstance(tool, QueryMetrics)
    recorder = tool.shadow
    assert recorder is not None, "the shadow did not load"
    now = alone.default_now()
    timings: dict[str, list[float]] = {"current only": [], "with shadow": []}
    best: dict[tuple[str, str], float] = {}
    diffs: list[float] = []  # with shadow minus current only, the same question back to back
    pair = (("current only", alone), ("with shadow", with_shadow))
    for q in (*QUESTIONS, *METRIC_QUESTIONS):  # an untimed round: each runtime's lazy starts
        for _, runtime in pair:
            runtime.copilot.answer(Question(q, now))
    recorder.flush(60)
    for i in range(args.rounds):
        for q in (*QUESTIONS, *METRIC_QUESTIONS):
            # alternate which goes first: the second one finds the sandbox's caches warm
            took = {}
            for label, runtime in (pair if i % 2 == 0 else pair[::-1]):
                started = time.perf_counter()
                runtime.copilot.answer(Question(q, now))
                took[label] = ms = (time.perf_counter() - started) * 1000
                timings[label].append(ms)
                best[label, q] = min(best.get((label, q), ms), ms)
            diffs.append(took["with shadow"] - took["current only"])
    recorder.flush(60)

    def line(label: str) -> str:
        t = sorted(timings[label])
        p95 = t[min(len(t) - 1, int(0.95 * len(t)))]
        return f"{label:<13} median {statistics.median(t):7.1f} ms  p95 {p95:7.1f} ms"

    print(f"warm answer latency over {len(timings['with shadow'])} questions each:")
    print("  " + line("current only"))
    print("  " + line("with shadow"))
    ratio = statistics.median(timings["with shadow"]) / statistics.median(timings["current only"])
    print(f"  median ratio with/without shadow: {ratio:.3f}")
    print(f"  paired difference (with shadow - current only, same question back to back): "
          f"median {statistics.median(diffs):+.1f} ms, mean {statistics.fmean(diffs):+.1f} ms")
    sums = {label: sum(v for (lab, _), v in best.items() if lab == label) for label in timings}
    print(f"  sum over questions of the best of {args.rounds} rounds (less noisy on a shared "
          f"machine): current only {sums['current only']:.0f} ms, with shadow "
          f"{sums['with shadow']:.0f} ms, ratio {sums['with shadow'] / sums['current only']:.3f}")
    series = tool.backend.range_query(
        "checkout", "error_rate", int(now.timestamp()) - 5400, int(now.timestamp()))
    probe = ShadowRecorder(state_engine(shadow_s), MODEL_NAME, "v1", None, "v2",
                           recorder.shadow, queue_size=1)
    started = time.perf_counter()
    for _ in range(2000):
        probe.observe("probe", "checkout", "error_rate", series.timestamps, series.values,
                      0, 1, "up")
    per_call = (time.perf_counter() - started) / 2000 * 1e6
    print(f"  on the answer's path: observe() {per_call:.1f} us per anomalous series "
          f"({len(series.timestamps)} points copied onto the queue)")
    rows = ShadowStore(state_engine(shadow_s)).rows(MODEL_NAME)
    r = shadow_report(rows, "v1", "v2")
    print(f"shadow recorded {r['comparisons']} series ({r['shadow_errors']} errors, "
          f"{recorder.dropped} dropped): agreement {r['agreement']}, per series current "
          f"{r['median_current_ms']} ms / shadow {r['median_shadow_ms']} ms median "
          f"(off the answer's path)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
