"""Where answers are computed: a bounded pool of worker threads apart from Bolt's listener
executor, so acks, commands, clicks and placeholders never wait behind a backlog of answers.

Jobs are taken fairly per channel (round robin: a channel that asks 100 questions does not
hold up the next channel's one), answers before their follow-ups (charts wait while any
answer waits), and one at a time per thread (a follow-up sees the context its predecessor
saved). Nothing queued is dropped: `close()` runs what is waiting before the workers stop, and
`ahead(channel)` says how many answers a new question waits for, so the placeholder can say
"busy" instead of leaving people in silence.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import os
import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from infra import telemetry

log = logging.getLogger(__name__)

ANSWER = 0  # priorities: answers first,
FOLLOW_UP = 1  # then what can wait (charts) when no answer is waiting


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


@dataclass
class _Job:
    run: Callable[[], object]
    serial: str | None  # jobs with the same key never run at once (one Slack thread)


class AnswerPool:
    """`submit(channel, job)` runs `job()` on one of `workers` threads, fairly per channel."""

    def __init__(self, workers: int, name: str = "slack-answer") -> None:
        if workers < 1:
            raise ValueError("an answer pool needs at least one worker")
        self.workers = workers
        self._name = name
        self._cond = threading.Condition()
        self._lanes: tuple[OrderedDict[str, deque[_Job]], ...] = (OrderedDict(), OrderedDict())
        self._running: list[str | None] = []  # serial keys of the jobs running now
        self._threads: list[threading.Thread] = []
        self._closing = False
        telemetry.watch_queue(self.waiting)  # the last pool built is the one serving

    # -- what listeners use ------------------------------------------------------------------
    def ahead(self, channel: str) -> int:
        """Answers that would run before one queued now in `channel` (round robin order, if no
        other question arrives meanwhile), counting those already running."""
        with self._cond:
            lane = self._lanes[ANSWER]
            own = len(lane.get(channel, ()))
            before = True  # channels before ours in the ring get one more turn than those after
            waiting = own
            for name, jobs in lane.items():
                if name == channel:
                    before = False
                    continue
                waiting += min(len(jobs), own + 1 if before else own)
            return waiting + len(self._running)

    def is_busy(self, ahead: int) -> bool:
        """Whether a question with `ahead` answers before it has to wait for a free worker."""
        return ahead >= self.workers

    def submit(self, channel: str, job: Callable[[], object], *, priority: int = ANSWER,
               serial: str | None = None) -> None:
        with self._cond:
            if self._closing:
                raise RuntimeError("the answer pool is closed")
            # the job runs in the submitter's context: its request id (infra/logcontext.py)
            run = functools.partial(contextvars.copy_context().run, job)
            self._lanes[priority].setdefault(channel, deque()).append(_Job(run, serial))
            if len(self._threads) < self.workers:  # started on first use, not when built
                thread = threading.Thread(target=self._work, daemon=True,
                                          name=f"{self._name}-{len(self._threads)}")
                self._threads.append(thread)
                thread.start()
            self._cond.notify()

    def waiting(self) -> int:
        with self._cond:
            return sum(len(jobs) for lane in self._lanes for jobs in lane.values())

    def join(self, timeout: float | None = None) -> bool:
        """Wait until nothing is queued or running; False if `timeout` passed first."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._running and not self._queued(),
                                       timeout)

    def close(self) -> None:
        """Run everything queued (nothing is lost), then stop the workers."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join()

    # -- the workers -------------------------------------------------------------------------
    def _queued(self) -> bool:
        return any(lane for lane in self._lanes)

    def _take(self) -> _Job | None:
        """The next job: first lane first, channels in turn, never a thread that is running."""
        for lane in self._lanes:
            for channel, jobs in lane.items():
                job = jobs[0]
                if job.serial is not None and job.serial in self._running:
                    continue
                jobs.popleft()
                if jobs:
                    lane.move_to_end(channel)  # its next job waits for the other channels
                else:
                    del lane[channel]
                return job
        return None

    def _work(self) -> None:
        while True:
            with self._cond:
                job = self._take()
                while job is None:
                    if self._closing and not self._queued():
                        return
                    self._cond.wait()
                    job = self._take()
                self._running.append(job.serial)
            try:
                job.run()
            except Exception:  # a job reports its own failures; a worker must outlive a bug
                log.exception("an answer job failed")
            finally:
                with self._cond:
                    self._running.remove(job.serial)
                    self._cond.notify_all()
