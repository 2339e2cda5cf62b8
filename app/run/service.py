"""Runs the live service: starts the parts app.run.assembly builds in flow order, stops them in
reverse, runs its schedules, and is what the API (app.api.routes.Backend), MQTT
(app.publish.bridge.Control) and the CLI ask of it while it runs.

Who does what: app.run.assembly builds the parts; app.run.status_board builds the one status model;
app.run.controls keeps the mode and camera switches; app.run.schedules runs the periodic jobs, each
on its own thread (`schedule-<name>`):

    cameras     every 1 s   capture hang checks (memory only: nothing can hold them up)
    disk        every 1 s   pauses recording on a nearly full disk (statfs)
    retention   every 1 s   retain_days / max_mb when due, then room for paused recording (SQLite, deletes)
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from app.config import Config, Mode
from app.detect import Detector
from app.domain import Event, Frame, Track
from app.payloads import detector_payload, stats_payload
from app.run.assembly import assemble, connect_mqtt
from app.run.recording import RESERVE_BYTES
from app.run.runner import Listener
from app.run.schedules import Every, Retention
from app.run.timings import CAMERA_STOP_S, LATEST_LAG_S, SCHEDULE_STOP_S, STUCK_AFTER_S, WATCH_EVERY_S
from app.status import Health, ServiceStatus
from app.store import Store


class Service:
    def __init__(
        self,
        config: Config,
        detector: Detector | Sequence[Detector],
        store: Store,
        *,
        stuck_after_s: float = STUCK_AFTER_S,
        record_reserve_bytes: int = RESERVE_BYTES,
    ) -> None:
        """`detector`: one, or one per Edge TPU — each gets its own worker thread and the
        cameras are shared out among them (camera i → detector i mod n)."""
        detectors = [detector] if not isinstance(detector, Sequence) else list(detector)
        parts = assemble(config, detectors, store, record_reserve_bytes=record_reserve_bytes)
        self.config = config
        self.store = store
        self.metrics = parts.metrics
        self.evidence = parts.evidence
        self.objects = parts.objects
        self.recordings = parts.recordings
        self.runners = parts.runners
        self.controls = parts.controls
        self.board = parts.board
        self._workers = parts.workers
        self._listeners = parts.listeners
        self._stuck_after = stuck_after_s
        self._schedules = (
            Every("cameras", WATCH_EVERY_S, self._check_cameras),
            Every("disk", WATCH_EVERY_S, self.recordings.check_space),
            Every("retention", WATCH_EVERY_S, Retention(store, self.recordings).tick),
        )
        self.bridge = connect_mqtt(parts, self)  # last: the bridge asks this facade for the switches at once

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> None:
        if self.bridge is not None:
            self.bridge.start()
        for worker in self._workers:
            worker.start()
        for runner in self.runners.values():
            runner.camera.start()
            runner.start()
        for schedule in self._schedules:
            schedule.start()

    def stop(self) -> None:
        """Stops every part, in reverse flow order. Every camera is told to stop before any is
        waited for, and all are waited for against one deadline: a capture thread inside a
        blocking open or read (OpenCV's timeouts, app/capture/opencv.py) then costs one timeout
        however many cameras there are, and one that outlasts the deadline is a daemon thread
        that ends with the process."""
        for schedule in self._schedules:
            schedule.stop()
        for runner in self.runners.values():
            runner.camera.stop(timeout=0.0)
        deadline = time.monotonic() + CAMERA_STOP_S
        for runner in self.runners.values():
            runner.camera.stop(timeout=max(0.0, deadline - time.monotonic()))
            runner.stop()
        self.recordings.close()  # the segment being written is finished and indexed
        for worker in self._workers:
            worker.stop()
        deadline = time.monotonic() + SCHEDULE_STOP_S  # a retention pass may be inside a long delete
        for schedule in self._schedules:
            schedule.join(max(0.0, deadline - time.monotonic()))
        if self.bridge is not None:
            self.bridge.stop()

    def health(self) -> Health:
        """Is every stage still turning? (Not: is every camera online — an offline camera is
        degraded and retried, and a restart would not bring it back.) Gates the systemd
        watchdog: only a wedged stage should get the service restarted."""
        problems = []
        for worker in self._workers:
            busy = worker.busy_for()
            if not worker.alive():
                problems.append("a detection worker has stopped")
            elif busy > self._stuck_after:
                problems.append(f"detector call stuck for {busy:.0f} s")
        for name, runner in self.runners.items():
            silent = runner.silent_for()
            if silent > self._stuck_after:
                problems.append(f"camera {name}: pipeline silent for {silent:.0f} s")
        problems += [f"service schedule '{s.name}' has stopped" for s in self._schedules if not s.alive()]
        return Health(not problems, tuple(problems))

    def _check_cameras(self) -> None:
        for runner in self.runners.values():
            runner.camera.check()

    # -- the runtime facade ----------------------------------------------------
    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    @property
    def mode(self) -> Mode:
        return self.controls.mode

    def set_mode(self, mode: Mode) -> None:
        self.controls.set_mode(mode)

    def camera_enabled(self, camera: str) -> bool:
        return self.controls.camera_enabled(camera)

    def set_camera_enabled(self, camera: str, enabled: bool) -> None:
        self.controls.set_camera_enabled(camera, enabled)

    def latest(self, camera: str) -> tuple[Frame, tuple[Track, ...]] | None:
        """The camera's latest analysed frame and the tracks on it (the raw freshest frame, without
        tracks, while the camera is disabled or analysis lags). KeyError for an unknown camera."""
        runner = self.runners[camera]
        outcome = runner.latest()
        fresh = runner.camera.slot.peek()
        if outcome is not None and runner.enabled:
            analysed = outcome.result.frame
            if fresh is None or fresh.monotonic - analysed.monotonic < LATEST_LAG_S:
                return analysed, outcome.result.in_view()
        return None if fresh is None else (fresh, ())

    def status(self) -> ServiceStatus:
        """The status model now (may read the store: not on the event loop; see StatusBoard)."""
        return self.board.status()

    def stats(self) -> dict[str, object]:
        """The P/stats payload (nothing in it comes from the store)."""
        return stats_payload(self.board.current())

    def detector_state(self) -> dict[str, object]:
        """The P/detector payload: what detects now and, when degraded, why."""
        return detector_payload(self.board.detector())

    def cameras_online(self) -> dict[str, bool]:
        return self.board.cameras_online()

    def detector_labels(self) -> frozenset[str]:
        return self.board.detector_labels()

    def clip_window(self, event: Event) -> tuple[float, float]:
        """The wall-clock span of the event's clip (event ± the camera's pre/post capture)."""
        return self.recordings.clip_window(event, time.time())

    def recording_enabled(self, camera: str) -> bool:
        return self.recordings.enabled(camera)
