"""Whether a backend server is worth asking right now: a small circuit breaker per server, the
memory of one answer, and the state of every breaker for status lines and metrics.

A `Breaker` is closed (reads go through) until a read fails for a reason on the server's side
(unreachable, timed out, 5xx, a broken or malformed reply). It is then open: for `cooldown_s`
every read fails at once with that failure's line. After the cool-down it is half-open: the
next read is the probe and asks again, while the reads that come meanwhile still fail at once;
the probe's success closes the breaker, its failure opens it for another cool-down. A 4xx is
the server's verdict on the request, so it counts as the server being up.

`answer_scope()` (or `@one_answer` on an answer method) adds the rule for one answer: a server
that failed once, or was refused by its breaker, is not asked again in the same answer, however
long the answer takes (an LLM-mode answer can outlast a cool-down) and whatever other answers
find meanwhile. The scope lives in a context variable: threads that run an answer's tools must
be started with `contextvars.copy_context().run` to share it; within it, `one_read_at_a_time`
keeps reads of one server in turn so the rule holds when tools run side by side.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ParamSpec, TypeVar

from tools.base import BackendError

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_COOLDOWN_S = 15.0


class BreakerState(StrEnum):
    CLOSED = "closed"  # reads go through
    OPEN = "open"  # the server failed within the cool-down: reads fail at once
    HALF_OPEN = "half_open"  # the cool-down is over: the next read asks again


@dataclass(frozen=True)
class SourceHealth:
    """One server's breaker as a status line or a metric can show it."""

    system: str  # "Prometheus", "Loki", ...
    url: str
    state: BreakerState
    reason: str = ""  # the last failure's line; empty while closed
    failed_s_ago: float | None = None  # seconds since the last failure
    failures: int = 0  # failures in a row (0 while closed)

    def line(self) -> str:
        where = f"{self.system} at {self.url}"
        if self.state is BreakerState.CLOSED:
            return f"{where}: ok"
        ago = f", {self.failed_s_ago:.0f} s ago" if self.failed_s_ago is not None else ""
        return f"{where}: {self.state.value.replace('_', '-')} ({self.reason}{ago})"


def _again(error: BackendError, note: str) -> BackendError:
    """The same failure, of the same type, with a note on why it was not asked."""
    return type(error)(f"{error} ({note})")


@dataclass(eq=False)  # compared and hashed by identity: the answer scope keys on it
class Breaker:
    """One server's last failure, shared by every reader of that server (Prometheus' metrics,
    alerts and discovery). Thread-safe."""

    cooldown_s: float = DEFAULT_COOLDOWN_S
    clock: Callable[[], float] = time.monotonic
    system: str = ""
    url: str = ""
    _down: BackendError | None = field(default=None, repr=False)
    _since: float = field(default=0.0, repr=False)
    _failures: int = field(default=0, repr=False)
    _probing: bool = field(default=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def admit(self) -> None:
        """Let a read go (as the probe when half-open), or raise the last failure at once."""
        with self._lock:
            if self._down is None:
                return
            waited = self.clock() - self._since
            if waited < self.cooldown_s:
                raise _again(self._down, f"{waited:.0f} s ago; not asked again for "
                                         f"{self.cooldown_s - waited:.0f} s")
            if self._probing:
                raise _again(self._down, f"{waited:.0f} s ago; another read is asking again")
            self._probing = True

    def failed(self, error: BackendError) -> None:
        with self._lock:
            self._down, self._since = error, self.clock()
            self._failures += 1
            self._probing = False

    def succeeded(self) -> None:
        with self._lock:
            self._down, self._failures, self._probing = None, 0, False

    def released(self) -> None:
        """The admitted read ended without a verdict on the server (a bug, an interrupt)."""
        with self._lock:
            self._probing = False

    def state(self) -> BreakerState:
        return self.health().state

    def health(self) -> SourceHealth:
        with self._lock:
            if self._down is None:
                return SourceHealth(self.system, self.url, BreakerState.CLOSED)
            waited = self.clock() - self._since
            state = BreakerState.OPEN if waited < self.cooldown_s else BreakerState.HALF_OPEN
            return SourceHealth(self.system, self.url, state, str(self._down), waited,
                                self._failures)


@dataclass
class BackendHealth:
    """The breakers of one runtime, one per server, so readers of a server share its verdict
    and `states()` can tell a status line or a metrics endpoint how every source is doing."""

    cooldown_s: float = DEFAULT_COOLDOWN_S
    clock: Callable[[], float] = time.monotonic
    _breakers: dict[tuple[str, str], Breaker] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def breaker(self, system: str, url: str) -> Breaker:
        """The breaker of `system` at `url` (made on first use, then shared)."""
        key = (system, str(url).rstrip("/"))
        with self._lock:
            if key not in self._breakers:
                self._breakers[key] = Breaker(self.cooldown_s, self.clock, *key)
            return self._breakers[key]

    def states(self) -> list[SourceHealth]:
        with self._lock:
            breakers = list(self._breakers.values())
        return [b.health() for b in breakers]


# -- one answer

_FAILED: ContextVar[dict[Breaker, BackendError] | None] = ContextVar(
    "opscopilot_backend_failures_of_this_answer", default=None)


_SERIAL: ContextVar[tuple[threading.Lock, dict[Breaker, threading.RLock]] | None] = ContextVar(
    "opscopilot_backend_reads_of_this_answer", default=None)


@contextmanager
def answer_scope() -> Iterator[None]:
    """Within the block, a server that failed once is not asked again. Nested scopes (an LLM
    answer falling back to the deterministic one) share the outer scope's memory."""
    if _FAILED.get() is not None:
        yield
        return
    token = _FAILED.set({})
    serial = _SERIAL.set((threading.Lock(), {}))
    try:
        yield
    finally:
        _SERIAL.reset(serial)
        _FAILED.reset(token)


@contextmanager
def one_read_at_a_time(breaker: Breaker) -> Iterator[None]:
    """Within one answer, reads of one server go one after another, although the answer's tools
    may run side by side: a failure one read meets is seen by the next before it asks, so the
    answer still asks a failing server once. Reads of different servers overlap."""
    scope = _SERIAL.get()
    if scope is None:
        yield
        return
    guard, locks = scope
    with guard:
        lock = locks.setdefault(breaker, threading.RLock())
    with lock:
        yield


def one_answer(method: Callable[P, R]) -> Callable[P, R]:
    """Decorate an answer method: everything it reads runs in one `answer_scope()`."""

    @functools.wraps(method)
    def within(*args: P.args, **kwargs: P.kwargs) -> R:
        with answer_scope():
            return method(*args, **kwargs)

    return within


def failed_in_this_answer(breaker: Breaker) -> BackendError | None:
    """The failure this answer already met at the breaker's server, if any."""
    failed = _FAILED.get()
    return None if failed is None else failed.get(breaker)


def remember_failure(breaker: Breaker, error: BackendError) -> None:
    """Note the failure for the rest of this answer (nothing outside an answer scope)."""
    failed = _FAILED.get()
    if failed is not None:
        failed.setdefault(breaker, error)
