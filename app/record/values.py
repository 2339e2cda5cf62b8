"""The recorder's value types: what the capture hands over, and what the recorder reports.

Every type here is frozen and holds plain Python values (bytes, ints, Fractions), never a
PyAV object: the capture builds them on its own thread from its demuxer's packets
(`bytes(packet)` copies the payload out of FFmpeg's buffer) and the recorder may keep
them for as long as it likes on another.

Time. A packet's `pts`/`dts` are integers in its stream's `time_base`, exactly as the
demuxer gave them (the muxer needs them exact). `origin` is the wall clock, in epoch
seconds, of pts 0 on that stream: the capture fixes it when it connects (wall clock of
the first packet minus its pts) and keeps it for the connection, so `Packet.time` is the
packet's wall clock. Segments and clips are placed on the wall clock; inside one file
the stream's own integers keep the frames' spacing exact.

    RecordError            recording failed: the file system (disk full, permissions) or the muxer
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal, get_args

Codec = Literal["h264", "hevc"]
CODECS: frozenset[str] = frozenset(get_args(Codec))
MAX_SIDE = 16384  # pixels; a stream declaring more is refused


def as_codec(name: str) -> Codec:
    """A demuxer's codec name as a `Codec`; ValueError for one the recorder cannot stream-copy into MP4."""
    if name == "h264":
        return "h264"
    if name == "hevc":
        return "hevc"
    raise ValueError(f"cannot record {name!r} by stream copy: only {sorted(CODECS)}")


class RecordError(Exception):
    """Recording or clip building failed; `errno` is set when the file system said why (e.g. ENOSPC)."""

    def __init__(self, message: str, errno: int | None = None) -> None:
        super().__init__(message)
        self.errno = errno


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """A video stream's codec parameters, as its demuxer (or our encoder) gave them.

    `extradata` is the decoder configuration exactly as the demuxer hands it over: an
    `avcC`/`hvcC` record (MP4 sources) or Annex-B parameter sets (RTSP's
    sprop-parameter-sets); empty when the stream carries them only in-band, in which case
    the writer takes them from the first keyframe. Packets must be in the same framing as
    the extradata: length-prefixed with `avcC`/`hvcC`, start codes with Annex-B.
    Two streams with equal `StreamInfo` can share one file.
    """

    codec: Codec
    width: int
    height: int
    time_base: Fraction
    extradata: bytes = b""

    def __post_init__(self) -> None:
        if self.codec not in CODECS:
            raise ValueError(f"codec must be one of {sorted(CODECS)}, not {self.codec!r}")
        for name, side in (("width", self.width), ("height", self.height)):
            if not isinstance(side, int) or not 0 < side <= MAX_SIDE:
                raise ValueError(f"{name} must be an int in 1..{MAX_SIDE}, not {side!r}")
        if not isinstance(self.time_base, Fraction) or self.time_base <= 0:
            raise ValueError(f"time_base must be a positive Fraction, not {self.time_base!r}")
        if not isinstance(self.extradata, bytes):
            raise ValueError("extradata must be bytes (copy it out of the demuxer)")

    def seconds(self, ticks: int) -> float:
        """`ticks` of this stream's time base in seconds."""
        return float(ticks * self.time_base)

    def ticks(self, seconds: float) -> int:
        """`seconds` in this stream's time base, rounded to the nearest tick."""
        return round(Fraction(seconds) / self.time_base)


@dataclass(frozen=True, slots=True)
class Packet:
    """One compressed video frame (an access unit), copied out of the demuxer.

    `pts`/`dts` are in `stream.time_base` (dts <= pts; equal without B-frames);
    `duration` is 0 when the demuxer did not say. `origin` is the wall clock (epoch
    seconds) of pts 0: see the module's docstring.
    """

    data: bytes
    pts: int
    dts: int
    keyframe: bool
    stream: StreamInfo
    origin: float
    duration: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.data, bytes) or not self.data:
            raise ValueError("packet data must be non-empty bytes (copy it out of the demuxer: bytes(packet))")
        if not isinstance(self.pts, int) or not isinstance(self.dts, int):
            raise ValueError(f"pts and dts must be ints in the stream's time base, not {self.pts!r}/{self.dts!r}")
        if self.dts > self.pts:
            raise ValueError(f"dts {self.dts} is after pts {self.pts}")
        if self.duration < 0:
            raise ValueError(f"duration must be >= 0, not {self.duration}")
        if not math.isfinite(self.origin):
            raise ValueError(f"origin must be a finite epoch time, not {self.origin!r}")

    @property
    def time(self) -> float:
        """Wall clock (epoch seconds) of this frame's presentation."""
        return self.origin + self.stream.seconds(self.pts)

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True, slots=True)
class Segment:
    """A finished segment file: stream-copied frames from `start` to `end` (epoch seconds).

    `start` is the wall clock of its first frame (a keyframe), `end` the end of its last
    frame; `size` is its bytes on disk. `stream` is the codec parameters it was written
    with (joining needs equal ones).
    """

    camera: str
    path: Path
    start: float
    end: float
    size: int
    frames: int
    stream: StreamInfo

    @property
    def duration(self) -> float:
        return self.end - self.start

    def overlaps(self, start: float, end: float) -> bool:
        """Whether any of [self.start, self.end) falls in [start, end]."""
        return self.start <= end and self.end > start


@dataclass(frozen=True, slots=True)
class Clip:
    """A clip built by `build_clip`: a faststart MP4 at `path`.

    `start`/`end` are the wall clock actually covered (from the keyframe at or before the
    window's start to the end of the GOP holding its end). `partial` is True when the
    window runs past the footage recorded so far (an event still recording): asking again
    later gives a longer clip. `skipped` counts overlapping segments left out because their
    codec parameters differ from the clip's first (a camera reconfigured mid-event).
    """

    path: Path
    start: float
    end: float
    size: int
    frames: int
    segments: int
    partial: bool
    skipped: int = 0

    @property
    def duration(self) -> float:
        return self.end - self.start
