"""Real video for the recorder's tests: H.264/H.265 encoded here with PyAV, frames that say their own number.

Each frame is a 1280x720 window panning across real photos (scikit-image's astronaut and
coffee, side by side, scaled up), with its index written as a 16-bit barcode of black and
white squares along the top: after lossy coding and copying, `frame_indices(path)`
decodes a file and reads back which source frames it holds, in order. Encoded like a
camera: libx264 `zerolatency` (no B-frames) with a keyframe every `gop` frames, unless
`bframes` asks for B-frames (pts != dts).

Packets are taken out of the file the way the capture will: `bytes(packet)` and ints,
built into the recorder's own `Packet`/`StreamInfo`, in the file's framing (`avcC`,
length-prefixed) or, with `annexb=True`, turned into what an RTSP demuxer gives (start
codes, Annex-B extradata) by FFmpeg's `h264_mp4toannexb` filter.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import numpy.typing as npt
from av.bitstream import BitStreamFilterContext

from app.record import Packet, StreamInfo, as_codec
from app.record.nal import START_CODE, parameter_sets
from tests.conftest import photo

ORIGIN = 1_700_000_000.0  # the wall clock of pts 0 in the tests' packets (2023-11-14T22:13:20Z)
BITS = 16
CELL = 40  # px per barcode square


@dataclass(frozen=True)
class Source:
    path: Path
    codec: str  # h264 | hevc
    fps: int
    gop: int
    frames: int
    size: tuple[int, int]

    @property
    def seconds(self) -> float:
        return self.frames / self.fps


@functools.cache
def _canvas(width: int, height: int) -> npt.NDArray[np.uint8]:
    """The astronaut beside the coffee cup at `height`: 2.5 x height wide, wider than any 16:9 frame."""
    left = cv2.resize(photo("astronaut"), (height, height), interpolation=cv2.INTER_CUBIC)
    right = cv2.resize(photo("coffee"), (height * 3 // 2, height), interpolation=cv2.INTER_CUBIC)
    canvas = np.ascontiguousarray(np.concatenate([left, right], axis=1))
    assert canvas.shape[1] >= width, f"a {width}x{height} frame is wider than the photos"
    return canvas


def frame_image(index: int, size: tuple[int, int], position: float) -> npt.NDArray[np.uint8]:
    """The window at `position` (0..1) of the pan, with `index` as its barcode."""
    width, height = size
    canvas = _canvas(width, height)
    x = round((canvas.shape[1] - width) * position)
    image = canvas[:, x : x + width].copy()
    for bit in range(BITS):
        value = 255 if (index >> bit) & 1 else 0
        image[0:CELL, bit * CELL : (bit + 1) * CELL] = value
    return image


def read_index(gray: npt.NDArray[np.uint8], scale: float = 1.0) -> int:
    """The barcode's number; `scale` is how much the frame was resized since it was drawn."""
    cell = CELL * scale
    return sum(1 << bit for bit in range(BITS) if gray[int(cell / 2), int((bit + 0.5) * cell)] > 127)


def make_source(
    path: Path,
    *,
    seconds: float,
    fps: int = 12,
    gop: int = 12,
    size: tuple[int, int] = (1280, 720),
    codec: str = "h264",
    bframes: int = 0,
    first_index: int = 0,
) -> Source:
    frames = round(seconds * fps)
    encoder = "libx264" if codec == "h264" else "libx265"
    with av.open(str(path), "w", format="mp4") as out:
        stream: Any = out.add_stream(encoder, rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, fps)
        stream.codec_context.gop_size = gop
        if codec == "h264":
            tune = {} if bframes else {"tune": "zerolatency"}
            params = f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes={bframes}:sliced-threads=0"
            stream.codec_context.options = {"preset": "veryfast", "profile": "main", "x264-params": params, **tune}
        else:
            params = f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes={bframes}:log-level=error"
            stream.codec_context.options = {"preset": "ultrafast", "x265-params": params}
        for i in range(frames):
            image = frame_image(first_index + i, size, i / max(1, frames - 1))
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return Source(path, codec, fps, gop, frames, size)


def info_of(stream: Any) -> StreamInfo:
    """A PyAV stream's parameters, as the capture will copy them out."""
    ctx = stream.codec_context
    return StreamInfo(
        as_codec(ctx.name), ctx.width, ctx.height, Fraction(stream.time_base), bytes(ctx.extradata or b"")
    )


def stream_info(path: Path) -> StreamInfo:
    with av.open(str(path)) as container:
        return info_of(container.streams.video[0])


def packets(path: Path, *, origin: float = ORIGIN, annexb: bool = False, inband_only: bool = False) -> list[Packet]:
    """The file's video packets as the capture will hand them over."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        ctx = stream.codec_context
        raw: list[Any] = []
        if annexb or inband_only:
            bsf = BitStreamFilterContext(f"{ctx.name}_mp4toannexb", stream)
            for packet in container.demux(stream):
                raw.extend(bsf.filter(packet if packet.dts is not None else None))
        else:
            raw = [p for p in container.demux(stream) if p.dts is not None]
        info = info_of(stream)
        if annexb:
            sets = parameter_sets(info.codec, info.extradata)
            info = replace(info, extradata=b"".join(START_CODE + nal for nal in sets))
        if inband_only:
            info = replace(info, extradata=b"")
        return [
            Packet(bytes(p), int(p.pts), int(p.dts), bool(p.is_keyframe), info, origin, int(p.duration or 0))
            for p in raw
        ]


def frame_indices(path: Path, scale: float = 1.0) -> list[int]:
    """Decode every frame of a file (raises on a decoding error) and read each one's barcode."""
    indices: list[int] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            indices.append(read_index(np.asarray(frame.to_ndarray(format="gray"), dtype=np.uint8), scale))
    return indices


def codec_params(path: Path) -> dict[str, Any]:
    """What proves a stream was copied, not re-encoded: profile, level, size, pixel format, parameter sets."""
    with av.open(str(path)) as container:
        ctx = container.streams.video[0].codec_context
        return {
            "codec": ctx.name,
            "profile": ctx.profile,
            "level": ctx.level,
            "size": (ctx.width, ctx.height),
            "pix_fmt": ctx.pix_fmt,
            "parameter_sets": parameter_sets(as_codec(ctx.name), bytes(ctx.extradata or b"")),
        }


def top_boxes(path: Path) -> list[str]:
    """The MP4's top-level box types, in file order."""
    kinds: list[str] = []
    data = path.read_bytes()
    pos = 0
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        if size == 1:
            size = int.from_bytes(data[pos + 8 : pos + 16], "big")
        kinds.append(data[pos + 4 : pos + 8].decode("latin-1"))
        if size < 8:
            break
        pos += size
    return kinds


def keyframe_times(items: list[Packet]) -> list[float]:
    return [p.time for p in items if p.keyframe]


def iter_mp4_packets(path: Path) -> Iterator[tuple[int, int, bool]]:
    """(pts, dts, keyframe) of each packet of a file, as its demuxer says."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for p in container.demux(stream):
            if p.dts is not None and p.pts is not None:
                yield int(p.pts), int(p.dts), bool(p.is_keyframe)
