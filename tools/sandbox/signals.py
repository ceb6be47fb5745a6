"""Noise-free signals of the whole shop: daily load, each service's baseline, faults, propagation.

`clean_signals(scenario, faults)` computes every metric of every service with the given faults
injected (pass `()` for the shop without faults). Callees are computed before their callers so a
caller's latency includes its callees' latency (as its callers see it) and its errors include the
share of calls to failing callees. Pure numpy, no randomness: noise is added by the simulator.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from tools.sandbox.faults import OwnSignals, apply_fault
from tools.sandbox.model import ServiceSpec
from tools.sandbox.scenario import Fault, Scenario
from tools.sandbox.topology import Topology, stable_fraction

LAT_RATIOS = (1.0, 2.2, 3.8)  # own p50 : p95 : p99
LATENCY = ("latency_p50", "latency_p95", "latency_p99")


@dataclass(frozen=True)
class Baseline:
    """Constants of one service's normal behaviour, fixed by its name (and the seed for certs)."""

    err: float  # %
    cpu: float  # % at mean load
    memory: float  # MB
    disk: float  # % at the start of the data
    cert_days: float  # days left at the start of the data


def baseline(spec: ServiceSpec, seed: int) -> Baseline:
    f = stable_fraction
    return Baseline(
        err=0.05 + 0.2 * f(spec.name, "err"),
        cpu=18.0 + 22.0 * f(spec.name, "cpu"),
        memory=spec.memory_limit_mb * (0.35 + 0.15 * f(spec.name, "mem")),
        disk=62.0 + 4.0 * f(spec.name, "disk"),
        cert_days=20.0 + 60.0 * f(spec.name, "cert", seed),
    )


def daily_load(t: np.ndarray) -> np.ndarray:
    """Traffic relative to the mean: low around 03:00 UTC, high around 15:00, lower at weekends."""
    hour = (t % 86400) / 3600.0
    day = (t / 86400.0 + 3.0) % 7.0  # 0 = Monday 00:00
    daily = 1.0 + 0.35 * np.cos(2 * np.pi * (hour - 15.0) / 24.0)
    weekend = 0.5 * (1.0 + np.cos(2 * np.pi * (day - 6.0) / 7.0))
    return daily * (1.0 - 0.08 * weekend)


def metric_names(spec: ServiceSpec) -> list[str]:
    names = ["request_rate", "error_rate", *LATENCY, "cpu", "memory"]
    if spec.pool_size > 0:
        names.append("connections")
    if spec.has_disk:
        names.append("disk")
    names.append("cert_expiry")
    return names


@dataclass
class ShopSignals:
    """Every metric of every service, plus where each service's errors come from."""

    values: dict[str, dict[str, np.ndarray]]
    # service -> {"": its own errors, callee: errors from calls to that callee} (percentage points)
    error_sources: dict[str, dict[str, np.ndarray]]
    # what callers see when they call the service (ms per percentile, % failing)
    seen_latency: dict[str, list[np.ndarray]]
    seen_errors: dict[str, np.ndarray]


def own_signals(spec: ServiceSpec, base: Baseline, t: np.ndarray, load: np.ndarray,
                start: int) -> OwnSignals:
    n = len(t)
    own_p50 = spec.base_latency_ms * (1.0 + 0.25 * (load - 1.0))
    days = (t - start) / 86400.0
    return OwnSignals(
        rate=spec.base_rps * load,
        err=np.full(n, base.err),
        lat=[own_p50 * k for k in LAT_RATIOS],
        cpu=base.cpu * load,
        memory=base.memory * (1.0 + 0.01 * days),
        cert=base.cert_days - days,
        connections=spec.pool_size * (0.2 + 0.25 * load) if spec.pool_size > 0 else None,
        disk=base.disk + 2.5 * days if spec.has_disk else None,
    )


def clean_signals(scenario: Scenario, faults: Iterable[Fault],
                  t: np.ndarray | None = None) -> ShopSignals:
    """The shop's noise-free metrics at times `t` (default: every step) with `faults` injected."""
    topo: Topology = scenario.topology
    if t is None:
        t = np.arange(scenario.start, scenario.end, scenario.step, dtype=np.int64)
    tf = t.astype(float)
    load = daily_load(tf)
    faults = list(faults)
    values: dict[str, dict[str, np.ndarray]] = {}
    sources: dict[str, dict[str, np.ndarray]] = {}
    seen_lat: dict[str, list[np.ndarray]] = {}
    seen_err: dict[str, np.ndarray] = {}
    for name in topo.order:
        spec = topo.services[name]
        base = baseline(spec, scenario.seed)
        own = own_signals(spec, base, tf, load, scenario.start)
        for f in faults:
            if f.service == name:
                apply_fault(f.kind, spec, own, tf, f.start, f.end, f.intensity, base.memory)
        lat = list(own.lat)
        src = {"": own.err}
        err = own.err.copy()
        for callee in spec.calls:
            w = topo.call_weight(name, callee)
            lat = [a + w * b for a, b in zip(lat, seen_lat[callee], strict=True)]
            src[callee] = w * seen_err[callee]
            err = err + src[callee]
        err = np.clip(err, 0.0, 100.0)
        seen_err[name] = np.clip(err + (own.seen_err_extra if own.seen_err_extra is not None
                                        else 0.0), 0.0, 100.0)
        seen_lat[name] = ([a + b for a, b in zip(lat, own.seen_lat_extra, strict=True)]
                          if own.seen_lat_extra else lat)
        out = {"request_rate": own.rate, "error_rate": err,
               **dict(zip(LATENCY, lat, strict=True)),
               "cpu": np.clip(own.cpu, 0.0, 100.0), "memory": own.memory}
        if own.connections is not None:
            out["connections"] = np.clip(own.connections, 0.0, spec.pool_size)
        if own.disk is not None:
            out["disk"] = np.clip(own.disk, 0.0, 100.0)
        out["cert_expiry"] = np.maximum(own.cert, 0.0)
        values[name] = out
        sources[name] = src
    return ShopSignals(values, sources, seen_lat, seen_err)
