"""Builds every part from the config and runs it: cameras → pipelines → (rules, publish, API).

Each camera gets a capture thread (app.capture) and a runner thread that takes the
freshest frame at the camera's detect fps and drives its pipeline; all runners
share one detection worker. Parts are started in flow order and stopped in reverse.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from app.capture import Camera
from app.capture.camera import SourceFactory
from app.config import Config
from app.detect import Detector
from app.detect.base import Image
from app.detect.worker import DetectionWorker
from app.domain import Detections
from app.pipeline import CameraPipeline, DetectFn, FrameResult

log = logging.getLogger(__name__)

Listener = Callable[[FrameResult], None]
DETECT_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class CameraStatus:
    name: str
    online: bool
    fps_in: float
    fps_detect: float
    dropped: int  # detect ticks missed because a stage was busy (frames never worked on)
    last_frame_age_s: float | None
    reconnects: int
    stalls: int
    error: str | None


@dataclass(frozen=True, slots=True)
class DetectorStatus:
    backend: str
    device: str | None
    model: str
    runtime: str
    inference_ms: float
    degraded: str | None  # why the detector is not the one asked for, if so
    errors: int


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    node: str
    uptime_s: float
    mode: str
    cameras: tuple[CameraStatus, ...]
    detector: DetectorStatus


class CameraRunner:
    """Feeds one camera's freshest frame to its pipeline at most `detect_fps` times a second."""

    def __init__(self, camera: Camera, pipeline: CameraPipeline, detect_fps: float, listeners: list[Listener]) -> None:
        self.camera = camera
        self._pipeline = pipeline
        self._interval = 1.0 / detect_fps
        self._listeners = listeners
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"pipeline-{camera.name}", daemon=True)
        self._lock = threading.Lock()
        self._done: deque[float] = deque(maxlen=64)
        self.dropped = 0
        self.latest: FrameResult | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def fps_detect(self) -> float:
        now = time.monotonic()
        with self._lock:
            recent = [t for t in self._done if now - t <= 5.0]
        return (
            round((len(recent) - 1) / (recent[-1] - recent[0]), 2)
            if len(recent) >= 2 and recent[-1] > recent[0]
            else 0.0
        )

    def _run(self) -> None:
        last_seq = 0
        next_tick = time.monotonic()
        while not self._stop.is_set():
            delay = next_tick - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                break
            frame = self.camera.slot.newer_than(last_seq, timeout=1.0)
            if frame is None:
                next_tick = time.monotonic()
                continue
            last_seq = frame.seq
            try:
                result = self._pipeline.process(frame)
            except Exception:
                log.exception("camera %s: pipeline failed on frame %d; continuing", self.camera.name, frame.seq)
                next_tick = time.monotonic() + self._interval
                continue
            finished = time.monotonic()
            with self._lock:
                self._done.append(finished)
                self.latest = result
            for listener in self._listeners:
                try:
                    listener(result)
                except Exception:
                    log.exception("camera %s: a result listener failed", self.camera.name)
            next_tick += self._interval
            if finished > next_tick:  # fell behind: skip what was missed, never work on a backlog
                with self._lock:
                    self.dropped += int((finished - next_tick) / self._interval) + 1
                next_tick = finished


class Service:
    def __init__(self, config: Config, detector: Detector, *, open_source: SourceFactory | None = None) -> None:
        self.config = config
        self._detector = detector
        self._worker = DetectionWorker(detector)
        self._started = time.monotonic()
        self._listeners: list[Listener] = [self._log_tracks]
        self._announced: set[str] = set()
        model_size = detector.info.input_size[0]
        self.runners: dict[str, CameraRunner] = {}
        for name, cam in config.cameras.items():
            camera = Camera(name, cam.source, open_source=open_source)
            pipeline = CameraPipeline(name, cam, self._detect_for(name), model_size)
            self.runners[name] = CameraRunner(camera, pipeline, cam.detect_fps, self._listeners)
        self._watchdog_stop = threading.Event()
        self._watchdog = threading.Thread(target=self._watch, name="watchdog", daemon=True)

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def start(self) -> None:
        self._worker.start()
        for runner in self.runners.values():
            runner.camera.start()
            runner.start()
        self._watchdog.start()

    def stop(self) -> None:
        self._watchdog_stop.set()
        for runner in self.runners.values():
            runner.camera.stop()
            runner.stop()
        self._worker.stop()
        self._watchdog.join(2.0)

    def status(self) -> ServiceStatus:
        cameras = []
        for name, runner in self.runners.items():
            h = runner.camera.health()
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
                )
            )
        stats = self._worker.stats()
        info = stats.detector
        detector = DetectorStatus(
            info.backend, info.device, info.model, info.runtime, stats.inference_ms, info.note, stats.errors
        )
        return ServiceStatus(
            self.config.node_id,
            round(time.monotonic() - self._started, 1),
            self.config.mode.value,
            tuple(cameras),
            detector,
        )

    def _detect_for(self, camera: str) -> DetectFn:
        worker = self._worker

        def detect(images: Sequence[Image], min_score: float) -> list[Detections] | None:
            return worker.detect(camera, images, min_score, DETECT_TIMEOUT_S)

        return detect

    def _watch(self) -> None:
        while not self._watchdog_stop.wait(1.0):
            for runner in self.runners.values():
                runner.camera.check()

    def _log_tracks(self, result: FrameResult) -> None:
        for track in result.tracks:
            if track.confirmed and track.id not in self._announced:
                self._announced.add(track.id)
                log.info("camera %s: %s %s (score %.2f)", result.frame.camera, track.label, track.id, track.top_score)
        for track in result.ended:
            self._announced.discard(track.id)
            log.info("camera %s: %s %s left", result.frame.camera, track.label, track.id)
