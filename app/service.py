"""Builds every part from the config and runs it: cameras → pipelines → (rules, publish, API).

Each camera gets a capture thread (app.capture) and a runner thread that takes the
freshest frame at the camera's detect fps and drives its pipeline; all runners
share one detection worker. Parts are started in flow order and stopped in reverse.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

from app.analysis import CameraAnalysis, Outcome
from app.capture import Camera
from app.config import Config, Mode, resolve_zone
from app.detect import Detector
from app.detect.base import Image
from app.detect.supervisor import DetectorState, SupervisedDetector
from app.detect.worker import DetectionWorker
from app.domain import Detections, Event, Frame, Track
from app.evidence import Evidence
from app.metrics import Metrics
from app.objects import ObjectFilter
from app.pipeline import CameraPipeline, DetectFn, object_counts
from app.publish.bridge import MqttBridge
from app.recording import RESERVE_BYTES, Recordings
from app.rules import RuleEngine, zones_for_camera
from app.runner import CameraRunner, Listener
from app.status import CameraStatus, DetectorStatus, Health, MqttInfo, ServiceStatus
from app.store import Store

log = logging.getLogger(__name__)

DETECT_TIMEOUT_S = 10.0
RETENTION_EVERY_S = 60.0  # max_mb then holds within a minute of snapshots (2-5 MB with two busy cameras)
RETENTION_PAUSED_S = 5.0  # while recording is paused for lack of space, retention runs this often
MODE_KEY = "mode"
STUCK_AFTER_S = 30.0  # a detect call or pipeline turn this long is wedged (detect timeout: 10 s)
LATEST_LAG_S = 2.0  # older analysed frames are stale: show the live one without boxes
CAMERA_STOP_S = 5.0  # stopping: how long the capture threads, together, may take to let go of their sources


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
        if not detectors:
            raise ValueError("at least one detector is needed")
        self.config = config
        self._stuck_after = stuck_after_s
        self.store = store
        # Read at scrape time only, so it may be built before the parts it reports on.
        self.metrics = Metrics(self.status, storage=store.usage)
        self._workers = [DetectionWorker(d, on_inference=self.metrics.observe_inference) for d in detectors]
        self._started = time.monotonic()
        self.evidence = Evidence(store, [self.metrics.observe_alert])
        self._listeners: list[Listener] = [self.evidence, self._log_tracks]
        self._announced: set[str] = set()
        saved = store.get_state(MODE_KEY)
        mode = Mode(saved) if saved in {m.value for m in Mode} else config.mode  # persisted across restarts
        self.objects = ObjectFilter.from_config(config)
        self._rules = RuleEngine(
            config.rules, config.cameras, resolve_zone(config.timezone), mode, threshold=self.objects.threshold
        )
        self._rules_lock = threading.Lock()
        model_size = detectors[0].info.input_size[0]
        # Before any camera starts: half-written segments of the last run are repaired or removed.
        self.recordings = Recordings(config, store, reserve_bytes=record_reserve_bytes)
        self._listeners.append(self.recordings.on_outcome)
        self.runners: dict[str, CameraRunner] = {}
        for index, (name, cam) in enumerate(config.cameras.items()):
            recording = self.recordings.cameras.get(name)
            camera = Camera(
                name,
                cam.source,
                on_packet=None if recording is None else recording.push,
                on_frame=None if recording is None else recording.frame,  # MJPEG / raw V4L2: encoded once
            )
            worker = self._workers[index % len(self._workers)]
            pipeline = CameraPipeline(name, cam, self._detect_for(name, worker), model_size, objects=self.objects)
            analysis = CameraAnalysis(pipeline, self._rules, self._rules_lock, zones_for_camera(cam))
            self.runners[name] = CameraRunner(camera, analysis, cam.detect_fps, self._listeners)
        for name in self.runners:
            self.runners[name].enabled = store.get_state(_enabled_key(name)) != "OFF"
        self._watchdog_stop = threading.Event()
        self._watchdog = threading.Thread(target=self._watch, name="watchdog", daemon=True)
        self.bridge: MqttBridge | None = None
        if config.mqtt is not None:
            self.bridge = MqttBridge(config, self, store)
            self.evidence.add_sink(self.bridge.on_alert)
            self._listeners.append(self.bridge.on_outcome)
        for each in detectors:
            if isinstance(each, SupervisedDetector):  # Edge TPU lost / back: announce it at once
                each.add_listener(self._detector_changed)

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    @property
    def mode(self) -> Mode:
        with self._rules_lock:
            return self._rules.mode

    def set_mode(self, mode: Mode) -> None:
        """Switch mode now; persisted before it takes effect so a restart keeps it."""
        self.store.set_state(MODE_KEY, mode.value)
        with self._rules_lock:
            self._rules.set_mode(mode, time.time())
        log.info("mode: %s", mode.value)

    def camera_enabled(self, camera: str) -> bool:
        return self.runners[camera].enabled

    def set_camera_enabled(self, camera: str, enabled: bool) -> None:
        self.store.set_state(_enabled_key(camera), "ON" if enabled else "OFF")
        self.runners[camera].enabled = enabled
        log.info("camera %s: %s", camera, "enabled" if enabled else "disabled")

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
        if not self._watchdog.is_alive():
            problems.append("service watchdog has stopped")
        return Health(not problems, tuple(problems))

    def detector_state(self) -> dict[str, object]:
        """The P/detector payload: what detects now and, when degraded, why."""
        d = self._detector_status()
        return {"backend": d.backend, "device": d.device, "model": d.model,
                "degraded": d.degraded is not None, "note": d.degraded}  # fmt: skip

    def _detector_changed(self, state: DetectorState) -> None:
        if self.bridge is not None:
            self.bridge.on_detector(self.detector_state())

    def cameras_online(self) -> dict[str, bool]:
        """Cameras whose connectivity is known: online, or offline after a frame or a failure (a
        camera still opening its first stream is neither, and publishing it offline would flip)."""
        known = {}
        for name, runner in self.runners.items():
            h = runner.camera.health()
            if h.online or h.error is not None or h.last_frame_age_s is not None:
                known[name] = h.online
        return known

    def detector_labels(self) -> frozenset[str]:
        """Every class the running model(s) can report (what count sensors are made for)."""
        return frozenset().union(*(w.stats().detector.labels for w in self._workers))

    def stats(self) -> dict[str, object]:
        """The P/stats payload."""
        status = self.status()
        return {
            "cameras": {c.name: {"fps_in": c.fps_in, "fps_detect": c.fps_detect, "dropped": c.dropped,
                                 "lag_s": c.lag_s, "behind": c.behind}
                        for c in status.cameras},
            "detector": {"backend": status.detector.backend, "device": status.detector.device,
                         "inference_ms": status.detector.inference_ms},
            "uptime": status.uptime_s,
        }  # fmt: skip

    def start(self) -> None:
        if self.bridge is not None:
            self.bridge.start()
        for worker in self._workers:
            worker.start()
        for runner in self.runners.values():
            runner.camera.start()
            runner.start()
        self._watchdog.start()

    def stop(self) -> None:
        """Stops every part, in reverse flow order. Every camera is told to stop before any is
        waited for, and all are waited for against one deadline: a capture thread inside a
        blocking open or read (OpenCV's timeouts, app/capture/opencv.py) then costs one timeout
        however many cameras there are, and one that outlasts the deadline is a daemon thread
        that ends with the process."""
        self._watchdog_stop.set()
        for runner in self.runners.values():
            runner.camera.stop(timeout=0.0)
        deadline = time.monotonic() + CAMERA_STOP_S
        for runner in self.runners.values():
            runner.camera.stop(timeout=max(0.0, deadline - time.monotonic()))
            runner.stop()
        self.recordings.close()  # the segment being written is finished and indexed
        for worker in self._workers:
            worker.stop()
        self._watchdog.join(2.0)
        if self.bridge is not None:
            self.bridge.stop()

    def status(self) -> ServiceStatus:
        cameras = []
        for name, runner in self.runners.items():
            h = runner.camera.health()
            rec = self.recordings.state(name)
            cameras.append(
                CameraStatus(
                    name,
                    h.online,
                    h.fps_in,
                    runner.fps_detect(),
                    runner.dropped,
                    h.last_frame_age_s,
                    h.reconnects,
                    h.stalls,
                    h.error,
                    _object_counts(runner) if h.online and runner.enabled else (),
                    self.config.camera_name(name),
                    rec.enabled,
                    rec.active,
                    rec.error,
                    runner.detect_fps if runner.enabled else 0.0,
                    runner.lag(),
                )
            )
        detector = self._detector_status()
        mqtt = None
        if self.bridge is not None:
            client = self.bridge.client.status()
            mqtt = MqttInfo(client.connected, self.bridge.outbox.depth(), client.error)
        return ServiceStatus(
            self.config.node_id, round(time.monotonic() - self._started, 1), self.mode.value, tuple(cameras), detector,
            mqtt, tuple(sorted(self.objects.tracked)),
        )  # fmt: skip

    def _detector_status(self) -> DetectorStatus:
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

    def _detect_for(self, camera: str, worker: DetectionWorker) -> DetectFn:
        def detect(images: Sequence[Image], min_score: float) -> list[Detections] | None:
            return worker.detect(camera, images, min_score, DETECT_TIMEOUT_S)

        return detect

    def _watch(self) -> None:
        last_retention = float("-inf")  # a first pass at start: restarts must not put it off for good
        while not self._watchdog_stop.wait(1.0):
            for runner in self.runners.values():
                runner.camera.check()
            self.recordings.check_space()
            since = time.monotonic() - last_retention
            if since >= RETENTION_EVERY_S or (since >= RETENTION_PAUSED_S and self.recordings.paused()):
                last_retention = time.monotonic()
                report = self.store.enforce_retention(time.time())
                if report.files_deleted or report.over_quota:
                    log.info("storage: %s", report)
                self._make_room()

    def _make_room(self) -> None:
        """Recording is paused on a nearly full disk that max_mb did not foresee (a card smaller
        than max_mb): the oldest footage goes, of no alert first, until recording can resume. Only
        when footage can make that room: a disk full of other files keeps every clip (deleting
        them all would not let recording resume)."""
        needed = self.recordings.shortfall()
        if needed and self.store.footage.total_bytes() >= needed:
            segments, freed = self.store.free_footage(needed, time.time())
            if segments:
                log.warning(
                    "storage: disk nearly full: deleted the %d oldest footage segments (%.1f MB) to record again",
                    segments, freed / 1e6,
                )  # fmt: skip

    def clip_window(self, event: Event) -> tuple[float, float]:
        """The wall-clock span of the event's clip (event ± the camera's pre/post capture)."""
        return self.recordings.clip_window(event, time.time())

    def recording_enabled(self, camera: str) -> bool:
        return self.recordings.enabled(camera)

    def _log_tracks(self, outcome: Outcome) -> None:
        result = outcome.result
        for track in result.tracks:
            if track.confirmed and track.id not in self._announced:
                self._announced.add(track.id)
                log.info("camera %s: %s %s (score %.2f)", result.frame.camera, track.label, track.id, track.top_score)
        for track in result.ended:
            self._announced.discard(track.id)
            log.info("camera %s: %s %s left", result.frame.camera, track.label, track.id)


def _object_counts(runner: CameraRunner) -> tuple[tuple[str, int], ...]:
    """Objects in view per label on the camera's latest analysed frame, most first."""
    outcome = runner.latest()
    return () if outcome is None else object_counts(outcome.result)


def _enabled_key(camera: str) -> str:
    return f"camera.{camera}.enabled"
