"""How fast is the sandbox? 24 h of a scenario at 15 s resolution, generated fresh N times.

    python -m evals.bench_sandbox [--scenario NAME] [--runs N] [--json]

Prints the median seconds to simulate the day (target: under 2 s), and the time to generate the
logs and traces of a 30-minute window before the scenario's now, for one service and for all.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

TARGET_S = 2.0


def bench(scenario: str, runs: int) -> dict[str, Any]:
    from tools.sandbox.scenario import load_scenario
    from tools.sandbox.simulator import Sandbox, simulate

    sc = load_scenario(scenario)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        sb = simulate(sc)
        times.append(time.perf_counter() - t0)
    service = sc.faults[0].service if sc.faults else "checkout"
    start, end = sb.now - 1800, sb.now

    def timed(fn: Callable[[Sandbox], list[Any]]) -> tuple[float, int]:
        """Seconds and items of `fn` on a fresh sandbox (nothing generated or cached yet)."""
        fresh = simulate(sc)
        t0 = time.perf_counter()
        n = len(fn(fresh))
        return time.perf_counter() - t0, n

    logs_one, n_logs = timed(lambda s: s.logs(service, start, end))
    logs_all, n_logs_all = timed(lambda s: s.logs(None, start, end))
    traces_one, n_traces = timed(lambda s: s.traces(service, start, end, limit=200))
    alerts_s, n_alerts = timed(lambda s: s.alerts(s.start, s.end))
    return {
        "scenario": sc.name, "runs": runs, "steps": len(sb.timestamps),
        "services": len(sb.topology.names()),
        "simulate_median_s": statistics.median(times), "simulate_max_s": max(times),
        "service": service,
        "logs_30m_one_service_ms": 1000 * logs_one, "log_lines_one_service": n_logs,
        "logs_30m_all_services_ms": 1000 * logs_all, "log_lines_all_services": n_logs_all,
        "traces_30m_one_service_ms": 1000 * traces_one, "traces": n_traces,
        "alerts_24h_ms": 1000 * alerts_s, "alerts": n_alerts,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="bad-deploy-checkout")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    result = bench(args.scenario, args.runs)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"sandbox {result['scenario']}: {result['steps']} steps x {result['services']} "
              f"services, {result['runs']} runs")
        print(f"  simulate 24 h   median {result['simulate_median_s']:.3f} s "
              f"(max {result['simulate_max_s']:.3f} s, target < {TARGET_S:.0f} s)")
        print(f"  logs 30 min     {result['logs_30m_one_service_ms']:.1f} ms for "
              f"{result['service']} ({result['log_lines_one_service']} lines), "
              f"{result['logs_30m_all_services_ms']:.1f} ms for all services "
              f"({result['log_lines_all_services']} lines)")
        print(f"  traces 30 min   {result['traces_30m_one_service_ms']:.1f} ms for "
              f"{result['service']} ({result['traces']} traces)")
        print(f"  alerts 24 h     {result['alerts_24h_ms']:.1f} ms ({result['alerts']} alerts)")
    return 0 if result["simulate_median_s"] < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
