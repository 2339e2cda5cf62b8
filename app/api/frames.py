"""`latest.jpg`: a camera's latest analysed frame with its tracked objects drawn.

Encoded once per frame and shared: fifty dashboards polling one camera cost one
JPEG encode per analysed frame, not fifty, so viewers cannot slow detection down."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from app.domain import Box, Frame, Track
from app.store.snapshots import render_boxes

MAX_WIDTH = 1280  # a dashboard tile needs no more; 4K frames would cost 4x the encode
JPEG_QUALITY = 75
# At most one encode per camera per this many seconds, whatever the detect fps: viewers see
# a frame up to 0.2 s older, and dashboards cost the same CPU at 5 or 30 detect fps.
MIN_ENCODE_INTERVAL_S = 0.2

# camera → (frame, the objects in view on it) or None while it has no frame; KeyError for an unknown camera
LatestSource = Callable[[str], tuple[Frame, tuple[Track, ...]] | None]


@dataclass(frozen=True, slots=True)
class _Encoded:
    key: tuple[int, float]  # (seq, arrival): a new frame always differs, even after a restart of seq
    jpeg: bytes
    at: float  # time.monotonic() of the encode


class LatestJpeg:
    def __init__(self, source: LatestSource, *, min_interval_s: float = MIN_ENCODE_INTERVAL_S) -> None:
        self._source = source
        self._min_interval = min_interval_s
        self._cache: dict[str, _Encoded] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def cached(self, camera: str) -> bytes | None:
        """The JPEG if the cache already holds the current frame (cheap; for the event loop)."""
        latest = self._source(camera)
        entry = self._cache.get(camera)
        if latest is None or entry is None or not self._fresh(entry, latest[0]):
            return None
        return entry.jpeg

    def get(self, camera: str) -> bytes | None:
        """The current frame as JPEG (encoding it if no one has yet); None before the first frame."""
        with self._guard:
            lock = self._locks.setdefault(camera, threading.Lock())
        with lock:  # concurrent callers for one camera wait for a single encode
            latest = self._source(camera)
            if latest is None:
                return None
            frame, tracks = latest
            entry = self._cache.get(camera)
            if entry is not None and self._fresh(entry, frame):
                return entry.jpeg
            jpeg = render(frame, tracks)
            self._cache[camera] = _Encoded(_key(frame), jpeg, time.monotonic())
            return jpeg

    def _fresh(self, entry: _Encoded, frame: Frame) -> bool:
        return entry.key == _key(frame) or time.monotonic() - entry.at < self._min_interval


def render(frame: Frame, tracks: tuple[Track, ...]) -> bytes:
    image = frame.image
    scale = 1.0
    if frame.width > MAX_WIDTH:
        scale = MAX_WIDTH / frame.width
        size = (MAX_WIDTH, round(frame.height * scale))
        image = np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
    boxes = [
        (Box(t.box.x1 * scale, t.box.y1 * scale, t.box.x2 * scale, t.box.y2 * scale), t.label, t.score)
        for t in tracks
        if t.confirmed  # the service hands over the objects in view; never draw a candidate anyway
    ]
    return render_boxes(image, boxes, quality=JPEG_QUALITY)


def _key(frame: Frame) -> tuple[int, float]:
    return (frame.seq, frame.monotonic)
