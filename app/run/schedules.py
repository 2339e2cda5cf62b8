"""The service's periodic jobs, each on its own thread so a slow one never holds up another:
a retention pass that vacuums for a minute must not delay the camera hang checks."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from app.run.recording import Recordings
from app.run.timings import RETENTION_EVERY_S, RETENTION_PAUSED_S
from app.store import Store

log = logging.getLogger(__name__)


class Every:
    """Calls `job` every `period_s` seconds on a daemon thread of its own, from one period after
    `start()` until `stop()`. A job that raises ends its schedule; `alive()` then says so (the
    health check reports it and systemd restarts the service rather than run without it)."""

    def __init__(self, name: str, period_s: float, job: Callable[[], None]) -> None:
        self.name = name
        self._period = period_s
        self._job = job
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"schedule-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Asks it to stop; the turn under way, if any, runs to its end (see `join`)."""
        self._stop.set()

    def join(self, timeout: float) -> None:
        if self._thread.ident is not None:  # never started: nothing to wait for
            self._thread.join(timeout)

    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.wait(self._period):
            self._job()


class Retention:
    """Applies storage.retain_days and storage.max_mb, then makes room for recording paused on a
    nearly full disk. Called every second; works every RETENTION_EVERY_S, or RETENTION_PAUSED_S
    while recording is paused for lack of space."""

    def __init__(self, store: Store, recordings: Recordings) -> None:
        self._store = store
        self._recordings = recordings
        self._last = float("-inf")  # a first pass at start: restarts must not put it off for good

    def tick(self) -> None:
        since = time.monotonic() - self._last
        if since >= RETENTION_EVERY_S or (since >= RETENTION_PAUSED_S and self._recordings.paused()):
            self._last = time.monotonic()
            report = self._store.enforce_retention(time.time())
            if report.files_deleted or report.over_quota:
                log.info("storage: %s", report)
            self._make_room()

    def _make_room(self) -> None:
        """Recording is paused on a nearly full disk that max_mb did not foresee (a card smaller
        than max_mb): the oldest footage goes, of no alert first, until recording can resume. Only
        when footage can make that room: a disk full of other files keeps every clip (deleting
        them all would not let recording resume)."""
        needed = self._recordings.shortfall()
        if needed and self._store.footage.total_bytes() >= needed:
            segments, freed = self._store.free_footage(needed, time.time())
            if segments:
                log.warning(
                    "storage: disk nearly full: deleted the %d oldest footage segments (%.1f MB) to record again",
                    segments, freed / 1e6,
                )  # fmt: skip
