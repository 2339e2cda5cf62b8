"""After a crash: turn each half-written segment (`*.mp4.part`) into a playable one, or remove it.

A `.part` is fragmented MP4: `ftyp`, an empty `moov`, then a `moof`+`mdat` pair per GOP.
FFmpeg writes each box's size before its body, so the boxes can be walked from the
start without trusting anything after a cut: the file is truncated after the last
`mdat` that completes a fragment (a power cut may also leave zeros where data never
reached the disk; a zero size ends the walk there too). What is left is read back with
the demuxer; if it holds at least one frame starting on a keyframe it is published
under its final name (fsynced, renamed) and reported as a `Segment`, else removed.

Call `recover` before a camera's `SegmentWriter` starts on the same folder: a `.part`
being written looks exactly like one left by a crash.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path

from app.record.files import PART, fsync_path, publish, remove_quietly, start_of
from app.record.mux import read_packets
from app.record.values import RecordError, Segment

log = logging.getLogger(__name__)

_HEADER = 8


@dataclass(frozen=True, slots=True)
class Recovery:
    """What `recover` did: segments repaired (now under their final names) and files removed."""

    repaired: tuple[Segment, ...]
    removed: tuple[Path, ...]


def complete_length(path: Path) -> int:
    """Bytes of `path` up to the end of its last complete fragment; 0 when it has none."""
    good = 0
    fragments = 0
    in_fragment = False
    with path.open("rb") as file:
        total = os.fstat(file.fileno()).st_size
        pos = 0
        while pos + _HEADER <= total:
            file.seek(pos)
            header = file.read(_HEADER)
            size, kind = int.from_bytes(header[:4], "big"), header[4:8]
            if size == 1:  # a 64-bit size follows the type
                size = int.from_bytes(file.read(8), "big")
            if size < _HEADER or pos + size > total:
                break
            pos += size
            if kind == b"moof":
                in_fragment = True
            elif kind == b"mdat" and in_fragment:
                in_fragment = False
                fragments += 1
                good = pos
            elif fragments and not in_fragment:
                good = pos  # a complete box after the fragments (the final index, `mfra`)
    return good


def probe(path: Path, camera: str) -> Segment:
    """A finished (or repaired) segment file as a `Segment`: its start from its name, the rest read back.

    Raises RecordError when it is not one of ours, cannot be read, holds no frame, or does
    not start on a keyframe.
    """
    start = start_of(path)
    if start is None:
        raise RecordError(f"{path.name} is not a segment's name")
    frames = 0
    first_pts = end_pts = 0
    info = None
    for packet in read_packets(path):
        if info is None:
            if not packet.keyframe:
                raise RecordError(f"{path.name} does not start on a keyframe")
            info, first_pts, end_pts = packet.stream, packet.pts, packet.pts
        frames += 1
        end_pts = max(end_pts, packet.pts + packet.duration)
    if info is None:
        raise RecordError(f"{path.name} holds no frame")
    end = start + info.seconds(end_pts - first_pts)
    return Segment(camera, path, start, end, path.stat().st_size, frames, info)


def _repair(part: Path, camera: str) -> Segment | None:
    length = complete_length(part)
    if length == 0:
        return None
    if length < part.stat().st_size:
        os.truncate(part, length)
        fsync_path(part)
    try:
        segment = probe(part, camera)
    except RecordError as exc:
        log.warning("%s: %s cannot be repaired (%s)", camera, part.name, exc)
        return None
    return replace(segment, path=publish(part))


def recover(folder: Path, camera: str) -> Recovery:
    """Repair or remove every `.part` under `folder` (a camera's segment folder). Never raises for a bad file."""
    repaired: list[Segment] = []
    removed: list[Path] = []
    folder = Path(folder)
    if not folder.is_dir():
        return Recovery((), ())
    for part in sorted(folder.rglob("*" + PART)):
        if not part.is_file():
            continue
        try:
            segment = _repair(part, camera)
        except (OSError, RecordError) as exc:
            log.warning("%s: %s cannot be repaired (%s)", camera, part.name, exc)
            segment = None
        if segment is None:
            remove_quietly(part)
            removed.append(part)
        else:
            log.info("%s: repaired %s (%.1f s kept)", camera, segment.path.name, segment.duration)
            repaired.append(segment)
    return Recovery(tuple(repaired), tuple(removed))
