"""The service's recording: one `CameraRecorder` per camera that records, fed by its capture,
told by the event pipeline how long footage is wanted, its segments indexed in the store.

    Camera ──on_packet──▶ CameraRecording.push ──▶ CameraRecorder ──Segment──▶ Store.footage.add
    Camera ──on_frame (MJPEG, raw V4L2)──▶ CameraRecording.frame ──FrameEncoder──▶ push
    runner outcome ──▶ Recordings.on_outcome ──▶ want_until(last seen + post_capture)

Failures never leave this module: `push` runs on the camera's thread, and a full disk or
a muxer error must cost the footage only, never the frames detection needs. A failure is
shown in /api/status (`CameraRecording.error`) and logged once, then at most every
`LOG_EVERY_S` with a count. Recording also pauses by itself, before the database or the
snapshots would feel it, while the storage file system has less than `RESERVE_BYTES`
free, and resumes (at the next keyframe) once retention has freed twice that.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from app.analysis.camera import Outcome
from app.config import Config, RecordConfig
from app.domain import Event
from app.record import CameraRecorder, FrameEncoder, Packet, RecordError, Segment, SegmentSink, probe, recover
from app.store import Store
from app.store.footage import FootagePolicy

log = logging.getLogger(__name__)

RESERVE_BYTES = 64 * 1024 * 1024  # free space below which recording pauses (the database and snapshots keep it)
LOG_EVERY_S = 60.0
PAUSED = "storage nearly full: recording paused until retention frees space"


@dataclass(frozen=True, slots=True)
class RecordingState:
    enabled: bool
    active: bool  # packets are going to disk now
    error: str | None  # the latest failure, until recording works again


class CameraRecording:
    """One camera's recorder behind a lock, with its failures caught, counted and reported."""

    def __init__(self, camera: str, settings: RecordConfig, folder: Path, sink: SegmentSink) -> None:
        self.camera = camera
        self.settings = settings
        self._sink = sink
        self.recorder = CameraRecorder(camera, folder, self._finished, mode=settings.mode,
                                       pre_capture=settings.pre_capture)  # fmt: skip
        self.error: str | None = None  # the latest failure, until a segment is finished again
        self.failures = 0
        self.paused = False  # set by Recordings.check_space from another thread; push acts on it
        self._lock = threading.Lock()
        self._logged_at = float("-inf")
        self._unlogged = 0
        self._encoder: FrameEncoder | None = None  # made at the first frame of a camera with no H.264

    def frame(self, image: npt.NDArray[np.uint8], wall: float) -> None:
        """The capture's `on_frame` for a camera that sends no compressed video (MJPEG, raw
        V4L2): encoded once, at a bounded size and rate (FrameEncoder), then recorded like a
        camera's own packets. Never raises."""
        packets: list[Packet] = []

        def encode() -> None:
            if self._encoder is None:
                self._encoder = FrameEncoder()
            packets.extend(self._encoder.encode(image, wall))

        with self._lock:
            if self.paused:
                if self.recorder.recording:
                    self._guard(self.recorder.close)  # the segment so far is kept
                return
            self._guard(encode)
        for packet in packets:
            self.push(packet)

    def push(self, packet: Packet) -> None:
        """The capture's `on_packet`: never raises."""
        with self._lock:
            if self.paused:
                if self.recorder.recording:
                    self._guard(self.recorder.close)  # the segment so far is kept
                return
            self._guard(lambda: self.recorder.push(packet))

    def want_until(self, until: float) -> None:
        self.recorder.want_until(until)

    def close(self) -> None:
        with self._lock:
            self._guard(self.recorder.close)

    def state(self) -> RecordingState:
        if self.paused:
            return RecordingState(True, False, PAUSED)
        return RecordingState(True, self.recorder.writer.recording, self.error)  # a segment is open

    def _finished(self, segment: Segment) -> None:
        self._sink(segment)
        if self.error is not None:
            log.info("camera %s: recording works again", self.camera)
            self.error = None

    def _guard(self, action: Callable[[], object]) -> None:
        try:
            action()
        except RecordError as exc:
            self._failed(str(exc), exc.errno)
        except Exception as exc:  # noqa: BLE001 - a recorder bug must not reach the capture thread
            self._failed(f"recorder failed: {type(exc).__name__}: {exc}", None)

    def _failed(self, message: str, errno: int | None) -> None:
        self.failures += 1
        first = self.error is None
        self.error = message if errno is None or os.strerror(errno) in message else f"{message} ({os.strerror(errno)})"
        now = time.monotonic()
        if first or now - self._logged_at >= LOG_EVERY_S:
            more = f" ({self._unlogged} more failures since the last report)" if self._unlogged else ""
            log.error("camera %s: recording failed: %s%s", self.camera, self.error, more)
            self._logged_at, self._unlogged = now, 0
        else:
            self._unlogged += 1


class Recordings:
    """Every camera's recording, built from the config; recovery and indexing run in the constructor."""

    def __init__(self, config: Config, store: Store, *, reserve_bytes: int = RESERVE_BYTES) -> None:
        self._config = config
        self._store = store
        self._reserve = reserve_bytes
        self.cameras: dict[str, CameraRecording] = {}
        policies = {}
        for name in config.cameras:
            settings = config.record_for(name)
            assert settings.retain_days is not None
            policies[name] = FootagePolicy(settings.mode, settings.pre_capture, settings.post_capture,
                                           settings.retain_days)  # fmt: skip
            if not settings.enabled:
                continue
            folder = store.footage.folder(name)
            self._recover(name, folder)
            self.cameras[name] = CameraRecording(name, settings, folder, store.footage.add)
        store.footage.policies = policies

    def _recover(self, camera: str, folder: Path) -> None:
        """Repair or remove half-written segments; index finished ones the index lacks (a crash between
        a segment's rename and its row); remove a finished file that does not read back."""
        footage = self._store.footage
        done = recover(folder, camera)
        for segment in done.repaired:
            footage.add(segment)
        if not folder.is_dir():
            return
        known = footage.names(camera)
        root = footage.root.resolve()
        for path in sorted(folder.rglob("*.mp4")):
            if path.resolve().relative_to(root).as_posix() in known:
                continue
            try:
                footage.add(probe(path, camera))
            except (OSError, RecordError) as exc:
                log.warning("camera %s: removing unreadable segment %s (%s)", camera, path.name, exc)
                path.unlink(missing_ok=True)

    def on_outcome(self, outcome: Outcome) -> None:
        """A runner listener: footage is wanted until post_capture after the latest sighting of an
        object that moves (a parked car keeps its event, not the recorder: it is looked at only
        now and then, and hours of a car standing still are no evidence of anything)."""
        result = outcome.result
        recording = self.cameras.get(result.frame.camera)
        if recording is None:
            return
        frame = result.frame
        seen = [
            frame.captured_at - (frame.monotonic - t.last_seen)
            for t in result.tracks
            if t.confirmed and not t.stationary
        ]
        seen += [e.event.end_time for e in outcome.changes if e.event.end_time is not None]
        if seen:
            recording.want_until(max(seen) + recording.settings.post_capture)

    def check_space(self) -> None:
        """Pause recording while the storage file system is nearly full; resume with twice the reserve free."""
        try:
            st = os.statvfs(self._store.root)
        except OSError:
            return
        free = st.f_bavail * st.f_frsize
        for recording in self.cameras.values():
            if not recording.paused and free < self._reserve:
                recording.paused = True
                log.error("camera %s: %s", recording.camera, PAUSED)
            elif recording.paused and free >= 2 * self._reserve:
                recording.paused = False
                log.info("camera %s: storage has room again: recording resumes", recording.camera)

    def paused(self) -> bool:
        return any(r.paused for r in self.cameras.values())

    def shortfall(self) -> int:
        """Bytes to free before paused recording resumes (twice the reserve free); 0 when not paused."""
        if not self.paused():
            return 0
        try:
            st = os.statvfs(self._store.root)
        except OSError:
            return 0
        return max(0, 2 * self._reserve - st.f_bavail * st.f_frsize)

    def close(self) -> None:
        for recording in self.cameras.values():
            recording.close()

    def state(self, camera: str) -> RecordingState:
        recording = self.cameras.get(camera)
        return RecordingState(False, False, None) if recording is None else recording.state()

    def clip_window(self, event: Event, now: float) -> tuple[float, float]:
        """The wall-clock span of an event's clip: its start − pre_capture to its end (now if open) + post."""
        settings = self._config.record_for(event.camera) if event.camera in self._config.cameras else None
        pre = settings.pre_capture if settings else 0.0
        post = settings.post_capture if settings else 0.0
        end = event.end_time if event.end_time is not None else now
        return event.start_time - pre, max(end, event.start_time) + post

    def enabled(self, camera: str) -> bool:
        return camera in self.cameras
