"""The ONLY place that opens cv2.VideoCapture: RTSP/RTSPS, HTTP(S) MJPEG, V4L2 and files.

FFmpeg's default RTSP probing opened in ~4.7 s here and handed out 5 s-old frames;
TCP transport with a small probe opens in ~0.1 s with nothing stale. OpenCV reads
these options from the environment at open time, process-wide, so they are set
once at import (an installer's own OPENCV_FFMPEG_CAPTURE_OPTIONS wins).

Frame size is bounded (app.capture.limits). Opening a stream makes FFmpeg decode a frame
or two to learn its parameters, which at a declared 16000x8000 alone costs ~300 MB. So
every FFmpeg source is first opened with decoding switched off (`codec_whitelist;none`:
the size then comes from the container and the bitstream headers) and refused on the size
it declares; only then is it opened for real. Sizes are checked again after that open and
on every frame read (a stream may change size midway). Codecs whose headers carry no size
(MJPEG) are checked from the real open on. A probe that gets no answer within half the
open timeout (a frozen camera) ends the attempt: a second open would wait as long again.
The options are process-wide, so FFmpeg opens are serialized by `_OPEN_LOCK`.
"""

from __future__ import annotations

import functools
import os
import re
import threading
import time
from enum import StrEnum
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from app.capture import ffmpeglog
from app.capture.limits import size_problem
from app.redact import redact_url

OPTIONS_ENV = "OPENCV_FFMPEG_CAPTURE_OPTIONS"
# Not `fflags;nobuffer`: with it FFmpeg silently skipped a file's first GOP (84 of 96 frames).
os.environ.setdefault(OPTIONS_ENV, "rtsp_transport;tcp|analyzeduration;500000|probesize;65536")

# OpenCV's own warnings ("backend ... can't be used to capture by name") repeat on
# every reconnect and say less than our log line; FFmpeg's messages (auth, network) stay.
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)

OPEN_TIMEOUT_MS = 5000
READ_TIMEOUT_MS = 3000
DECODE_THREADS = 1
# While probing, FFmpeg may open no decoder (an option of the format context: OpenCV's own
# decoder, opened afterwards, is not affected).
_NO_DECODING = "codec_whitelist;none"
_OPEN_LOCK = threading.Lock()


class SourceKind(StrEnum):
    RTSP = "rtsp"
    HTTP = "http"
    V4L2 = "v4l2"
    FILE = "file"


class SourceError(Exception):
    """The source could not be opened, stopped giving frames, or sends frames too large;
    the message has no secrets."""


def source_kind(source: str) -> SourceKind:
    lower = source.lower()
    if lower.startswith(("rtsp://", "rtsps://")):
        return SourceKind.RTSP
    if lower.startswith(("http://", "https://")):
        return SourceKind.HTTP
    if re.match(r"^/dev/video\d+$", source):
        return SourceKind.V4L2
    return SourceKind.FILE


class OpenCvSource:
    """One opened stream. `read()` returns a BGR frame, or None when the stream failed/ended."""

    def __init__(self, source: str, *, realtime: bool = True, loop: bool = False) -> None:
        self.kind = source_kind(source)
        self.display = redact_url(source)
        self._loop = loop
        self._cap = self._open(source)
        try:  # the size the stream declares, before a frame is read
            self._check_size(
                int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
            )
        except SourceError:
            self._cap.release()
            raise
        fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = fps if 0.5 <= fps <= 120 else 0.0
        # Files are paced at their own frame rate when live (the demo camera); replay reads flat out.
        self._pace = 1.0 / self.fps if (realtime and self.kind is SourceKind.FILE and self.fps) else 0.0
        self._next_due = time.monotonic()
        self.position_s = 0.0  # position in the stream's own timeline (files)

    def _open(self, source: str) -> Any:
        if self.kind is SourceKind.V4L2:
            cap = cv2.VideoCapture(int(source.removeprefix("/dev/video")), cv2.CAP_V4L2)
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # keep the driver from queueing old frames
        else:
            if self.kind is SourceKind.FILE and not os.path.isfile(source):
                raise SourceError(f"{source}: no such video file")
            params = [
                cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, OPEN_TIMEOUT_MS,
                cv2.CAP_PROP_READ_TIMEOUT_MSEC, READ_TIMEOUT_MS,
                # One decoder thread per camera: 720p H.264 takes ~2-5 ms a frame on one core,
                # and each extra FFmpeg thread costs a few MB of RSS per camera (bench/cameras.py).
                cv2.CAP_PROP_N_THREADS, DECODE_THREADS,
            ]  # fmt: skip
            with _OPEN_LOCK:
                started = time.monotonic()
                declared = _declared_size(source, params)
                if declared is None and time.monotonic() - started > OPEN_TIMEOUT_MS / 2000:
                    # No answer (a frozen camera): a second open would only wait as long again.
                    raise SourceError(f"cannot open {self.display}")
                # Failed fast (refused, 401, not a video): the real open fails too, and FFmpeg,
                # no longer hushed, says why in the log.
                self._check_size(*(declared or (0, 0)))
                cap = cv2.VideoCapture(source, cv2.CAP_FFMPEG, params)
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"cannot open {self.display}")
        return cap

    def _check_size(self, width: int, height: int) -> None:
        problem = size_problem(width, height)
        if problem:
            raise SourceError(f"{self.display}: {problem}")

    def read(self) -> npt.NDArray[np.uint8] | None:
        """The next frame, None when the stream failed or ended; SourceError for a frame beyond
        the size limit (the stream changed size after it was opened)."""
        if self._pace:
            delay = self._next_due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self._next_due = max(self._next_due + self._pace, time.monotonic() - self._pace)
        ok, image = self._cap.read()
        if not ok and self._loop and self.kind is SourceKind.FILE:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)  # the demo camera never ends
            ok, image = self._cap.read()
        if not ok or image is None or image.ndim != 3 or image.shape[2] != 3:
            return None
        self._check_size(image.shape[1], image.shape[0])  # the caller closes the source
        self.position_s = float(self._cap.get(cv2.CAP_PROP_POS_MSEC) or 0.0) / 1000.0
        return np.asarray(image, dtype=np.uint8)

    def close(self) -> None:
        self._cap.release()


def _declared_size(source: str, params: list[int]) -> tuple[int, int] | None:
    """The frame size the stream declares, read with decoding switched off; (0, 0) when it
    declares none (MJPEG), None when it cannot be opened. Call with _OPEN_LOCK held."""
    _let_opencv_set_up_ffmpeg()
    saved = os.environ.get(OPTIONS_ENV)
    os.environ[OPTIONS_ENV] = "|".join(part for part in (saved, _NO_DECODING) if part)
    try:
        with ffmpeglog.quiet():  # FFmpeg reports the refused decoder as an error, twice
            probe = cv2.VideoCapture(source, cv2.CAP_FFMPEG, params)
    finally:
        if saved is None:
            del os.environ[OPTIONS_ENV]
        else:
            os.environ[OPTIONS_ENV] = saved
    try:
        if not probe.isOpened():
            return None
        return int(probe.get(cv2.CAP_PROP_FRAME_WIDTH)), int(probe.get(cv2.CAP_PROP_FRAME_HEIGHT))
    finally:
        probe.release()


@functools.cache
def _let_opencv_set_up_ffmpeg() -> None:
    """OpenCV sets FFmpeg's log level on its first open: have that happen before a quiet() probe
    (a path FFmpeg fails to open without a word)."""
    cv2.VideoCapture("/nonexistent/edgewatch-ffmpeg-set-up", cv2.CAP_FFMPEG).release()
