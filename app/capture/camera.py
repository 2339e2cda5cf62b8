"""One camera's capture thread: open, read, hand off the freshest frame, heal.

Failures never leave this module as exceptions: a source that cannot be opened,
ends, or stalls is closed and reopened with exponential backoff and jitter, and
the camera reports itself offline meanwhile. A read that takes longer than
`stall_after` is a stall (a frozen camera or a pulled cable): frames it then
returns are stale buffered ones, so the stream is dropped and reopened. A read
that never returns at all is abandoned by `check()` and a fresh reader started.
"""

from __future__ import annotations

import collections
import functools
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from app.capture.pyav import PacketSink, SourceError, VideoSource
from app.capture.slot import LatestFrame
from app.domain import Frame
from app.redact import describe_error, redact_url

log = logging.getLogger(__name__)


class Source(Protocol):
    fps: float

    def read(self) -> npt.NDArray[np.uint8] | None:
        """The next frame, None when the stream failed or ended; SourceError for a refused frame."""
        ...

    def close(self) -> None: ...


SourceFactory = Callable[[str], Source]
FrameSink = Callable[[npt.NDArray[np.uint8], float], None]  # a decoded frame and its wall-clock time


@dataclass(frozen=True, slots=True)
class Backoff:
    first: float = 0.5
    limit: float = 10.0  # a security camera should not stay dark for minutes after a blip
    jitter: float = 0.2

    def delay(self, failures: int) -> float:
        base = min(self.limit, self.first * (2 ** max(0, failures - 1)))
        return float(base * random.uniform(1 - self.jitter, 1 + self.jitter))  # noqa: S311 - jitter, not crypto


@dataclass(frozen=True, slots=True)
class CaptureHealth:
    name: str
    online: bool
    fps_in: float
    last_frame_age_s: float | None  # None: no frame yet
    reconnects: int
    stalls: int
    error: str | None  # last failure, credentials redacted


def _open_live(source: str, on_packet: PacketSink | None = None) -> Source:
    return VideoSource(source, realtime=True, loop=True, on_packet=on_packet)


class Camera:
    def __init__(
        self,
        name: str,
        source: str,
        *,
        open_source: SourceFactory | None = None,
        backoff: Backoff | None = None,
        stall_after: float = 2.0,
        offline_after: float = 3.0,
        hang_after: float = 20.0,
        on_packet: PacketSink | None = None,
        on_frame: FrameSink | None = None,
    ) -> None:
        """`on_packet` gets the compressed packets of an H.264/H.265 camera (a recorder's `push`), from
        the same connection the frames come from; it is called on the capture thread, and one that
        raises is logged (rate-limited) and counted in `sink_errors`, never stopping capture. Only the
        default source calls it: an `open_source` factory gets the URL alone. `on_frame` gets each
        decoded frame (and its wall-clock time) of a camera that sends no compressed video (MJPEG,
        raw V4L2), so a recorder can encode it; it is called on the capture thread after the frame
        is handed to detection, and one that raises is counted in `sink_errors` too."""
        self.name = name
        self.slot = LatestFrame()
        self._source = source
        self._open: SourceFactory = open_source or functools.partial(_open_live, on_packet=on_packet)
        self._on_frame = on_frame
        self._frame_errors = 0
        self._sink_errors_closed = 0
        self._live: Source | None = None
        self._backoff = backoff or Backoff()
        self._stall_after = stall_after
        self._offline_after = offline_after
        self._hang_after = hang_after
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._generation = 0
        self._thread: threading.Thread | None = None
        self._seq = 0
        self._arrivals: collections.deque[float] = collections.deque(maxlen=64)
        self._last_frame: float | None = None
        self._read_started: float | None = None
        self._connected = False
        self._reconnects = 0
        self._stalls = 0
        self._error: str | None = None

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> None:
        self._spawn()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop reading; wait up to `timeout` s (0: not at all) for the reader to close its source.
        A reader inside a blocking open or read sees the stop when that call returns (FFmpeg's
        timeouts); it is a daemon thread, so one that never returns does not hold up the process."""
        self._stop.set()
        self.slot.close()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def check(self) -> None:
        """Watchdog, called periodically: abandon a reader stuck inside one read."""
        with self._lock:
            started = self._read_started
        if started is not None and time.monotonic() - started > self._hang_after and not self._stop.is_set():
            log.warning("camera %s: a read has hung for %.0f s; starting a fresh reader", self.name, self._hang_after)
            with self._lock:
                self._stalls += 1
                self._connected = False
                self._read_started = None
            self._spawn()

    def _spawn(self) -> None:
        with self._lock:
            self._generation += 1
            generation = self._generation
        self._thread = threading.Thread(target=self._run, args=(generation,), name=f"capture-{self.name}", daemon=True)
        self._thread.start()

    def _current(self, generation: int) -> bool:
        return generation == self._generation and not self._stop.is_set()

    # -- the reader --------------------------------------------------------
    def _run(self, generation: int) -> None:
        failures = 0
        while self._current(generation):
            source = self._connect(generation)
            if source is None:
                failures += 1
                self._stop.wait(self._backoff.delay(failures))
                continue
            good_since = time.monotonic()
            with self._lock:
                self._live = source
            try:
                reason = self._read_until_failure(source, generation)
            finally:
                source.close()
                with self._lock:
                    self._sink_errors_closed += int(getattr(source, "sink_errors", 0))
                    if self._live is source:
                        self._live = None
            if not self._current(generation):
                break
            with self._lock:
                self._connected = False
                self._error = reason
            log.warning("camera %s: offline (%s); reconnecting", self.name, reason)
            failures = 1 if time.monotonic() - good_since > 10.0 else failures + 1
            self._stop.wait(self._backoff.delay(failures))

    def _connect(self, generation: int) -> Source | None:
        with self._lock:
            self._read_started = time.monotonic()  # opening can hang too
        try:
            source = self._open(self._source)
        except SourceError as exc:
            if self._current(generation):  # not an outage when the camera is being stopped
                self._note_failure(str(exc))
            return None
        except Exception as exc:  # noqa: BLE001 - a vendor library must not kill the camera thread
            if self._current(generation):
                self._note_failure(f"cannot open {redact_url(self._source)}: {describe_error(exc, self._source)}")
            return None
        finally:
            with self._lock:
                self._read_started = None
        if not self._current(generation):
            source.close()
            return None
        with self._lock:
            if self._seq:
                self._reconnects += 1
        log.info("camera %s: connected to %s", self.name, redact_url(self._source))
        return source

    def _read_until_failure(self, source: Source, generation: int) -> str:
        while self._current(generation):
            started = time.monotonic()
            with self._lock:
                self._read_started = started
            try:
                image = source.read()
            except SourceError as exc:  # a frame beyond the size limit: refused, not decoded on
                with self._lock:
                    self._read_started = None
                return str(exc)
            now = time.monotonic()
            with self._lock:
                self._read_started = None
            if not self._current(generation):
                return "stopped"
            if image is None:
                return "stream ended or failed"
            if now - started > self._stall_after:
                with self._lock:
                    self._stalls += 1
                return f"stalled: a read took {now - started:.1f} s"
            captured = self._deliver(image, now)
            if self._on_frame is not None and getattr(source, "stream_info", None) is None:
                self._hand_frame(image, captured)
        return "stopped"

    def _hand_frame(self, image: npt.NDArray[np.uint8], captured: float) -> None:
        """A frame of a camera with no compressed stream, to `on_frame` (the recorder's encoder)."""
        assert self._on_frame is not None
        try:
            self._on_frame(image, captured)
        except Exception as exc:  # noqa: BLE001 - a recorder must never stop capture
            with self._lock:
                self._frame_errors += 1
                first = self._frame_errors == 1
            if first:
                log.error("camera %s: on_frame failed: %s", self.name, describe_error(exc))

    def _deliver(self, image: npt.NDArray[np.uint8], now: float) -> float:
        """Hands the frame to detection's slot; returns its wall-clock capture time."""
        with self._lock:
            self._seq += 1
            seq = self._seq
            self._connected = True
            self._error = None
            self._last_frame = now
            self._arrivals.append(now)
        captured = time.time()
        self.slot.put(Frame(self.name, seq, image, captured, now))
        return captured

    def _note_failure(self, message: str) -> None:
        with self._lock:
            first = self._error != message
            self._connected = False
            self._error = message
        if first:
            log.warning("camera %s: %s", self.name, message)

    # -- health ------------------------------------------------------------
    @property
    def sink_errors(self) -> int:
        """Packets `on_packet` and frames `on_frame` raised on, over every connection so far."""
        with self._lock:
            return self._sink_errors_closed + int(getattr(self._live, "sink_errors", 0)) + self._frame_errors

    def health(self) -> CaptureHealth:
        now = time.monotonic()
        with self._lock:
            age = None if self._last_frame is None else now - self._last_frame
            recent = [t for t in self._arrivals if now - t <= 5.0]
            fps = (len(recent) - 1) / (recent[-1] - recent[0]) if len(recent) >= 2 and recent[-1] > recent[0] else 0.0
            online = self._connected and age is not None and age <= self._offline_after
            return CaptureHealth(
                self.name, online, round(fps, 2), None if age is None else round(age, 3),
                self._reconnects, self._stalls, self._error,
            )  # fmt: skip
