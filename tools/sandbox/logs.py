"""Sampled log streams of the simulated shop, generated on demand and deterministic.

Lines are generated 15 minutes (per service) at a time from a generator seeded by the scenario seed,
the service and the time, so a line's existence never depends on the window asked for. A handful
of lines per step per service (more under load, none from a service that is down); the share of
ERROR lines follows the service's error_rate series, and each error line is attributed to where
the errors come from: the service's own fault, or a callee it calls (logged as a failed call).
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

import numpy as np

from tools.sandbox.faults import restart_times
from tools.sandbox.log_templates import TEMPLATES, LineContext, iso, render, template_id
from tools.sandbox.model import LogRecord
from tools.sandbox.signals import baseline

if TYPE_CHECKING:
    from tools.sandbox.simulator import Sandbox

LEVELS = ("DEBUG", "INFO", "WARN", "ERROR")
BUCKET_S = 900
LINES_PER_STEP = 3.0
WARN_SHARE = 0.015
FAULT_WARN_SHARE = 0.12
PORTS = {"redis": 6379, "postgres": 5432}
_CACHE_LIMIT = 512


def callee_address(sandbox: Sandbox, callee: str) -> str:
    index = sandbox.topology.names().index(callee)
    kind = sandbox.topology.services[callee].kind
    port = PORTS.get(callee, 6379 if kind == "cache" else 5432 if kind == "database" else 8080)
    return f"10.0.{index}.7:{port}"


class LogGenerator:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sb = sandbox
        self._cache: dict[tuple[str, int], list[LogRecord]] = {}

    def search(self, services: list[str], start: int, end: int, level: str | None,
               contains: str | None, limit: int | None) -> list[LogRecord]:
        sb = self.sb
        start, end = max(start, sb.start), min(end, sb.end)
        if end <= start:
            return []
        if level is not None and level.upper() not in LEVELS:
            raise ValueError(f"log level {level!r} is not one of {', '.join(LEVELS)}")
        min_level = LEVELS.index(level.upper()) if level else 0
        needle = contains.lower() if contains else None
        out: list[LogRecord] = []
        for service in services:
            for b in range((start - sb.start) // BUCKET_S, (end - 1 - sb.start) // BUCKET_S + 1):
                for rec in self.bucket(service, b):
                    if (start <= rec.ts < end and LEVELS.index(rec.level) >= min_level
                            and (needle is None or needle in rec.message.lower())):
                        out.append(rec)
        out.sort(key=lambda r: (r.ts, r.service))
        return out[-limit:] if limit is not None and limit >= 0 else out

    def bucket(self, service: str, b: int) -> list[LogRecord]:
        key = (service, b)
        if key not in self._cache:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = self._generate(service, b)
        return self._cache[key]

    def _generate(self, service: str, b: int) -> list[LogRecord]:
        sb = self.sb
        sc = sb.scenario
        spec = sb.topology.services[service]
        lo_t = sb.start + b * BUCKET_S
        hi_t = min(lo_t + BUCKET_S, sb.end)
        lo, hi = sb.index_range(lo_t, hi_t)
        rng = np.random.default_rng([sc.seed, zlib.crc32(service.encode()), b, 17])
        clean = sb.clean.values[service]
        lam = np.clip(LINES_PER_STEP * clean["request_rate"][lo:hi] / spec.base_rps, 0.0, 8.0)
        counts = rng.poisson(lam)
        steps = np.repeat(np.arange(lo, hi), counts)
        n = len(steps)
        ts = sb.timestamps[steps] + rng.integers(0, sb.step, n)
        order = np.argsort(ts, kind="stable")
        ts, steps = ts[order], steps[order]
        ints = rng.integers(0, 2**62, size=(n, 4)).tolist()
        trace_ints = rng.integers(0, 2**63, size=(n, 2)).tolist()
        u_level, u_src, u_tpl = rng.random(n), rng.random(n), rng.integers(0, 997, n).tolist()

        values = sb.observed[service]
        err_share = values["error_rate"][steps] / 100.0
        sources = sb.clean.error_sources[service]
        names = list(sources)
        weights = np.stack([sources[k][steps] for k in names]) if n else np.zeros((1, 0))
        cum = np.cumsum(weights, axis=0) / np.maximum(weights.sum(axis=0), 1e-12)
        src_index = (u_src[None, :] > cum).sum(axis=0).clip(0, len(names) - 1)
        p50, p99 = values["latency_p50"][steps], values["latency_p99"][steps]
        cert = clean["cert_expiry"][steps]

        own_faults = [f for f in sc.faults if f.service == service]
        callee_faults = {f.service: f for f in sc.faults if f.service in spec.calls}
        group_info = service if service in TEMPLATES else "generic"
        base_extra = {"limit": f"{spec.memory_limit_mb:.0f}", "pool": str(spec.pool_size)}

        records: list[LogRecord] = []
        for k in range(n):
            t = int(ts[k])
            step = int(steps[k])
            fault = next((f for f in own_faults if f.start <= t < f.end), None)
            callee = ""
            if u_level[k] < err_share[k]:
                level = "ERROR"
                src = names[int(src_index[k])]
                if src:
                    callee = src
                    cf = callee_faults.get(src)
                    kind = cf.kind if cf is not None and cf.start <= t < cf.end else "generic"
                    group = f"callee_{kind}"
                elif fault is not None:
                    group = f"own_{fault.kind}"
                else:
                    group = "error"
            elif u_level[k] < err_share[k] + (FAULT_WARN_SHARE if fault else WARN_SHARE):
                level = "WARN"
                group = f"warn_{fault.kind}" if fault else "warn"
                if fault and fault.kind == "certificate_expiry":
                    group = "warn_cert_expired"
                if not fault and cert[k] < 7:
                    group = "warn_certificate_expiry"
            else:
                level, group = "INFO", group_info
            templates = TEMPLATES[group]
            index = u_tpl[k] % len(templates)
            if group == "warn" and not spec.calls:
                index = 0
            if callee == "" and spec.calls:
                callee = spec.calls[ints[k][0] % len(spec.calls)]
            extra = base_extra
            if group.startswith(("warn_", "own_", "callee_certificate")):
                extra = {**base_extra, **self._state(service, step, t, callee)}
            a, bb, c, d = ints[k]
            ctx = LineContext(a, bb, c, d, t, service, callee,
                              callee_address(sb, callee) if callee else "",
                              float(p50[k]), float(p99[k]), extra)
            h1, h2 = trace_ints[k]
            records.append(LogRecord(t, service, level, template_id(group, index),
                                     render(templates[index], ctx), f"{h1:016x}{h2:016x}"))
        records.extend(self._lifecycle(service, lo_t, hi_t))
        records.sort(key=lambda r: r.ts)
        return records

    def _state(self, service: str, step: int, t: int, callee: str) -> dict[str, str]:
        sb = self.sb
        v = sb.clean.values[service]
        state = {"heap": f"{v['memory'][step]:.0f}", "days": f"{v['cert_expiry'][step]:.1f}"}
        if "disk" in v:
            state["disk"] = f"{v['disk'][step]:.1f}"
        else:
            state["disk"] = "0"
        cf = next((f for f in sb.scenario.faults if f.kind == "certificate_expiry"
                   and f.service in (callee, service)), None)
        if cf is not None:
            state["expired_iso"] = iso(cf.start)
        return state

    def _lifecycle(self, service: str, lo_t: int, hi_t: int) -> list[LogRecord]:
        """Lines at known moments: deploys and config changes, OOM kills, a service going down."""
        sb = self.sb
        spec = sb.topology.services[service]
        out = []
        ctx = LineContext(0, 0, 0, 0, lo_t, service, "", "", 0.0, 0.0, {})
        for e in sb.events(lo_t, hi_t, service):
            ctx.extra = {"change": e.description, "version": e.version}
            out.append(LogRecord(e.ts, service, "INFO", template_id("lifecycle", 0),
                                 render(TEMPLATES["lifecycle"][0], ctx)))
            if e.kind == "deploy":
                out.append(LogRecord(e.ts + 20, service, "INFO", template_id("lifecycle", 1),
                                     render(TEMPLATES["lifecycle"][1], ctx)))
        for f in sb.scenario.faults:
            if f.service != service:
                continue
            if f.kind == "memory_leak":
                base_mb = baseline(spec, sb.scenario.seed).memory
                ctx.extra = {"limit": f"{spec.memory_limit_mb:.0f}", "version": "(restart)"}
                for t in restart_times(spec, base_mb, f.start, min(f.end, sb.end), f.intensity):
                    if lo_t <= t < hi_t:
                        out.append(LogRecord(t, service, "ERROR", template_id("oom_kill", 0),
                                             render(TEMPLATES["oom_kill"][0], ctx)))
            if f.kind == "dependency_down" and lo_t <= f.start < hi_t:
                out.append(LogRecord(f.start, service, "INFO", template_id("lifecycle", 2),
                                     render(TEMPLATES["lifecycle"][2], ctx)))
        return out
