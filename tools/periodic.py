"""One way to run a job on a schedule inside a long-lived process (the Slack bot's weekly
summary, the anomaly model's refit): a daemon thread calls `tick()` every `interval_s`; a tick
that raises is logged and the next one tries again, so one failure never ends the schedule.
`tick()` decides from its own clock whether anything is due, which keeps tests free of sleeps."""

from __future__ import annotations

import logging
import threading
from typing import Any

log = logging.getLogger(__name__)


class Periodic:
    job_name = "periodic job"  # for the thread's name and the log

    interval_s: float = 30.0

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> Any:
        raise NotImplementedError

    def run(self, interval_s: float | None = None) -> None:
        """Tick until `stop()`."""
        every = self.interval_s if interval_s is None else interval_s
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # keep the schedule alive: the next tick retries
                log.exception("%s failed", self.job_name)
            self._stop.wait(every)

    def start(self, interval_s: float | None = None) -> Periodic:
        self._thread = threading.Thread(target=self.run, args=(interval_s,), daemon=True,
                                        name=self.job_name.replace(" ", "-"))
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
