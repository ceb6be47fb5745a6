"""Alert rules evaluated on the sandbox's (noisy) series, the way Prometheus would.

A rule fires once its condition has held for its `for` duration and resolves at the first sample
where it no longer holds; gaps of up to a minute do not resolve it (keep_firing_for).

The rule set is shaped like a real shop's: cause-based thresholds (errors, latency, saturation,
certificates, OOM kills, as in kube-prometheus) beside symptom-based SLO alerts (the SRE
workbook's multiwindow, multi-burn-rate error-budget alerts on a 99.5 % availability SLO), with
a warning and a critical level where real rule sets have both. So one fault fires the handful of
related alerts an on-call engineer really gets, which is what alert correlation has to group.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from tools.sandbox.model import Alert, ServiceSpec

if TYPE_CHECKING:
    from tools.sandbox.simulator import Sandbox

KEEP_FIRING_S = 60
SLO_AVAILABILITY = 99.5  # per cent; the error budget is the rest
OOM_ALERT_S = 600  # an OOM kill is reported for 10 minutes, like increase(...[10m]) > 0

Condition = Callable[[dict[str, np.ndarray], dict[str, np.ndarray], ServiceSpec, int],
                     np.ndarray | None]


@dataclass(frozen=True)
class Rule:
    name: str
    severity: str
    metric: str
    for_s: int
    summary: str  # formatted with service=
    condition: Condition  # (values, normal clean values, spec, step s) -> bool per step, None: n/a


def trailing_mean(x: np.ndarray, n: int) -> np.ndarray:
    """Mean of the last `n` samples at each step (fewer at the start), like avg_over_time."""
    c = np.concatenate(([0.0], np.cumsum(x, dtype=float)))
    idx = np.arange(1, len(x) + 1)
    lo = np.maximum(idx - n, 0)
    return (c[idx] - c[lo]) / (idx - lo)


def burn(v: dict[str, np.ndarray], step: int, long_s: int, short_s: int,
         factor: float) -> np.ndarray:
    """The multiwindow burn-rate condition: the error ratio over both windows (requests
    weighted, as sum(rate(errors)) / sum(rate(requests))) above `factor` x the error budget."""
    errors, requests = v["error_rate"] * v["request_rate"], v["request_rate"]
    limit = factor * (100.0 - SLO_AVAILABILITY)
    out = np.ones(len(errors), dtype=bool)
    for window in (long_s, short_s):
        n = max(1, window // step)
        ratio = trailing_mean(errors, n) / np.maximum(trailing_mean(requests, n), 1e-9)
        out &= ratio > limit
    return out


def oom_killed(v: dict[str, np.ndarray], spec: ServiceSpec, step: int) -> np.ndarray:
    """True for `OOM_ALERT_S` after memory fell from above 90 % of the limit to under 60 %:
    the container was killed and restarted (what a restart counter's increase shows)."""
    mem, limit = v["memory"], spec.memory_limit_mb
    killed = np.zeros(len(mem), dtype=bool)
    killed[1:] = (mem[:-1] > 0.9 * limit) & (mem[1:] < 0.6 * limit)
    hold = max(1, OOM_ALERT_S // step)
    return trailing_mean(killed.astype(float), hold) > 0


RULES: tuple[Rule, ...] = (
    Rule("HighErrorRate", "critical", "error_rate", 120,
         "{service}: error rate above 5 % for 2 minutes",
         lambda v, n, s, step: v["error_rate"] > 5.0),
    Rule("HighLatencyP99", "warning", "latency_p99", 180,
         "{service}: p99 latency above 2.5x its normal for 3 minutes",
         lambda v, n, s, step: v["latency_p99"] > 2.5 * n["latency_p99"]),
    Rule("CPUSaturated", "warning", "cpu", 300,
         "{service}: CPU above 90 % of its limit for 5 minutes",
         lambda v, n, s, step: v["cpu"] > 90.0),
    Rule("MemoryNearLimit", "warning", "memory", 60,
         "{service}: memory above 90 % of its limit",
         lambda v, n, s, step: v["memory"] > 0.9 * s.memory_limit_mb),
    Rule("DiskAlmostFull", "critical", "disk", 60,
         "{service}: data volume more than 90 % full",
         lambda v, n, s, step: None if "disk" not in v else v["disk"] > 90.0),
    Rule("ConnectionPoolExhausted", "critical", "connections", 120,
         "{service}: every connection of its pool in use for 2 minutes",
         lambda v, n, s, step: None if "connections" not in v else v["connections"] >= s.pool_size),
    Rule("CertificateExpiringSoon", "warning", "cert_expiry", 0,
         "{service}: TLS certificate expires in less than 7 days",
         lambda v, n, s, step: v["cert_expiry"] < 7.0),
    Rule("ServiceDown", "critical", "request_rate", 60,
         "{service}: not serving requests for 1 minute",
         lambda v, n, s, step: v["request_rate"] < 0.05 * n["request_rate"]),
    Rule("ErrorBudgetBurnFast", "critical", "error_rate", 120,
         "{service}: burning its 99.5 % availability error budget 14x too fast (1 h and 5 min)",
         lambda v, n, s, step: burn(v, step, 3600, 300, 14.4)),
    Rule("ErrorBudgetBurnSlow", "warning", "error_rate", 900,
         "{service}: burning its 99.5 % availability error budget 6x too fast (6 h and 30 min)",
         lambda v, n, s, step: burn(v, step, 6 * 3600, 1800, 6.0)),
    Rule("HighLatencyP95", "warning", "latency_p95", 300,
         "{service}: p95 latency above 1.5x its normal for 5 minutes",
         lambda v, n, s, step: v["latency_p95"] > 1.5 * n["latency_p95"]),
    Rule("CertificateExpired", "critical", "cert_expiry", 0,
         "{service}: TLS certificate has expired",
         lambda v, n, s, step: v["cert_expiry"] <= 0.0),
    Rule("ContainerOOMKilled", "warning", "memory", 0,
         "{service}: container restarted after running out of memory in the last 10 minutes",
         lambda v, n, s, step: oom_killed(v, s, step)),
)


def firing_runs(cond: np.ndarray, step: int, for_s: int) -> list[tuple[int, int | None]]:
    """(first firing index, resolved index or None) for a boolean series."""
    if not cond.any():
        return []
    padded = np.concatenate(([False], cond, [False])).astype(np.int8)
    edges = np.diff(padded)
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    merged: list[list[int]] = []
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        if merged and (s - merged[-1][1]) * step <= KEEP_FIRING_S:
            merged[-1][1] = e
        else:
            merged.append([s, e])
    need = -(-for_s // step)  # steps the condition must have held
    out: list[tuple[int, int | None]] = []
    for s, e in merged:
        if s + need < e:
            out.append((s + need, e if e < len(cond) else None))
    return out


def evaluate(sandbox: Sandbox) -> list[Alert]:
    ts = sandbox.timestamps
    alerts: list[Alert] = []
    for service in sandbox.topology.names():
        spec = sandbox.topology.services[service]
        values = {m: sandbox.series(service, m, sandbox.start, sandbox.end)[1]
                  for m in sandbox.metric_names(service)}
        normal = sandbox.normal.values[service]
        for rule in RULES:
            cond = rule.condition(values, normal, spec, sandbox.step)
            if cond is None:
                continue
            for first, resolved in firing_runs(cond, sandbox.step, rule.for_s):
                alerts.append(Alert(
                    rule.name, service, rule.severity, int(ts[first]),
                    int(ts[resolved]) if resolved is not None else None,
                    rule.summary.format(service=service),
                    {"alertname": rule.name, "service": service, "severity": rule.severity,
                     "metric": rule.metric}))
    alerts.sort(key=lambda a: (a.starts_at, a.service, a.name))
    return alerts
