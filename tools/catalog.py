"""The metric vocabulary every part speaks: names, units, what is normal, and words people use.

The sandbox generates these metrics, the router extracts them from questions, the metrics tool
queries them and the composer formats them. Real backends map them to PromQL (see issue 3).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MetricInfo:
    name: str
    unit: str  # printed after the number: "req/s", "%", "ms", "MB", "days", ""
    description: str
    # Which way is bad: "up" (latency, errors), "down" (cert days left), "both" (request rate).
    bad_direction: str
    # A change smaller than this, in the metric's unit, is never reported as an anomaly
    # (a 0.1 % error rate doubling to 0.2 % is noise to an on-call engineer).
    min_abs_change: float
    # Words and phrases people use for it in questions, lower case.
    synonyms: tuple[str, ...]
    # A level that is bad whatever the history, crossed in `bad_direction` (a certificate with
    # 2 days left was also close to expiry an hour ago): None when only change matters.
    alarm_level: float | None = None


METRICS: dict[str, MetricInfo] = {
    m.name: m
    for m in (
        MetricInfo("request_rate", "req/s", "requests served per second", "both", 2.0,
                   ("request rate", "requests", "traffic", "throughput", "rps", "qps", "load",
                    "req/s", "requests per second")),
        MetricInfo("error_rate", "%", "share of requests that failed", "up", 1.0,
                   ("error rate", "errors", "error", "failures", "failure rate", "5xx", "500s",
                    "failing", "error ratio", "err", "errs", "err rate", "error %", "errors %",
                    "error percent", "error pct", "err %")),
        MetricInfo("latency_p50", "ms", "median request latency", "up", 5.0,
                   ("p50", "median latency", "median", "50th percentile")),
        MetricInfo("latency_p95", "ms", "95th percentile request latency", "up", 10.0,
                   ("p95", "95th percentile")),
        MetricInfo("latency_p99", "ms", "99th percentile request latency", "up", 20.0,
                   ("p99", "latency", "slow", "slowness", "response time", "tail latency",
                    "99th percentile", "duration")),
        MetricInfo("cpu", "%", "CPU used, as a share of the service's CPU limit", "up", 10.0,
                   ("cpu", "processor", "cpu usage", "cpu utilisation", "cpu utilization",
                    "throttling")),
        MetricInfo("memory", "MB", "resident memory of the service", "up", 64.0,
                   ("memory", "ram", "heap", "rss", "memory usage", "oom", "leak", "mem",
                    "mem usage", "out of memory", "oomkilled", "oom killed", "gc",
                    "garbage collection", "memory leak")),
        MetricInfo("connections", "", "connections in use in the service's connection pool",
                   "up", 5.0,
                   ("connections", "connection pool", "pool", "db connections",
                    "connection count")),
        MetricInfo("disk", "%", "share of the service's data volume in use", "up", 5.0,
                   ("disk", "disk space", "storage", "volume", "disk usage", "filesystem"),
                   alarm_level=90.0),
        MetricInfo("cert_expiry", "days", "days until the service's TLS certificate expires",
                   "down", 1.0,
                   ("certificate", "cert", "tls", "ssl", "certificate expiry", "x509"),
                   alarm_level=7.0),
    )
}

LATENCY_METRICS = ("latency_p50", "latency_p95", "latency_p99")
GOLDEN_SIGNALS = ("request_rate", "error_rate", *LATENCY_METRICS)
RESOURCE_METRICS = ("cpu", "memory", "connections", "disk", "cert_expiry")

FAULT_KINDS = (
    "cpu_hog",
    "memory_leak",
    "latency_injection",
    "network_delay",
    "disk_full",
    "bad_deploy",
    "dependency_down",
    "connection_pool_exhaustion",
    "certificate_expiry",
)


def format_value(metric: str, value: float) -> str:
    """Format a value with its unit as an engineer reads it: 842 ms, 12.5 %, 3.10 req/s."""
    info = METRICS[metric]
    if abs(value) >= 100:
        number = f"{value:,.0f}"
    elif abs(value) >= 10:
        number = f"{value:.1f}"
    else:
        number = f"{value:.2f}"
    return f"{number} {info.unit}".rstrip()
