"""`SegmentWriter`: one camera's packets, stream-copied into short MP4 segments cut on keyframes.

A segment opens on a keyframe and is cut at the first keyframe at least `target_seconds`
after its start (so segments are target..target+GOP long; a camera sending a keyframe
every 10 s makes 10 s segments), or at the first keyframe after the capture moved the
wall clock (a new `origin`: each segment is placed with one). It is cut at once when the
stream changes (new codec parameters: a reconnect or a reconfigured camera) or its decode
time goes backwards (a reconnect: pts restart); after such a cut, packets are dropped
until the next keyframe, since a segment must start decodable. Nothing is decoded or
re-encoded.

Crash safety: a segment is written as fragmented MP4 (one `moof`+`mdat` per GOP after
an empty `moov`) to `<start_ms>.mp4.part`; on completion it is read back (every frame
written must be there: FFmpeg does not report every failed write), fsynced and renamed
to `<start_ms>.mp4` (the folder fsynced too). A SIGKILL or power cut loses at most the
segment being written, and no file under a final name is ever half-written; `recover()`
turns a `.part` left behind into a segment of its complete fragments, or removes it. A
write that fails (disk full) loses that segment only: `write` raises RecordError, and
the next keyframe starts a new segment.

Timing: each packet is held back until the next arrives, so its duration is the exact
gap to the next frame (cameras often send none) and the segment's `end` is exact; the
file's timeline starts at dts 0. Not thread-safe: one thread (the camera's) writes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from app.record.files import create_part, publish, remove_quietly
from app.record.mux import FRAGMENTED, Muxer
from app.record.nal import is_annexb, keyframe_extradata
from app.record.recover import probe
from app.record.values import Packet, RecordError, Segment, StreamInfo

log = logging.getLogger(__name__)

TARGET_SECONDS = 4.0
SegmentSink = Callable[[Segment], object]


class _Open:
    """The segment being written: its muxer and what its `Segment` will say."""

    def __init__(self, muxer: Muxer, first: Packet) -> None:
        self.muxer = muxer
        self.first = first
        self.info = muxer.info  # the stream's parameters as written (parameter sets filled in)
        self.base = first.dts  # the file's timeline starts at dts 0
        self.frames = 0
        self.end_pts = first.pts  # latest pts + duration written, in the stream's ticks
        self.last_gap = 0  # the latest gap between two frames' dts: the last frame's duration


class SegmentWriter:
    """Writes packets into `folder` as segments; each finished one is passed to `on_segment`.

    `write` raises RecordError when the file system or the muxer fails (disk full: its
    `errno` is ENOSPC); the segment being written is then dropped and the next keyframe
    starts a new one, so recording resumes by itself once the cause is gone.
    """

    def __init__(
        self,
        camera: str,
        folder: Path,
        on_segment: SegmentSink,
        *,
        target_seconds: float = TARGET_SECONDS,
        durable: bool = True,
    ) -> None:
        if target_seconds <= 0:
            raise ValueError("target_seconds must be > 0")
        self.camera = camera
        self.folder = Path(folder)
        self.target_seconds = target_seconds
        self.durable = durable  # fsync each finished segment and its folder
        self.dropped = 0  # packets dropped while waiting for a keyframe
        self._on_segment = on_segment
        self._open: _Open | None = None
        self._held: Packet | None = None  # written when the next packet says how long it lasts

    @property
    def recording(self) -> bool:
        """Whether a segment is open."""
        return self._open is not None

    def write(self, packet: Packet) -> None:
        held, self._held = self._held, None
        finished: Segment | None = None
        failure: RecordError | None = None
        try:
            if held is not None:
                if self._continues(held, packet):
                    self._put(held, packet.dts - held.dts)
                    if packet.keyframe and self._due(packet):
                        finished = self._finish()
                else:
                    finished = self._finish_with(held)
        except RecordError as exc:
            failure = exc  # that segment is lost; this packet may still start the next one
        if self._open is None:
            if not packet.keyframe:
                self.dropped += 1
            else:
                try:
                    self._start(packet)
                except RecordError as exc:
                    failure = failure or exc
        if self._open is not None:
            self._held = packet
        self._report(finished)
        if failure is not None:
            raise failure

    def close(self) -> Segment | None:
        """Finish the open segment (reported to `on_segment` too) and return it."""
        held, self._held = self._held, None
        finished = self._finish_with(held) if held is not None else self._finish()
        self._report(finished)
        return finished

    # -- inside ----------------------------------------------------------------------------

    def _continues(self, held: Packet, packet: Packet) -> bool:
        """Whether `packet` can follow `held` in the same file (same parameters, decode time going on)."""
        return (packet.stream is held.stream or packet.stream == held.stream) and packet.dts > held.dts

    def _due(self, keyframe: Packet) -> bool:
        """Whether the segment ends before this keyframe: long enough, or the capture moved the clock."""
        assert self._open is not None
        first = self._open.first
        return (
            keyframe.stream.seconds(keyframe.pts - first.pts) >= self.target_seconds or keyframe.origin != first.origin
        )

    def _start(self, packet: Packet) -> None:
        info = self._file_info(packet)
        part = None
        try:
            part = create_part(self.folder, packet.time)
            self._open = _Open(Muxer(part, info, movflags=FRAGMENTED), packet)
        except (OSError, RecordError) as exc:
            if part is not None:
                remove_quietly(part)
            raise _record_error(f"{self.camera}: cannot start a segment", exc) from exc

    @staticmethod
    def _file_info(packet: Packet) -> StreamInfo:
        """The stream's parameters, with parameter sets taken from the keyframe when the stream gave none."""
        info = packet.stream
        if info.extradata:
            return info
        extradata = keyframe_extradata(info.codec, packet.data)
        if not extradata:
            framing = "Annex-B" if is_annexb(packet.data) else "length-prefixed"
            raise RecordError(f"no parameter sets: no extradata and none in the {framing} keyframe")
        return StreamInfo(info.codec, info.width, info.height, info.time_base, extradata)

    def _put(self, packet: Packet, duration: int) -> None:
        segment = self._open
        assert segment is not None
        duration = max(duration if duration > 0 else packet.duration or segment.last_gap, 0)
        try:
            segment.muxer.write(
                packet.data, packet.pts - segment.base, packet.dts - segment.base, duration, packet.keyframe
            )
        except RecordError:
            self._abort()
            raise
        segment.frames += 1
        segment.last_gap = duration or segment.last_gap
        segment.end_pts = max(segment.end_pts, packet.pts + duration)

    def _finish_with(self, last: Packet) -> Segment | None:
        if self._open is not None:
            self._put(last, last.duration or self._open.last_gap)
        return self._finish()

    def _finish(self) -> Segment | None:
        segment, self._open = self._open, None
        if segment is None:
            return None
        part = segment.muxer.path
        try:
            segment.muxer.close()
            on_disk = probe(part, self.camera).frames
            if on_disk != segment.frames:
                # FFmpeg does not always report a failed write of the last fragment (the file is
                # closed after the trailer without a check): what is on disk is the judge.
                raise RecordError(f"{on_disk} of {segment.frames} frames reached the disk")
            size = part.stat().st_size
            path = publish(part, durable=self.durable)
        except (OSError, RecordError) as exc:
            remove_quietly(part)
            raise _record_error(f"{self.camera}: cannot finish {part.name}", exc) from exc
        first = segment.first
        end = first.origin + first.stream.seconds(segment.end_pts)
        return Segment(self.camera, path, first.time, end, size, segment.frames, segment.info)

    def _abort(self) -> None:
        segment, self._open = self._open, None
        if segment is not None:
            segment.muxer.abort()
            remove_quietly(segment.muxer.path)

    def _report(self, segment: Segment | None) -> None:
        if segment is not None:
            log.debug("%s: segment %s, %.1f s", self.camera, segment.path.name, segment.duration)
            self._on_segment(segment)


def _record_error(what: str, exc: BaseException) -> RecordError:
    errno = exc.errno if isinstance(exc, OSError | RecordError) else None
    return RecordError(f"{what}: {exc}", errno=errno)
