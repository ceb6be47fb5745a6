"""What each fault kind does to the service it is injected into (its own, noise-free signals).

`apply_fault` changes an `OwnSignals` in place: the faulty service's own processing latency,
errors, load and resources, plus what its callers see when they call it (`seen_err_extra`,
`seen_lat_extra`: failed handshakes, timeouts). Propagation to callers happens in `signals.py`.
All arrays are float64, one value per step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tools.sandbox.model import ServiceSpec

RESTART_S = 30  # an OOM-killed container is down this long
LEAK_MB_PER_MIN = 40.0  # memory_leak growth at intensity 1
TIMEOUT_MS = (250.0, 800.0, 1000.0)  # what callers wait (p50, p95, p99) on a service that is down


@dataclass
class OwnSignals:
    """One service's own behaviour before its dependencies' latency and errors are added."""

    rate: np.ndarray
    err: np.ndarray  # % of requests failing in the service itself
    lat: list[np.ndarray]  # own processing p50, p95, p99 (ms)
    cpu: np.ndarray
    memory: np.ndarray
    cert: np.ndarray
    connections: np.ndarray | None = None
    disk: np.ndarray | None = None
    seen_err_extra: np.ndarray | None = None  # extra % failing as seen by callers
    seen_lat_extra: list[np.ndarray] = field(default_factory=list)  # extra ms seen by callers

    def add_seen_err(self, extra: np.ndarray) -> None:
        self.seen_err_extra = extra if self.seen_err_extra is None else self.seen_err_extra + extra

    def add_seen_lat(self, extra: list[np.ndarray]) -> None:
        self.seen_lat_extra = extra if not self.seen_lat_extra else [
            a + b for a, b in zip(self.seen_lat_extra, extra, strict=True)]


def active_mask(t: np.ndarray, start: int, end: int) -> np.ndarray:
    return ((t >= start) & (t < end)).astype(float)


def ramp(t: np.ndarray, start: int, end: int, seconds: float = 60.0) -> np.ndarray:
    """0 before the fault, rising to 1 over `seconds`, 0 again after it ends."""
    return np.clip((t - start) / seconds, 0.0, 1.0) * (t < end)


def leak_cycle(spec: ServiceSpec, base_mb: float, intensity: float) -> tuple[float, float]:
    """(seconds to fill memory up to the limit, seconds of one fill + restart cycle)."""
    rate = LEAK_MB_PER_MIN * intensity / 60.0
    fill = max(spec.memory_limit_mb - base_mb, 1.0) / rate
    return fill, fill + RESTART_S


def restart_times(spec: ServiceSpec, base_mb: float, start: int, end: int,
                  intensity: float) -> list[int]:
    """When a leaking service is OOM-killed (unix seconds), for logs and events."""
    fill, cycle = leak_cycle(spec, base_mb, intensity)
    out, t = [], start + fill
    while t < end:
        out.append(int(t))
        t += cycle
    return out


def apply_fault(kind: str, spec: ServiceSpec, own: OwnSignals, t: np.ndarray, start: int,
                end: int, intensity: float, base_mb: float) -> None:
    """Inject one fault of `kind` over [start, end) into `own`, scaled by `intensity`."""
    r = ramp(t, start, end)
    i = intensity
    full = min(1.0, i)
    if kind == "cpu_hog":
        own.cpu = own.cpu + (min(99.0, 95.0 + 3.0 * i) - own.cpu) * r * full
        own.lat = [x * (1 + 3.0 * i * r) for x in own.lat]
    elif kind == "memory_leak":
        _memory_leak(spec, own, t, start, end, i, base_mb)
    elif kind == "latency_injection":
        own.lat = [x + add * i * r for x, add in zip(own.lat, (300.0, 380.0, 450.0), strict=True)]
    elif kind == "network_delay":
        own.lat = [x + add * i * r for x, add in zip(own.lat, (120.0, 260.0, 420.0), strict=True)]
        own.err = own.err + 4.0 * i * r
    elif kind == "disk_full":
        assert own.disk is not None
        fill = np.clip((t - start) / (240.0 / i), 0.0, 1.0) * (t < end)
        own.disk = own.disk + (100.0 - own.disk) * fill
        is_full = (fill >= 0.995).astype(float)
        own.err = own.err + 30.0 * full * is_full
        own.lat = [x * (1 + 0.3 * i * is_full) for x in own.lat]
    elif kind == "bad_deploy":
        own.err = own.err + 25.0 * i * r
        own.lat = [x * (1 + 0.2 * i * r) for x in own.lat]  # mild: errors are the signal
    elif kind == "dependency_down":
        down = r * full
        own.rate = own.rate * (1 - 0.98 * down)
        own.cpu = own.cpu * (1 - 0.95 * down)
        own.memory = own.memory * (1 - 0.9 * down)
        if own.connections is not None:
            own.connections = own.connections * (1 - down)
        own.add_seen_err(100.0 * down)
        own.add_seen_lat([ms * down for ms in TIMEOUT_MS])
    elif kind == "connection_pool_exhaustion":
        assert own.connections is not None
        own.connections = own.connections + (spec.pool_size - own.connections) * r
        own.lat = [x + add * i * r for x, add in zip(own.lat, (300.0, 1500.0, 4000.0),
                                                      strict=True)]
        own.err = own.err + 12.0 * i * r
    elif kind == "certificate_expiry":
        # The certificate was counting down to the fault's start (its renewal failed) and is
        # replaced when the fault ends.
        before = t < start
        during = (t >= start) & (t < end)
        own.cert = np.where(before, (start - t) / 86400.0,
                            np.where(during, 0.0, 90.0 - (t - end) / 86400.0))
        own.rate = own.rate * (1 - 0.9 * full * during)
        own.add_seen_err(100.0 * full * during)
    else:  # guarded by scenario validation
        raise ValueError(f"unknown fault kind {kind!r}")


def _memory_leak(spec: ServiceSpec, own: OwnSignals, t: np.ndarray, start: int, end: int,
                 i: float, base_mb: float) -> None:
    fill, cycle = leak_cycle(spec, base_mb, i)
    active = active_mask(t, start, end)
    phase = np.where(t >= start, (t - start) % cycle, 0.0)
    filling = phase < fill
    leaked = (spec.memory_limit_mb - base_mb) * np.clip(phase / fill, 0.0, 1.0)
    restarting = (~filling) * active
    own.memory = np.where(active > 0, np.where(filling, own.memory + leaked, base_mb * 0.5),
                          own.memory)
    # Errors while the container is down, and a burst while it warms up again.
    since_restart = phase - fill
    own.err = own.err + 90.0 * restarting
    warming = ((since_restart < 0) & (t - start >= cycle) & (phase < 60.0)) * active
    own.err = own.err + 10.0 * warming
    # Garbage collection thrashes as the heap nears the limit: latency up to x3 just before a kill.
    pressure = np.clip(leaked / max(spec.memory_limit_mb - base_mb, 1.0), 0.0, 1.0) * active
    thrash = np.clip((pressure - 0.6) / 0.4, 0.0, 1.0)
    own.lat = [x * (1 + 2.0 * thrash**2) for x in own.lat]
