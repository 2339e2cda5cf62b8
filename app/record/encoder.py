"""`FrameEncoder`: H.264 for cameras that give no compressed video (HTTP MJPEG, raw V4L2).

Such a camera's decoded BGR frames are encoded once, at a bounded cost: at most
`max_width` wide (scaled down keeping the aspect ratio, to even sides), at most
`max_fps` (frames closer than 1/max_fps to the last one encoded are skipped), libx264
`veryfast` by default with a keyframe every `keyframe_seconds`. The output is the same
`Packet`s a stream-copied camera gives, so the same `SegmentWriter` records it.

Time: `encode(frame, time)` takes the frame's wall clock (epoch seconds); packets carry
`origin` = the first frame's time and pts in 90 kHz ticks since then. The encoder is
opened at the first frame's size; a frame of another size (the camera changed mode)
starts a new encoder, whose first packet is a keyframe with new parameters, so the
writer cuts a segment there. Not thread-safe: one thread encodes.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from app.record.mux import H264Encoder
from app.record.values import Packet, StreamInfo

MAX_WIDTH = 1280
MAX_FPS = 10.0
KEYFRAME_SECONDS = 2.0
PRESET = "veryfast"
CRF = 26  # libx264's default is 23; a security recording needs less, and 26 is ~60% of its bytes


def encoded_size(width: int, height: int, max_width: int) -> tuple[int, int]:
    """The size a width x height frame is encoded at: at most `max_width` wide, aspect kept, even sides."""
    if width <= 0 or height <= 0:
        raise ValueError(f"frame size must be positive, not {width}x{height}")
    if width > max_width:
        width, height = max_width, height * max_width // width  # integers: no float rounding
    out_w, out_h = max(2, width // 2 * 2), max(2, height // 2 * 2)
    return out_w, out_h


class FrameEncoder:
    """BGR frames in, H.264 `Packet`s out, bounded in size and rate (see the module's docstring)."""

    def __init__(
        self,
        *,
        max_width: int = MAX_WIDTH,
        max_fps: float = MAX_FPS,
        keyframe_seconds: float = KEYFRAME_SECONDS,
        preset: str = PRESET,
        crf: int = CRF,
    ) -> None:
        if max_width < 16 or max_fps <= 0 or keyframe_seconds <= 0:
            raise ValueError("max_width must be >= 16, max_fps and keyframe_seconds > 0")
        self.max_width = max_width
        self.max_fps = max_fps
        self.gop = max(1, round(keyframe_seconds * max_fps))
        self.preset = preset
        self.crf = crf
        self.skipped = 0  # frames skipped for the rate limit
        self._encoder: H264Encoder | None = None
        self._source_size: tuple[int, int] | None = None
        self._origin = 0.0
        self._last_time: float | None = None
        self._last_pts = -1

    def encode(self, frame: npt.NDArray[np.uint8], time: float) -> list[Packet]:
        """Encode `frame` (H x W x 3 BGR) seen at wall clock `time`; [] when skipped for the rate limit."""
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"frame must be HxWx3 uint8 BGR, not {frame.dtype} {frame.shape}")
        if self._last_time is not None and time - self._last_time < 1.0 / self.max_fps - 1e-6:
            if time >= self._last_time:
                self.skipped += 1
                return []
            self._encoder = None  # the clock stepped back: a new timeline
        packets: list[Packet] = []
        source_size = (frame.shape[1], frame.shape[0])
        if self._encoder is None or source_size != self._source_size:
            packets.extend(self.flush())
            width, height = encoded_size(*source_size, self.max_width)
            self._encoder = H264Encoder(width, height, fps=self.max_fps, gop=self.gop, preset=self.preset, crf=self.crf)
            self._source_size = source_size
            self._origin = time
            self._last_pts = -1
        encoder = self._encoder
        pts = max(encoder.info.ticks(time - self._origin), self._last_pts + 1)
        self._last_pts = pts
        self._last_time = time
        packets.extend(self._packets(encoder.encode(frame, pts), encoder.info))
        return packets

    def flush(self) -> list[Packet]:
        """Whatever the encoder still holds (nothing with zerolatency, but said for completeness); closes it."""
        encoder, self._encoder = self._encoder, None
        if encoder is None:
            return []
        return self._packets(encoder.flush(), encoder.info)

    def _packets(self, raw: list[tuple[bytes, int, int, bool]], info: StreamInfo) -> list[Packet]:
        return [Packet(data, pts, dts, key, info, self._origin) for data, pts, dts, key in raw]
