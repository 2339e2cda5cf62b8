"""build_clip over real segments: whole GOPs around the window, stream-copied, faststart, growing while recording."""

from __future__ import annotations

import itertools
import math
import stat
from pathlib import Path

import av
import pytest

from app.record import NoFootage, Segment, SegmentWriter, build_clip
from tests.record.conftest import record
from tests.record.media import ORIGIN, Source, codec_params, frame_indices, packets, top_boxes


@pytest.fixture(scope="module")
def segments(source: Source, tmp_path_factory: pytest.TempPathFactory) -> list[Segment]:
    return record(packets(source.path), tmp_path_factory.mktemp("clip-segments"), target=4.0)


def clip_duration(path: Path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.duration is not None
        assert stream.time_base is not None
        return float(stream.duration * stream.time_base)


def test_clip_is_whole_gops_around_the_window(source: Source, segments: list[Segment], tmp_path: Path) -> None:
    start, end = ORIGIN + 5.3, ORIGIN + 13.6  # across three segments: 4-8, 8-12, 12-16
    clip = build_clip(segments, start, end, tmp_path / "event.mp4")

    fps, gop = source.fps, source.gop
    first = math.floor(5.3 * fps / gop) * gop  # the keyframe at or before the start: frame 60 (5.0 s)
    last = math.ceil(13.6 * fps / gop) * gop - 1  # the end of the GOP holding the end: frame 167
    assert frame_indices(clip.path) == list(range(first, last + 1))  # decodes; every frame once, in order
    assert clip.frames == last - first + 1
    assert clip.segments == 3
    assert not clip.partial
    assert clip.skipped == 0
    assert clip.start == pytest.approx(ORIGIN + 5.0)
    assert clip.end == pytest.approx(ORIGIN + 14.0)
    # It covers the window, within one segment either side.
    assert clip.start <= start
    assert clip.end >= end
    assert clip_duration(clip.path) == pytest.approx(clip.duration, abs=1 / fps)
    assert end - start <= clip_duration(clip.path) <= end - start + 2 * 4.0


def test_clip_is_a_stream_copy_with_faststart(source: Source, segments: list[Segment], tmp_path: Path) -> None:
    clip = build_clip(segments, ORIGIN + 2.0, ORIGIN + 9.0, tmp_path / "event.mp4")
    assert codec_params(clip.path) == codec_params(source.path)  # profile, level, size, SPS/PPS
    boxes = top_boxes(clip.path)
    assert boxes.index("moov") < boxes.index("mdat"), boxes
    assert "moof" not in boxes  # one plain MP4 a browser can seek, not fragments
    assert stat.S_IMODE(clip.path.stat().st_mode) == 0o600
    assert not list(tmp_path.glob("*.part"))
    assert clip.size == clip.path.stat().st_size


def test_window_at_the_edges_of_the_footage(segments: list[Segment], tmp_path: Path) -> None:
    clip = build_clip(segments, ORIGIN - 30.0, ORIGIN + 1.5, tmp_path / "early.mp4")
    assert frame_indices(clip.path) == list(range(24))  # from the first frame recorded
    assert not clip.partial

    clip = build_clip(segments, ORIGIN + 18.5, ORIGIN + 30.0, tmp_path / "late.mp4")
    assert frame_indices(clip.path) == list(range(216, 240))
    assert clip.partial  # the window runs past the footage

    with pytest.raises(NoFootage):
        build_clip(segments, ORIGIN + 60.0, ORIGIN + 70.0, tmp_path / "none.mp4")
    with pytest.raises(NoFootage):
        build_clip([], ORIGIN, ORIGIN + 1, tmp_path / "none.mp4")
    assert not list(tmp_path.glob("none.mp4*"))


def test_clip_of_an_event_still_recording_is_partial_and_grows(source: Source, tmp_path: Path) -> None:
    """Mid-event, only finished segments exist; the one being written (a .part) is never read."""
    folder = tmp_path / "porch"
    done: list[Segment] = []
    writer = SegmentWriter("porch", folder, done.append, target_seconds=4.0, durable=False)
    items = packets(source.path)
    for packet in items[:130]:  # 10.8 s: segments 0-4 and 4-8 finished, 8-... being written
        writer.write(packet)
    assert len(done) == 2
    assert writer.recording
    assert len(list(folder.rglob("*.part"))) == 1

    event = (ORIGIN + 6.0, ORIGIN + 15.0)
    now = build_clip(done, *event, tmp_path / "now.mp4")
    assert now.partial
    assert frame_indices(now.path) == list(range(72, 96))
    assert now.end == pytest.approx(ORIGIN + 8.0)

    for packet in items[130:]:
        writer.write(packet)
    writer.close()
    later = build_clip(done, *event, tmp_path / "later.mp4")
    assert not later.partial
    assert frame_indices(later.path) == list(range(72, 192))  # 15.0 s is a keyframe: its GOP is in


def test_clip_across_a_reconnect_keeps_both_parts(source: Source, tmp_path: Path) -> None:
    """The camera drops at 6 s and is back at 9 s with a new clock: the clip has both parts and a gap."""
    items = packets(source.path)
    back = [p for p in packets(source.path, origin=ORIGIN + 9.0 - 6.0) if p.time >= ORIGIN + 9.0]
    segments = record(items[:72] + back, tmp_path / "porch", target=4.0)
    clip = build_clip(segments, ORIGIN + 4.0, ORIGIN + 11.0, tmp_path / "event.mp4")
    # wall 4..6 s is frames 48..71; wall 9..11 s is frames 72..95, then the GOP holding 11 s: to 107
    assert frame_indices(clip.path) == list(range(48, 108))
    with av.open(str(clip.path)) as container:
        stream = container.streams.video[0]
        assert stream.time_base is not None
        times = [float(f.pts * stream.time_base) for f in container.decode(stream) if f.pts is not None]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert max(gaps) == pytest.approx(3.0 + 1 / 12, abs=0.01)  # the outage stays an outage in time
    assert sorted(gaps)[-2] == pytest.approx(1 / 12, abs=0.01)


def test_segments_with_other_parameters_are_left_out(
    source: Source, small_source: Source, segments: list[Segment], tmp_path: Path
) -> None:
    other = record(packets(small_source.path, origin=ORIGIN + 20.0), tmp_path / "other", target=4.0)
    clip = build_clip(segments + other, ORIGIN + 16.5, ORIGIN + 25.0, tmp_path / "event.mp4")
    assert clip.skipped == len(other) == 2
    assert frame_indices(clip.path) == list(range(192, 240))
    assert codec_params(clip.path)["size"] == source.size


def test_bframe_clip_decodes_in_order(bframe_source: Source, tmp_path: Path) -> None:
    segments = record(packets(bframe_source.path), tmp_path / "b", target=2.0)
    clip = build_clip(segments, ORIGIN + 1.5, ORIGIN + 4.5, tmp_path / "event.mp4")
    assert frame_indices(clip.path) == list(range(12, 60))
    assert codec_params(clip.path) == codec_params(bframe_source.path)


def test_annexb_recorded_segments_make_a_clip_with_the_cameras_parameters(source: Source, tmp_path: Path) -> None:
    segments = record(packets(source.path, annexb=True)[:120], tmp_path / "rtsp", target=4.0)
    clip = build_clip(segments, ORIGIN + 3.0, ORIGIN + 7.0, tmp_path / "event.mp4")
    assert codec_params(clip.path) == codec_params(source.path)
    assert frame_indices(clip.path) == list(range(36, 96))
