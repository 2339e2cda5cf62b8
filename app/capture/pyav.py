"""The ONLY place in app/capture that opens video with PyAV: RTSP/RTSPS, HTTP(S) MJPEG, V4L2 and files.

One connection per camera, two uses: each packet is demuxed once, handed (when the stream
is H.264/H.265 and a sink is given) to `on_packet` as the recorder's plain `Packet`, and
decoded on (one decoder thread) into the BGR frame that `read()` returns.

Opening. FFmpeg's default RTSP probing opened in ~4.7 s here and handed out 5 s-old frames;
TCP transport with a small probe (`probesize` 64 KB, `analyzeduration` 0.5 s) opens in
~0.1 s with nothing stale. `timeout=(open, read)` bounds the open and every later blocking
read (FFmpeg's interrupt callback); a read that times out ends the stream (`read()` ->
None) and the camera reconnects. (Not `fflags nobuffer`: it made FFmpeg skip a file's
first GOP.)

Frame size is bounded (app.capture.limits). `avformat_find_stream_info` decodes a frame or
two to learn a stream's parameters, which at a declared 16000x8000 alone costs ~300 MB, so
the container is opened with `codec_whitelist=none`: find_stream_info opens no decoder
and the size comes from the container and the bitstream headers (SPS) alone. The stream
is refused on that declared size before our own decoder (not bound by the whitelist)
sees a packet, and every decoded frame's size is checked again before it is converted (a
stream may change size midway; MJPEG declares none). The video library's own log is off
(PyAV's default): its errors arrive as exceptions, reported with the URL redacted.
"""

from __future__ import annotations

import collections
import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from enum import StrEnum
from fractions import Fraction
from typing import Any

import av
import numpy as np
import numpy.typing as npt

from app.capture.limits import size_problem
from app.capture.timing import PacketTimeline
from app.record.values import Packet, StreamInfo, as_codec
from app.redact import describe_error, redact_text, redact_url

log = logging.getLogger(__name__)

OPEN_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 3.0
DECODE_THREADS = 1  # one per camera: 720p H.264 takes ~2-5 ms a frame; each extra thread costs MBs of RSS
PROBE_OPTIONS = {"probesize": "65536", "analyzeduration": "500000"}
MAX_BAD_PACKETS = 50  # packets in a row the decoder refuses before the stream counts as failed
SINK_LOG_EVERY_S = 60.0

PacketSink = Callable[[Packet], None]
_sink_logged: dict[str, float] = {}  # display -> monotonic time of the last sink-failure log line


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


class VideoSource:
    """One opened stream. `read()` returns a BGR frame, or None when the stream failed/ended."""

    def __init__(
        self, source: str, *, realtime: bool = True, loop: bool = False, on_packet: PacketSink | None = None
    ) -> None:
        self.kind = source_kind(source)
        self.display = redact_url(source)
        self._source = source
        self._loop = loop and self.kind is SourceKind.FILE
        self._container = self._open(source)
        try:
            streams = self._container.streams.video
            if not streams:
                raise SourceError(f"{self.display}: no video stream")
            self._stream = streams[0]
            ctx = self._stream.codec_context
            self._check_size(ctx.width, ctx.height)  # the size it declares, before a frame is decoded
            ctx.thread_count = DECODE_THREADS
            fps = _rate(self._stream)
            self.fps = fps if 0.5 <= fps <= 120 else 0.0
            self.stream_info = _stream_info(self._stream) if on_packet is not None else None
            self._timeline = PacketTimeline(self.stream_info, self.fps) if self.stream_info else None
        except BaseException:
            self._container.close()
            raise
        self._on_packet = on_packet
        self.sink_errors = 0  # packets the sink raised on (capture went on)
        # Files are paced at their own frame rate when live (the demo camera); replay reads flat out.
        self._pace = 1.0 / self.fps if (realtime and self.kind is SourceKind.FILE and self.fps) else 0.0
        self._next_due = time.monotonic()
        self.position_s = 0.0  # position in the stream's own timeline (files)
        self._frames: collections.deque[Any] = collections.deque()
        self._packets: Iterator[Any] = self._container.demux(self._stream)

    def _open(self, source: str) -> Any:
        if self.kind is SourceKind.FILE and not os.path.isfile(source):
            raise SourceError(f"{source}: no such video file")
        options = dict(PROBE_OPTIONS)
        if self.kind is SourceKind.RTSP:
            options["rtsp_transport"] = "tcp"
        try:
            return av.open(
                source,
                format="v4l2" if self.kind is SourceKind.V4L2 else None,
                options={} if self.kind is SourceKind.V4L2 else options,
                container_options={"codec_whitelist": "none"},  # find_stream_info decodes nothing
                timeout=(OPEN_TIMEOUT_S, READ_TIMEOUT_S),
            )
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise SourceError(f"cannot open {self.display}: {_reason(exc, source)}") from None

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
        frame = self._next_frame()
        if frame is None:
            return None
        self._check_size(frame.width, frame.height)  # before converting; the caller closes the source
        if frame.time is not None:
            self.position_s = float(frame.time)
        return _bgr(frame)

    def _next_frame(self) -> Any | None:
        bad = 0
        rewound = False
        while not self._frames:
            try:
                packet = next(self._packets)
            except StopIteration:
                if self._timeline is not None:
                    self._deliver(self._timeline.flush())
                if not self._loop or rewound:
                    return None
                self._container.seek(0)  # the demo camera never ends (seek flushes the decoder)
                self._packets = self._container.demux(self._stream)
                rewound = True  # a file that gives no frame after a rewind ends
                continue
            except (av.FFmpegError, OSError) as exc:  # a read timeout, a dropped connection
                log.debug("%s: %s", self.display, describe_error(exc, self._source))
                return None
            if packet.size and self._timeline is not None:
                self._forward(packet)
            try:
                self._frames.extend(self._stream.codec_context.decode(packet))
                bad = 0
            except av.FFmpegError:  # a corrupt packet: skipped, as a decoder would
                bad += 1
                if bad >= MAX_BAD_PACKETS:
                    return None
            if self._frames:
                rewound = False
        return self._frames.popleft()

    def _forward(self, packet: Any) -> None:
        """Hand the packet to the sink as a plain `Packet`; a sink that raises never stops capture."""
        assert self._timeline is not None
        self._deliver(
            self._timeline.add(
                bytes(packet),
                pts=None if packet.pts is None else int(packet.pts),
                dts=None if packet.dts is None else int(packet.dts),
                keyframe=bool(packet.is_keyframe),
                duration=int(packet.duration or 0),
                mono=time.monotonic(),
                wall=time.time(),
            )
        )

    def _deliver(self, ready: list[Packet]) -> None:
        sink = self._on_packet
        if sink is None:
            return
        for item in ready:
            try:
                sink(item)
            except Exception as exc:  # noqa: BLE001 - the recorder's trouble is not the camera's
                self.sink_errors += 1
                now = time.monotonic()
                if now - _sink_logged.get(self.display, -SINK_LOG_EVERY_S) >= SINK_LOG_EVERY_S:
                    _sink_logged[self.display] = now
                    log.warning(
                        "%s: the packet sink failed (%s); capture goes on (%d failed on this connection)",
                        self.display, describe_error(exc, self._source), self.sink_errors,
                    )  # fmt: skip

    def close(self) -> None:
        try:
            if self._timeline is not None:
                self._deliver(self._timeline.flush())  # a connection that ends inside its connect burst
        finally:
            self._frames.clear()
            self._container.close()


def _rate(stream: Any) -> float:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            return float(rate)
    return 0.0


def _stream_info(stream: Any) -> StreamInfo | None:
    """The recorder's view of the stream, copied out once per connection; None when it cannot be
    stream-copied (MJPEG, raw V4L2) or declares no usable size."""
    ctx = stream.codec_context
    try:
        return StreamInfo(
            as_codec(ctx.name), int(ctx.width), int(ctx.height), Fraction(stream.time_base), bytes(ctx.extradata or b"")
        )
    except (ValueError, TypeError):
        return None


def _bgr(frame: Any) -> npt.NDArray[np.uint8]:
    """A decoded frame as a BGR image (swscale, as OpenCV's FFmpeg capture did: ~0.3 ms at 720p)."""
    return np.asarray(frame.to_ndarray(format="bgr24"), dtype=np.uint8)


def _reason(exc: BaseException, source: str) -> str:
    """Why an open failed, for a person: FFmpeg's own words ("Server returned 401 Unauthorized
    (authorization failed)", "Connection refused") without its errno and the URL it repeats."""
    if isinstance(exc, av.FFmpegError) and exc.strerror:
        return redact_text(str(exc.strerror), source)
    return describe_error(exc, source)
