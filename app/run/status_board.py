"""The one place the service's status is built: `StatusBoard` gives the `ServiceStatus` that
`/api/status`, `P/stats`, `P/detector` and `/metrics` all read (app.status).

Most of it lives in memory (capture health, runner pace, detector stats, the switches) and is
cheap to read on any thread. Two figures come from the store: the disk usage (a SQL sum and
statfs) and the outbox depth (a SQL count). SQLite may wait behind a writer or a vacuum, so
those are `StoreReadings`: re-read in a worker thread when stale, and kept for readers that
must never block, such as the API's event loop (`current()`).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence

from app.analysis.pipeline import object_counts
from app.config import Config, Mode
from app.detect.worker import DetectionWorker
from app.objects import ObjectFilter
from app.run.recording import Recordings
from app.run.runner import CameraRunner
from app.run.timings import OUTBOX_TTL_S, USAGE_TTL_S
from app.status import CameraStatus, DetectorStatus, MqttInfo, ServiceStatus, StorageInfo
from app.store import StoreError

UsageFn = Callable[[], tuple[float, float]]  # Store.usage: (MiB used, MiB free)
CountFn = Callable[[], int]
LinkFn = Callable[[], tuple[bool, str | None]]  # the broker link: (connected, its last error)


class StoreReadings:
    """The status figures read from the store, each at most once per its TTL."""

    def __init__(self, usage: UsageFn) -> None:
        self._usage = usage
        self._outbox: CountFn | None = None
        self._refreshing = threading.Lock()
        # Replaced whole and read without the lock: a reader never waits for a refresh stuck in SQLite.
        self._storage: StorageInfo | None = None
        self._depth = 0
        self._usage_at = float("-inf")
        self._outbox_at = float("-inf")

    def count_outbox(self, depth: CountFn) -> None:
        self._outbox = depth

    @property
    def storage(self) -> StorageInfo | None:
        """As last read; None until the store's disk could be read once."""
        return self._storage

    @property
    def outbox(self) -> int:
        return self._depth

    def stale(self) -> bool:
        now = time.monotonic()
        return now - self._usage_at >= USAGE_TTL_S or (
            self._outbox is not None and now - self._outbox_at >= OUTBOX_TTL_S
        )

    def refresh(self, *, wait: bool = True) -> None:
        """Re-reads what is stale. Blocks on SQLite and statfs: never call it on the event loop.
        `wait=False`: while another refresh is under way, return at once (its figures will do)."""
        if not self._refreshing.acquire(blocking=wait):
            return
        try:
            if time.monotonic() - self._usage_at >= USAGE_TTL_S:
                with contextlib.suppress(OSError):  # a vanished disk keeps the last figures; status still answers
                    self._storage = StorageInfo(*self._usage())
                self._usage_at = time.monotonic()
            if self._outbox is not None and time.monotonic() - self._outbox_at >= OUTBOX_TTL_S:
                with contextlib.suppress(StoreError):  # the store cannot be read now: the last figure answers
                    self._depth = self._outbox()
                self._outbox_at = time.monotonic()
        finally:
            self._refreshing.release()


class StatusBoard:
    """Builds the service's `ServiceStatus` from its running parts (read-only: it changes nothing)."""

    def __init__(
        self,
        config: Config,
        *,
        runners: Mapping[str, CameraRunner],
        workers: Sequence[DetectionWorker],
        recordings: Recordings,
        objects: ObjectFilter,
        mode: Callable[[], Mode],
        usage: UsageFn,
    ) -> None:
        self._config = config
        self._runners = runners
        self._workers = workers
        self._recordings = recordings
        self._objects = objects
        self._mode = mode
        self._link: LinkFn | None = None
        self.readings = StoreReadings(usage)
        self._started = time.monotonic()

    def report_mqtt(self, link: LinkFn, outbox: CountFn) -> None:
        """The broker link and its outbox. Given after construction: the MQTT bridge is built after
        the board, because it publishes what the board reports."""
        self._link = link
        self.readings.count_outbox(outbox)

    # -- the store's figures -------------------------------------------------
    def stale(self) -> bool:
        """Whether `refresh()` has something to re-read (then call it off the event loop)."""
        return self.readings.stale()

    def refresh(self, *, wait: bool = True) -> None:
        self.readings.refresh(wait=wait)

    def storage(self) -> StorageInfo | None:
        """Disk usage, re-read if stale (blocking)."""
        self.readings.refresh()
        return self.readings.storage

    # -- the status ----------------------------------------------------------
    def status(self) -> ServiceStatus:
        """The status now, the store's figures re-read if stale: blocking, for worker threads."""
        self.readings.refresh()
        return self.current()

    def current(self) -> ServiceStatus:
        """The status now with the store's figures as last read: never touches the store."""
        mqtt = None
        if self._link is not None:
            connected, error = self._link()
            mqtt = MqttInfo(connected, self.readings.outbox, error)
        return ServiceStatus(
            self._config.node_id,
            round(time.monotonic() - self._started, 1),
            self._mode().value,
            tuple(self._camera(name, runner) for name, runner in self._runners.items()),
            self.detector(),
            mqtt,
            tuple(sorted(self._objects.tracked)),
            self.readings.storage,
        )

    def _camera(self, name: str, runner: CameraRunner) -> CameraStatus:
        h = runner.camera.health()
        rec = self._recordings.state(name)
        enabled = runner.enabled
        return CameraStatus(
            name,
            h.online,
            h.fps_in,
            runner.fps_detect(),
            runner.dropped,
            h.last_frame_age_s,
            h.reconnects,
            h.stalls,
            h.error,
            _object_counts(runner) if h.online and enabled else (),
            self._config.camera_name(name),
            rec.enabled,
            rec.active,
            rec.error,
            runner.detect_fps if enabled else 0.0,
            runner.lag(),
            enabled,
        )

    def detector(self) -> DetectorStatus:
        """One line for all detectors: with several TPUs, devices are listed and the status is
        degraded when any of them is (its note says which)."""
        stats = [w.stats() for w in self._workers]
        infos = [s.detector for s in stats]
        first = infos[0]
        devices = [i.device for i in infos if i.device]
        backends = {i.backend for i in infos}
        notes = [i.note for i in infos if i.note]
        return DetectorStatus(
            first.backend if len(backends) == 1 else "+".join(sorted(backends)),
            ", ".join(devices) if devices else None,
            first.model,
            first.runtime,
            round(sum(s.inference_ms for s in stats) / len(stats), 2),
            "; ".join(notes) if notes else None,
            sum(s.errors for s in stats),
        )

    def cameras_online(self) -> dict[str, bool]:
        """Cameras whose connectivity is known: online, or offline after a frame or a failure (a
        camera still opening its first stream is neither, and publishing it offline would flip)."""
        known = {}
        for name, runner in self._runners.items():
            h = runner.camera.health()
            if h.online or h.error is not None or h.last_frame_age_s is not None:
                known[name] = h.online
        return known

    def detector_labels(self) -> frozenset[str]:
        """Every class the running model(s) can report (what count sensors are made for)."""
        return frozenset().union(*(w.stats().detector.labels for w in self._workers))


def _object_counts(runner: CameraRunner) -> tuple[tuple[str, int], ...]:
    """Objects in view per label on the camera's latest analysed frame, most first."""
    outcome = runner.latest()
    return () if outcome is None else object_counts(outcome.result)
