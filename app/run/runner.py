"""Drives one camera's analysis at its detect fps, always on the freshest frame."""

from __future__ import annotations

import logging
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable

from app.analysis.camera import CameraAnalysis, Outcome
from app.capture import Camera

log = logging.getLogger(__name__)

Listener = Callable[[Outcome], None]
RECENT_S = 5.0  # what fps_detect and lag look back over


class CameraRunner:
    """Feeds one camera's freshest frame to its analysis at most `detect_fps` times a second."""

    def __init__(self, camera: Camera, analysis: CameraAnalysis, detect_fps: float, listeners: list[Listener]) -> None:
        self.camera = camera
        self.analysis = analysis
        self._interval = 1.0 / detect_fps
        self._listeners = listeners
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"pipeline-{camera.name}", daemon=True)
        self._lock = threading.Lock()
        self._done: deque[tuple[float, float]] = deque(maxlen=64)  # (result out, frame age then)
        self.dropped = 0
        self._latest: Outcome | None = None
        self._beat = time.monotonic()  # every loop turn: a runner that stops beating is wedged
        self.enabled = True  # switched over MQTT/API: a disabled camera keeps capturing, detects nothing

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    @property
    def detect_fps(self) -> float:
        """The rate asked for (the camera's detect_fps)."""
        return 1.0 / self._interval

    def fps_detect(self) -> float:
        """Frames analysed per second over the last 5 s."""
        recent = self._recent()
        return (
            round((len(recent) - 1) / (recent[-1][0] - recent[0][0]), 2)
            if len(recent) >= 2 and recent[-1][0] > recent[0][0]
            else 0.0
        )

    def lag(self) -> float | None:
        """How far behind the camera the results are: the median age of a frame when its result
        was out, over the last 5 s (capture to result: queueing for a busy detector shows here).
        None when nothing was analysed lately."""
        recent = self._recent()
        return round(statistics.median(age for _, age in recent), 3) if recent else None

    def _recent(self) -> list[tuple[float, float]]:
        now = time.monotonic()
        with self._lock:
            return [d for d in self._done if now - d[0] <= RECENT_S]

    def silent_for(self) -> float:
        """Seconds since the loop last came round (waits are at most ~1 s, detection DETECT_TIMEOUT_S)."""
        return time.monotonic() - self._beat if self._thread.is_alive() else float("inf")

    def latest(self) -> Outcome | None:
        """The most recent analysed frame with what was found on it (for the dashboard)."""
        return self._latest

    def _run(self) -> None:
        last_seq = 0
        next_tick = time.monotonic()
        while not self._stop.is_set():
            self._beat = time.monotonic()
            delay = next_tick - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                break
            if not self.enabled:
                self._stop.wait(0.5)
                next_tick = time.monotonic()
                continue
            frame = self.camera.slot.newer_than(last_seq, timeout=1.0)
            if frame is None:
                next_tick = time.monotonic()
                continue
            last_seq = frame.seq
            try:
                outcome = self.analysis.process(frame)
            except Exception:
                log.exception("camera %s: pipeline failed on frame %d; continuing", self.camera.name, frame.seq)
                next_tick = time.monotonic() + self._interval
                continue
            finished = time.monotonic()
            self._latest = outcome  # one reference swap: readers never see a half-made outcome
            with self._lock:
                self._done.append((finished, finished - frame.monotonic))
            for listener in self._listeners:
                try:
                    listener(outcome)
                except Exception:
                    log.exception("camera %s: a result listener failed", self.camera.name)
            next_tick += self._interval
            if finished > next_tick:  # fell behind: skip what was missed, never work on a backlog
                with self._lock:
                    self.dropped += int((finished - next_tick) / self._interval) + 1
                next_tick = finished


class TrackLog:
    """A listener that logs each confirmed object once as it appears and once as it leaves."""

    def __init__(self) -> None:
        self._announced: set[str] = set()

    def __call__(self, outcome: Outcome) -> None:
        result = outcome.result
        for track in result.tracks:
            if track.confirmed and track.id not in self._announced:
                self._announced.add(track.id)
                log.info("camera %s: %s %s (score %.2f)", result.frame.camera, track.label, track.id, track.top_score)
        for track in result.ended:
            self._announced.discard(track.id)
            log.info("camera %s: %s %s left", result.frame.camera, track.label, track.id)
