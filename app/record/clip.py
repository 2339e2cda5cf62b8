"""`build_clip`: an event's footage from its segments, joined and trimmed without re-encoding.

The clip starts at the keyframe at or before the window's start (a clip cannot start
decodable anywhere else without re-encoding) and ends with the GOP that holds the
window's end: whole GOPs around [start, end]. Packets are copied as they are; only
their timestamps move onto the clip's timeline (wall clock minus the clip's start, so
a gap in the recording, e.g. a camera that reconnected, stays a gap in time rather than
a jump in the picture). The MP4 is written with `faststart` (`moov` before `mdat`) so a
browser's `<video>` can start playing at the first bytes, to `<out>.part` first and
renamed, mode 0600.

An event still recording gets a clip of the segments finished so far (a segment being
written is never passed in: it is not a `Segment` until it is finished): `Clip.partial`
then says the footage ends before the window does, and asking again later gives more.
Segments whose codec parameters differ from the first one's (a camera reconfigured
mid-event) are left out and counted in `Clip.skipped`: one MP4 track has one set.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from app.record.files import FILE_MODE, PART, remove_quietly
from app.record.mux import FASTSTART, Muxer, read_packets
from app.record.nal import parameter_sets
from app.record.values import Clip, Packet, RecordError, Segment, StreamInfo

# Wall-clock slack when comparing a frame's time with the window's edges: float rounding of
# origin + pts * time_base, far below one frame.
SLACK = 1e-3


class NoFootage(RecordError):
    """No recorded segment overlaps the window."""


@dataclass(frozen=True, slots=True)
class _Written:
    start: float
    end: float
    frames: int
    segments: int


@dataclass(frozen=True, slots=True)
class _Timed:
    packet: Packet
    time: float  # wall clock of its presentation
    source: Path  # the segment it comes from


def same_parameters(a: StreamInfo, b: StreamInfo) -> bool:
    """Whether two streams' frames can share one MP4 track: codec, size and parameter sets (any framing)."""
    return (a.codec, a.width, a.height) == (b.codec, b.width, b.height) and parameter_sets(
        a.codec, a.extradata
    ) == parameter_sets(b.codec, b.extradata)


def _timed(segment: Segment) -> Iterator[_Timed]:
    """A segment's packets on the wall clock: its first frame is at `segment.start`."""
    first_pts: int | None = None
    for packet in read_packets(segment.path):
        if first_pts is None:
            first_pts = packet.pts
        yield _Timed(packet, segment.start + packet.stream.seconds(packet.pts - first_pts), segment.path)


def _window(segments: Sequence[Segment], start: float, end: float) -> Iterator[_Timed]:
    """The packets from the keyframe at or before `start` to the end of the GOP holding `end`."""
    gop: list[_Timed] = []  # the GOP in progress while still before `start`
    started = False
    for segment in segments:
        for timed in _timed(segment):
            if not started:
                if timed.packet.keyframe:
                    gop = []
                if not gop and not timed.packet.keyframe:
                    continue
                gop.append(timed)
                if timed.time >= start - SLACK:
                    started = True
                    yield from gop
                    gop = []
                continue
            if timed.packet.keyframe and timed.time > end + SLACK:
                return
            yield timed
    yield from gop  # the window starts after the footage ends: its last GOP


def build_clip(segments: Sequence[Segment], start: float, end: float, out: Path) -> Clip:
    """Write the footage of [start, end] (epoch seconds) from `segments` to `out` as a faststart MP4.

    `segments` may be any of a camera's finished segments, in any order: those that overlap
    the window are used. Raises NoFootage when none does, RecordError when a segment
    cannot be read or the clip cannot be written (nothing is left at `out` then).
    """
    if end < start:
        raise ValueError(f"the window ends ({end}) before it starts ({start})")
    chosen = sorted((s for s in segments if s.overlaps(start, end)), key=lambda s: s.start)
    if not chosen:
        raise NoFootage(f"no footage between {start:.3f} and {end:.3f}")
    usable = [s for s in chosen if same_parameters(s.stream, chosen[0].stream)]
    out = Path(out)
    part = out.with_name(out.name + PART)
    try:
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, FILE_MODE)
        os.close(fd)
        written = _write(usable, start, end, part)
        os.replace(part, out)
    except OSError as exc:
        remove_quietly(part)
        raise RecordError(f"cannot write the clip {out.name}: {exc}", errno=exc.errno) from exc
    except RecordError:
        remove_quietly(part)
        raise
    covered = max(s.end for s in usable)
    return Clip(
        path=out,
        start=written.start,
        end=written.end,
        size=out.stat().st_size,
        frames=written.frames,
        segments=written.segments,
        partial=covered < end - SLACK,
        skipped=len(chosen) - len(usable),
    )


def _write(segments: Sequence[Segment], start: float, end: float, part: Path) -> _Written:
    """Mux the window's packets into `part`, each segment's timeline moved onto the clip's."""
    muxer: Muxer | None = None
    clip_start = 0.0
    tb = Fraction(1)
    last_dts: int | None = None
    source: Path | None = None
    offset = 0  # ticks from a segment's own timeline to the clip's, set at its first packet
    shift = 0  # ticks added to keep dts strictly increasing across segment joins
    frames = 0
    clip_end = 0.0
    used = 0
    try:
        for timed in _window(segments, start, end):
            packet = timed.packet
            if muxer is None:
                muxer = Muxer(part, packet.stream, movflags=FASTSTART)
                clip_start, tb = timed.time, packet.stream.time_base
            scale = packet.stream.time_base / tb
            if timed.source != source:
                source, used = timed.source, used + 1
                offset = round(Fraction(timed.time - clip_start) / tb) - round(packet.pts * scale)
            pts, dts = round(packet.pts * scale) + offset, round(packet.dts * scale) + offset
            if last_dts is not None and dts + shift <= last_dts:
                shift = last_dts + 1 - dts
            pts, dts = pts + shift, dts + shift
            duration = round(packet.duration * scale)
            muxer.write(packet.data, pts, dts, duration, packet.keyframe)
            last_dts = dts
            frames += 1
            clip_end = max(clip_end, timed.time + packet.stream.seconds(packet.duration))
        if muxer is None:
            raise NoFootage(f"the segments around {start:.3f} hold no frames")
        muxer.close()
    except RecordError:
        if muxer is not None:
            muxer.abort()
        raise
    return _Written(clip_start, clip_end, frames, used)
