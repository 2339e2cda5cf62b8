"""The detection worker: one thread owns the accelerator and serves every camera in turn.

An Edge TPU serves one caller at a time, and a TFLite interpreter is not
thread-safe, so exactly one thread calls `detect()`. Each camera has at most one
request waiting (its pipeline blocks on it), which bounds the queue by the number
of cameras; the worker takes them round-robin so a busy camera cannot starve a
quiet one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from app.detect.base import Detector, DetectorInfo, Image
from app.detect.timeouts import DETECT_TIMEOUTS
from app.domain import Detections

log = logging.getLogger(__name__)


@dataclass
class _Request:
    images: Sequence[Image]
    min_score: float
    done: threading.Event = field(default_factory=threading.Event)
    result: list[Detections] | None = None


@dataclass(frozen=True, slots=True)
class WorkerStats:
    detector: DetectorInfo
    inference_ms: float  # moving average of one invoke
    served: dict[str, int]  # images detected per camera since start
    errors: int


class DetectionWorker:
    def __init__(self, detector: Detector, on_inference: Callable[[float], None] | None = None) -> None:
        """`on_inference` gets each image's inference time in seconds (for metrics), on the worker thread."""
        self._detector = detector
        self._on_inference = on_inference
        self._hook_failed = False  # the hook's first failure is logged; a broken hook must not flood the log
        self._cond = threading.Condition()
        self._pending: dict[str, _Request] = {}
        self._turns: list[str] = []  # round-robin order of cameras seen so far
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="detector", daemon=True)
        self._busy_since: float | None = None  # monotonic start of the detector call in progress
        self._inference_ms = 0.0
        self._served: dict[str, int] = {}
        self._errors = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stop = True
            for request in self._pending.values():
                request.done.set()
            self._pending.clear()
            self._cond.notify_all()
        self._thread.join(timeout)

    def detect(
        self, camera: str, images: Sequence[Image], min_score: float, timeout: float = DETECT_TIMEOUTS.request_s
    ) -> list[Detections] | None:
        """Blocking; one result per image, or None if stopped, failed or timed out. The default
        `timeout` outlasts a supervised Edge TPU's hang and the CPU redo (app/detect/timeouts.py)."""
        request = _Request(images, min_score)
        with self._cond:
            if self._stop:
                return None
            replaced = self._pending.get(camera)
            if replaced is not None:  # a camera has one request at a time; the newer wins
                replaced.done.set()
            self._pending[camera] = request
            if camera not in self._turns:
                self._turns.append(camera)
            self._cond.notify_all()
        if not request.done.wait(timeout):
            with self._cond:
                if self._pending.get(camera) is request:
                    del self._pending[camera]
            return None
        return request.result

    def busy_for(self) -> float:
        """Seconds the detector call in progress has taken so far (0 when idle): a stuck
        accelerator shows here, since nothing else can interrupt a call into the runtime."""
        since = self._busy_since
        return 0.0 if since is None else time.monotonic() - since

    def alive(self) -> bool:
        return self._thread.is_alive()

    def stats(self) -> WorkerStats:
        with self._cond:
            return WorkerStats(self._detector.info, round(self._inference_ms, 2), dict(self._served), self._errors)

    def _next(self) -> tuple[str, _Request] | None:
        with self._cond:
            self._cond.wait_for(lambda: self._stop or bool(self._pending))
            if self._stop:
                return None
            for i, camera in enumerate(self._turns):
                if camera in self._pending:
                    # Served cameras go to the back of the line.
                    self._turns.append(self._turns.pop(i))
                    return camera, self._pending.pop(camera)
            camera, request = next(iter(self._pending.items()))
            del self._pending[camera]
            return camera, request

    def _run(self) -> None:
        while (job := self._next()) is not None:
            camera, request = job
            self._busy_since = time.monotonic()
            try:
                results = [self._detector.detect(image, request.min_score) for image in request.images]
            except Exception:
                self._busy_since = None
                log.exception("detector failed on a frame from %s", camera)
                with self._cond:
                    self._errors += 1
                request.done.set()
                continue
            self._busy_since = None
            with self._cond:
                for r in results:
                    self._inference_ms = (
                        r.inference_ms if not self._inference_ms else 0.9 * self._inference_ms + 0.1 * r.inference_ms
                    )
                self._served[camera] = self._served.get(camera, 0) + len(results)
            request.result = results
            request.done.set()
            # After the caller is released and outside the lock: metrics must not delay detection.
            self._report(results)
            time.sleep(0)  # let the waiting pipeline thread run before the next job

    def _report(self, results: Sequence[Detections]) -> None:
        if self._on_inference is None:
            return
        for r in results:
            try:
                self._on_inference(r.inference_ms / 1000.0)
            except Exception:
                if not self._hook_failed:
                    self._hook_failed = True
                    log.exception("the inference hook failed (logged once; detection goes on)")
