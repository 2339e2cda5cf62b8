"""The ONLY place in the recorder that imports PyAV (FFmpeg): MP4 muxing, reading segments back, H.264 encoding.

Everything crossing this module's edge is the recorder's own value types (`Packet`,
`StreamInfo`) or plain arrays: no PyAV object leaves it, and every FFmpeg error is mapped
to `RecordError` (with the errno FFmpeg reported, e.g. ENOSPC).

Stream copy needs an output stream that carries the source's codec parameters without an
encoder behind it. PyAV builds such a stream only from a template stream, so the template
is the (empty) stream of a raw `h264`/`hevc` demuxer opened on no bytes; the parameters
that matter (size, extradata) are then set from `StreamInfo`. The MP4 muxer turns Annex-B
extradata and packets into `avcC`/`hvcC` and length-prefixed samples itself.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error
import numpy as np
import numpy.typing as npt
from av.codec.context import Flags

from app.record.values import Packet, RecordError, StreamInfo, as_codec

# Fragmented MP4: an empty `moov` first, then one self-contained `moof`+`mdat` per GOP,
# so a file cut anywhere keeps every fragment before the cut (see app.record.recover).
FRAGMENTED = "frag_keyframe+empty_moov+default_base_moof"
FASTSTART = "faststart"  # one `moov` with every sample, moved in front of `mdat` when the file is closed
_NO_DECODING = {"codec_whitelist": "none"}  # reading back: the parameters are in the `moov`, nothing to decode


def _mapped(what: str, exc: Exception) -> RecordError:
    errno = exc.errno if isinstance(exc, OSError | av.error.FFmpegError) else None
    return RecordError(f"{what}: {exc}", errno=errno if isinstance(errno, int) else None)


class Muxer:
    """One MP4 file being written by stream copy: `write` packets of `info`, then `close` (or `abort`).

    `path` must already exist (the caller creates it with the permissions it wants; FFmpeg
    truncates it and keeps its mode). Not thread-safe: one thread writes a muxer.
    """

    def __init__(self, path: Path, info: StreamInfo, *, movflags: str) -> None:
        self.path = path
        self.info = info
        try:
            with av.open(io.BytesIO(b""), "r", format=info.codec) as probe:
                template = probe.streams.video[0]
                # flush_packets: hand each finished fragment to the OS at once (it survives a SIGKILL).
                options = {"movflags": movflags, "flush_packets": "1"}
                self._out: Any = av.open(str(path), "w", format="mp4", options=options)
                self._stream: Any = self._out.add_stream_from_template(template)
            ctx = self._stream.codec_context
            ctx.width = info.width
            ctx.height = info.height
            ctx.extradata = info.extradata or None
            if info.codec == "hevc":
                ctx.codec_tag = "hvc1"  # what Safari and Apple players want for H.265 in MP4
            self._stream.time_base = info.time_base
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            raise _mapped(f"cannot open {path.name} for writing", exc) from exc
        self._closed = False

    def write(self, data: bytes, pts: int, dts: int, duration: int, keyframe: bool) -> None:
        """Mux one packet; its timestamps are in `info.time_base`."""
        packet = av.Packet(data)
        packet.pts = pts
        packet.dts = dts
        packet.duration = duration
        packet.is_keyframe = keyframe
        packet.time_base = self.info.time_base
        packet.stream = self._stream
        try:
            self._out.mux_one(packet)
        except (av.error.FFmpegError, OSError) as exc:
            raise _mapped(f"cannot write {self.path.name}", exc) from exc

    def close(self) -> None:
        """Write the trailer (the last fragment, or the faststart `moov`) and close the file."""
        if self._closed:
            return
        self._closed = True
        try:
            self._out.close()
        except (av.error.FFmpegError, OSError) as exc:
            raise _mapped(f"cannot finish {self.path.name}", exc) from exc

    def abort(self) -> None:
        """Close without caring whether the file is complete (the caller removes or repairs it)."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(av.error.FFmpegError, OSError):
            self._out.close()


def _stream_info(stream: Any) -> StreamInfo:
    ctx = stream.codec_context
    try:
        codec = as_codec(ctx.name)
    except ValueError as exc:
        raise RecordError(str(exc)) from exc
    return StreamInfo(
        codec=codec,
        width=int(ctx.width),
        height=int(ctx.height),
        time_base=Fraction(stream.time_base),
        extradata=bytes(ctx.extradata or b""),
    )


def read_packets(path: Path) -> Iterator[Packet]:
    """The video packets of an MP4 file in decode order, with `origin` 0 (the caller places them).

    Raises RecordError when the file cannot be opened or read.
    """
    try:
        # No decoder while probing (~0.6 ms an open instead of ~50 ms at 720p).
        container: Any = av.open(str(path), "r", options=_NO_DECODING)
    except (av.error.FFmpegError, OSError) as exc:
        raise _mapped(f"cannot open {path.name}", exc) from exc
    with container:
        if not container.streams.video:
            raise RecordError(f"{path.name} has no video")
        stream = container.streams.video[0]
        info = _stream_info(stream)
        try:
            for packet in container.demux(stream):
                if packet.dts is None or packet.size == 0:
                    continue  # the demuxer's end-of-stream marker
                pts = packet.pts if packet.pts is not None else packet.dts
                yield Packet(
                    data=bytes(packet),
                    pts=int(pts),
                    dts=int(packet.dts),
                    keyframe=bool(packet.is_keyframe),
                    stream=info,
                    origin=0.0,
                    duration=int(packet.duration or 0),
                )
        except (av.error.FFmpegError, OSError) as exc:
            raise _mapped(f"cannot read {path.name}", exc) from exc


class H264Encoder:
    """libx264 at a fixed size: BGR frames in, Annex-B packets out (parameter sets in `info.extradata`).

    `zerolatency`: no B-frames and no lookahead, so each frame's packet comes out at once
    (dts == pts). One thread, so a camera's encoder costs one core at most.
    """

    TIME_BASE = Fraction(1, 90_000)  # RTP's video clock

    def __init__(self, width: int, height: int, *, fps: float, gop: int, preset: str, crf: int) -> None:
        try:
            ctx: Any = av.CodecContext.create("libx264", "w")
            ctx.width = width
            ctx.height = height
            ctx.pix_fmt = "yuv420p"
            ctx.time_base = self.TIME_BASE
            ctx.framerate = Fraction(fps).limit_denominator(1001)
            ctx.gop_size = gop
            ctx.thread_count = 1
            ctx.flags |= Flags.global_header  # SPS/PPS as extradata, the way the MP4 muxer wants them
            ctx.options = {
                "preset": preset,
                "tune": "zerolatency",
                "crf": str(crf),
                "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0",
            }
            ctx.open()
        except (av.error.FFmpegError, ValueError) as exc:
            raise _mapped("cannot open the H.264 encoder", exc) from exc
        self._ctx = ctx
        self.info = StreamInfo("h264", width, height, self.TIME_BASE, bytes(ctx.extradata or b""))

    def encode(self, bgr: npt.NDArray[np.uint8], pts: int) -> list[tuple[bytes, int, int, bool]]:
        """Encode one frame (any size: scaled to the encoder's) at `pts` (90 kHz): (data, pts, dts, keyframe)s."""
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(bgr), format="bgr24")
        frame = frame.reformat(width=self.info.width, height=self.info.height, format="yuv420p")
        frame.pts = pts
        frame.time_base = self.TIME_BASE
        return self._packets(frame)

    def flush(self) -> list[tuple[bytes, int, int, bool]]:
        return self._packets(None)

    def _packets(self, frame: Any) -> list[tuple[bytes, int, int, bool]]:
        try:
            packets = self._ctx.encode(frame)
        except (av.error.FFmpegError, ValueError) as exc:
            raise _mapped("H.264 encoding failed", exc) from exc
        return [(bytes(p), int(p.pts), int(p.dts), bool(p.is_keyframe)) for p in packets]
