"""Live shadow of the metric detector: the shadow version judges the same series as the current
one while the copilot answers, off the answer's path, and the comparisons go to the state DB.

The metric tools call `ShadowRecorder.observe(...)` for every series their one-hour comparison
finds anomalous: those are the series the current detector scores in an answer (it dates their
onset), so a comparison shows exactly what promoting the shadow would change in the answers. A
daemon thread scores each series with both configurations (timing each) and appends one row per
series to `model_shadow_comparisons`; the table keeps the newest `MAX_ROWS` rows per model.
`observe` only copies the arrays onto a bounded queue (a full queue drops the item and counts
it), and every failure in the shadow is logged and swallowed: the answer never waits for the
shadow and never fails because of it.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import Boolean, Engine, Float, Integer, String, Text, delete, func, select
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Mapped, mapped_column

from infra.state import Base, session_factory

if TYPE_CHECKING:
    from tools.anomaly.robust import RobustConfig

log = logging.getLogger(__name__)

MAX_ROWS = 5000  # comparisons kept per model (the newest)
QUEUE_SIZE = 256  # series waiting for the shadow; more are dropped (and counted)
BUILTIN = "builtin"  # the version label when no fitted current version could be loaded


class ShadowComparisonRow(Base):
    __tablename__ = "model_shadow_comparisons"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model: Mapped[str] = mapped_column(String(60), index=True)
    recorded: Mapped[str] = mapped_column(String(40))  # ISO 8601 UTC
    current_version: Mapped[str] = mapped_column(String(40))
    shadow_version: Mapped[str] = mapped_column(String(40))
    tool: Mapped[str] = mapped_column(String(60))
    service: Mapped[str] = mapped_column(String(200))
    metric: Mapped[str] = mapped_column(String(60))
    window_start: Mapped[int] = mapped_column(Integer)
    window_end: Mapped[int] = mapped_column(Integer)
    direction: Mapped[str] = mapped_column(String(10))
    step_s: Mapped[float] = mapped_column(Float)
    current_flagged: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    shadow_flagged: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    current_onset: Mapped[int | None] = mapped_column(Integer, nullable=True)
    shadow_onset: Mapped[int | None] = mapped_column(Integer, nullable=True)
    current_max: Mapped[float | None] = mapped_column(Float, nullable=True)
    shadow_max: Mapped[float | None] = mapped_column(Float, nullable=True)
    current_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    shadow_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)  # the shadow failed: why


@dataclass(frozen=True)
class Judgement:
    """One detector's view of one series: an anomaly going `direction` in the window (flagged),
    its onset, the highest score in the window and the time the scoring took."""

    flagged: bool
    onset: int | None
    max_score: float
    ms: float


def judge(metric: str, timestamps: np.ndarray, values: np.ndarray, window_start: int,
          window_end: int, direction: str, config: RobustConfig | None) -> Judgement:
    """Score a series the way the copilot's metric tools do
    (`tools.anomaly.analysis.detector_events`)."""
    from tools.anomaly.analysis import detector_events, first_onset

    started = time.perf_counter()
    ts, vs = np.asarray(timestamps, dtype=float), np.asarray(values, dtype=float)
    ok = np.isfinite(vs)
    ts, vs = ts[ok], vs[ok]
    found = detector_events(metric, ts, vs, config)
    if found is None:
        onset, top = None, 0.0
    else:
        scores, events = found
        onset = first_onset(events, direction, window_start, window_end)
        inside = (ts >= window_start) & (ts < window_end)
        top = float(scores.score[inside].max()) if inside.any() else 0.0
    return Judgement(onset is not None, onset, round(top, 4),
                     (time.perf_counter() - started) * 1000)


@dataclass(frozen=True)
class Observation:
    tool: str
    service: str
    metric: str
    timestamps: np.ndarray
    values: np.ndarray
    window_start: int
    window_end: int
    direction: str


class ShadowStore:
    """The comparisons table: append (pruning to the newest MAX_ROWS per model) and read."""

    def __init__(self, engine: Engine, max_rows: int = MAX_ROWS) -> None:
        # Only this table, and at once: `ensure_tables` (every table) from the worker thread
        # would race the answer's own first `ensure_tables` in a new database.
        table = ShadowComparisonRow.__table__
        try:
            table.create(engine, checkfirst=True)  # type: ignore[attr-defined]
        except (OperationalError, ProgrammingError):  # another process created it meanwhile
            table.create(engine, checkfirst=True)  # type: ignore[attr-defined]
        self._sessions = session_factory(engine)
        self.max_rows = max_rows

    def append(self, rows: list[ShadowComparisonRow]) -> None:
        if not rows:
            return
        with self._sessions.begin() as session:
            session.add_all(rows)
            session.flush()
            for model in {r.model for r in rows}:
                newest = session.scalar(select(func.max(ShadowComparisonRow.id))
                                        .where(ShadowComparisonRow.model == model)) or 0
                session.execute(delete(ShadowComparisonRow).where(
                    ShadowComparisonRow.model == model,
                    ShadowComparisonRow.id <= newest - self.max_rows))

    def rows(self, model: str, current: str | None = None,
             shadow: str | None = None) -> list[ShadowComparisonRow]:
        query = select(ShadowComparisonRow).where(ShadowComparisonRow.model == model)
        if current is not None:
            query = query.where(ShadowComparisonRow.current_version == current)
        if shadow is not None:
            query = query.where(ShadowComparisonRow.shadow_version == shadow)
        with self._sessions() as session:
            return list(session.scalars(query.order_by(ShadowComparisonRow.id)).all())


class ShadowRecorder:
    """What the metric tools hold: `observe` queues a series; a daemon thread judges it with
    the current and the shadow configuration and stores the comparison."""

    def __init__(self, engine: Engine, model: str, current_version: str,
                 current: RobustConfig | None, shadow_version: str, shadow: RobustConfig,
                 queue_size: int = QUEUE_SIZE) -> None:
        self._store = ShadowStore(engine)  # the table exists before any answer runs
        self.model, self.current_version, self.shadow_version = model, current_version, \
            shadow_version
        self.current, self.shadow = current, shadow
        self._queue: queue.Queue[Observation] = queue.Queue(maxsize=queue_size)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.dropped = 0  # series the full queue turned away
        self.failures = 0  # series the shadow (or storing its result) failed on

    def observe(self, tool: str, service: str, metric: str, timestamps: np.ndarray,
                values: np.ndarray, window_start: int, window_end: int, direction: str) -> None:
        """Queue one series for the shadow; returns at once and never raises."""
        try:
            item = Observation(tool, service, metric, np.array(timestamps, dtype=float),
                               np.array(values, dtype=float), int(window_start),
                               int(window_end), direction)
            self._ensure_worker()
            self._queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1
        except Exception:  # the shadow must never break an answer: log and go on
            self.failures += 1
            log.exception("shadow %s %s: could not queue a series", self.model,
                          self.shadow_version)

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until every queued series is judged and stored; False when time ran out."""
        deadline = time.monotonic() + timeout_s
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def _ensure_worker(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name=f"shadow-{self.model}")
                self._thread.start()
                atexit.register(self.flush, 5.0)  # a one-shot `ask` records its comparisons

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < 64:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._store_batch([self._compare(item) for item in batch])
            except Exception:  # keep the worker alive: the next series may store fine
                self.failures += len(batch)
                log.exception("shadow %s %s: could not store comparisons", self.model,
                              self.shadow_version)
            finally:
                for _ in batch:
                    self._queue.task_done()

    def _store_batch(self, rows: list[ShadowComparisonRow]) -> None:
        self._store.append(rows)

    def _compare(self, item: Observation) -> ShadowComparisonRow:
        step = float(np.median(np.diff(item.timestamps))) if len(item.timestamps) > 1 else 0.0
        row = ShadowComparisonRow(
            model=self.model, recorded=datetime.now(UTC).isoformat(timespec="seconds"),
            current_version=self.current_version, shadow_version=self.shadow_version,
            tool=item.tool, service=item.service, metric=item.metric,
            window_start=item.window_start, window_end=item.window_end,
            direction=item.direction, step_s=step)
        args = (item.metric, item.timestamps, item.values, item.window_start, item.window_end,
                item.direction)
        cur = judge(*args, self.current)
        row.current_flagged, row.current_onset = cur.flagged, cur.onset
        row.current_max, row.current_ms = cur.max_score, cur.ms
        try:
            sha = judge(*args, self.shadow)
        except Exception as exc:  # a broken shadow is recorded and reported, never raised
            self.failures += 1
            log.warning("shadow %s %s failed on %s %s: %s", self.model, self.shadow_version,
                        item.service, item.metric, exc)
            row.error = f"{type(exc).__name__}: {exc}"[:500]
            return row
        row.shadow_flagged, row.shadow_onset = sha.flagged, sha.onset
        row.shadow_max, row.shadow_ms = sha.max_score, sha.ms
        return row


def agrees(row: ShadowComparisonRow, tolerance_samples: int = 2) -> bool:
    """Both versions flag the series (or neither does) and date it within a few samples."""
    if row.error is not None or row.current_flagged != row.shadow_flagged:
        return False
    if row.current_onset is None or row.shadow_onset is None:
        return True
    return abs(row.current_onset - row.shadow_onset) <= tolerance_samples * max(row.step_s, 1.0)


def _median(values: list[float]) -> float | None:
    return round(float(np.median(values)), 3) if values else None


def shadow_report(rows: list[ShadowComparisonRow], current: str | None, shadow: str | None,
                  limit: int = 20) -> dict[str, Any]:
    """What an operator reads before `model promote`: agreement, disagreements, latency."""
    judged = [r for r in rows if r.error is None]
    disagreements = [r for r in judged if not agrees(r)]
    cur_ms = [r.current_ms for r in judged if r.current_ms is not None]
    sha_ms = [r.shadow_ms for r in judged if r.shadow_ms is not None]
    extra = [s - c for s, c in zip(sha_ms, cur_ms, strict=True)]
    return {
        "current": current, "shadow": shadow, "comparisons": len(rows),
        "judged": len(judged), "shadow_errors": len(rows) - len(judged),
        "last_error": next((r.error for r in reversed(rows) if r.error), None),
        "agreement": round(1 - len(disagreements) / len(judged), 4) if judged else None,
        "flag_agreement": (round(sum(r.current_flagged == r.shadow_flagged for r in judged)
                                 / len(judged), 4) if judged else None),
        "median_current_ms": _median(cur_ms), "median_shadow_ms": _median(sha_ms),
        "median_extra_ms": _median(extra),
        "p95_shadow_ms": round(float(np.quantile(sha_ms, 0.95)), 3) if sha_ms else None,
        "disagreements": [{
            "recorded": r.recorded, "service": r.service, "metric": r.metric,
            "window": [r.window_start, r.window_end], "direction": r.direction,
            "current": {"flagged": r.current_flagged, "onset": r.current_onset,
                        "max_score": r.current_max},
            "shadow": {"flagged": r.shadow_flagged, "onset": r.shadow_onset,
                       "max_score": r.shadow_max},
        } for r in disagreements[-limit:]],
        "disagreement_count": len(disagreements),
    }
