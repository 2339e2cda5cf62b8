"""SegmentWriter over real H.264/H.265 packets: cut on keyframes, stream-copied, every frame kept once."""

from __future__ import annotations

import errno
import stat
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from app.record import Packet, RecordError, Segment, SegmentWriter, StreamInfo
from app.record.nal import parameter_sets
from tests.record.conftest import record
from tests.record.media import ORIGIN, Source, codec_params, frame_indices, iter_mp4_packets, packets, stream_info


def test_segments_are_cut_on_keyframes_and_hold_every_frame_once(source: Source, tmp_path: Path) -> None:
    items = packets(source.path)
    segments = record(items, tmp_path, target=3.5)  # due mid-GOP: cut at the next keyframe
    gop_s = source.gop / source.fps
    keyframe_times = {round(p.time, 6) for p in items if p.keyframe}

    assert len(segments) == 5  # 20 s in 4 s segments (3.5 s, rounded up to whole GOPs)
    for i, segment in enumerate(segments):
        assert round(segment.start, 6) in keyframe_times  # every segment starts at a source keyframe
        demuxed = list(iter_mp4_packets(segment.path))
        assert demuxed[0][2], f"{segment.path.name} does not start on a keyframe"
        assert segment.frames == len(demuxed)
        if i < len(segments) - 1:
            assert 3.5 <= segment.duration < 3.5 + gop_s
            assert segment.end == pytest.approx(segments[i + 1].start, abs=1e-6)  # no gap, no overlap
    assert segments[0].start == pytest.approx(ORIGIN)
    assert segments[-1].end == pytest.approx(ORIGIN + source.seconds, abs=1e-3)

    # Decoded end to end, the segments hold source frames 0..239 once each, in order.
    decoded = [index for segment in segments for index in frame_indices(segment.path)]
    assert decoded == list(range(source.frames))
    assert sum(s.frames for s in segments) == source.frames


def test_segments_are_stream_copies_of_the_source(source: Source, tmp_path: Path) -> None:
    segments = record(packets(source.path), tmp_path)
    original = codec_params(source.path)
    info = stream_info(source.path)
    for segment in segments:
        assert codec_params(segment.path) == original
        assert stream_info(segment.path).extradata == info.extradata  # the very avcC bytes
        assert segment.stream.extradata == info.extradata
    # Stream copy keeps the bytes: the segments' samples are the source's samples.
    copied = sum(s.path.stat().st_size for s in segments)
    assert 0.95 * source.path.stat().st_size < copied < 1.10 * source.path.stat().st_size


def test_files_are_0600_in_0700_folders_and_no_part_is_left(source: Source, tmp_path: Path) -> None:
    folder = tmp_path / "porch"
    segments = record(packets(source.path)[:60], folder, target=2.0)
    assert segments
    for segment in segments:
        assert stat.S_IMODE(segment.path.stat().st_mode) == 0o600
        assert segment.path.parent.parent.parent == folder  # <folder>/<date>/<hour>/<ms>.mp4
        assert segment.path.name == f"{round(segment.start * 1000)}.mp4"
        for parent in (segment.path.parent, segment.path.parent.parent, folder):
            assert stat.S_IMODE(parent.stat().st_mode) == 0o700
    assert not list(folder.rglob("*.part"))


@pytest.mark.parametrize("framing", ["annexb", "inband_only"])
def test_rtsp_style_annexb_packets_are_recorded(source: Source, tmp_path: Path, framing: str) -> None:
    """Start codes in the packets and Annex-B extradata (RTSP's sprop-parameter-sets), or no extradata at
    all (parameter sets only in front of keyframes): the segments decode and carry the camera's SPS/PPS."""
    items = packets(source.path, annexb=framing == "annexb", inband_only=framing == "inband_only")
    assert items[0].data.startswith(b"\x00\x00\x00\x01")
    assert (items[0].stream.extradata == b"") == (framing == "inband_only")
    segments = record(items[:72], tmp_path, target=2.0)
    assert len(segments) == 3
    expected = parameter_sets("h264", stream_info(source.path).extradata)
    decoded: list[int] = []
    for segment in segments:
        params = codec_params(segment.path)
        assert params["parameter_sets"] == expected
        assert (params["profile"], params["size"]) == ("Main", source.size)
        decoded += frame_indices(segment.path)
    assert decoded == list(range(72))


def test_hevc_is_recorded(hevc_source: Source, tmp_path: Path) -> None:
    segments = record(packets(hevc_source.path), tmp_path, target=1.0)
    assert len(segments) == 3
    for segment in segments:
        assert codec_params(segment.path) == codec_params(hevc_source.path)
    assert [i for s in segments for i in frame_indices(s.path)] == list(range(hevc_source.frames))


def test_bframes_keep_their_order(bframe_source: Source, tmp_path: Path) -> None:
    items = packets(bframe_source.path)
    assert any(p.pts != p.dts for p in items), "the source should have B-frames"
    segments = record(items, tmp_path, target=2.0)
    assert [i for s in segments for i in frame_indices(s.path)] == list(range(bframe_source.frames))


@pytest.mark.parametrize("clock", ["restarts", "continues"])
def test_a_new_stream_cuts_a_segment_and_waits_for_its_keyframe(
    source: Source, small_source: Source, tmp_path: Path, clock: str
) -> None:
    """The camera comes back with other parameters, its pts restarting (a reconnect) or going on (reconfigured
    in place). The first segment ends where the old stream does; the new one's frames before its first
    keyframe are dropped."""
    before = packets(source.path)[:30]  # 2.5 s
    after = packets(small_source.path, origin=ORIGIN + 10.0)[5:]  # joins mid-GOP
    if clock == "continues":
        shift = before[-1].dts + 1_000_000
        after = [
            replace(p, pts=p.pts + shift, dts=p.dts + shift, origin=p.origin - p.stream.seconds(shift)) for p in after
        ]
    assert after[0].time == pytest.approx(ORIGIN + 10.0 + 5 / 12)
    segments: list[Segment] = []
    writer = SegmentWriter("porch", tmp_path, segments.append, target_seconds=4.0, durable=False)
    for packet in before + after:
        writer.write(packet)
    writer.close()
    assert writer.dropped == 7  # frames 5..11 of the new stream: no keyframe to decode them from
    assert [s.frames for s in segments] == [30, 48, 12]
    assert segments[0].end == pytest.approx(ORIGIN + 2.5)
    assert segments[1].start == pytest.approx(ORIGIN + 11.0)
    assert codec_params(segments[1].path)["size"] == (640, 360)
    assert frame_indices(segments[0].path) == list(range(30))
    assert frame_indices(segments[1].path) == list(range(1012, 1060))


def test_a_clock_step_back_cuts_a_segment(source: Source, tmp_path: Path) -> None:
    items = packets(source.path)[:24]
    again = packets(source.path, origin=ORIGIN + 100)[:24]  # pts restart from 0: a reconnect, same params
    segments = record(items + again, tmp_path, target=10.0)
    assert [s.frames for s in segments] == [24, 24]
    assert segments[1].start == pytest.approx(ORIGIN + 100)


def test_a_moved_clock_cuts_at_the_next_keyframe_and_drops_nothing(source: Source, tmp_path: Path) -> None:
    """The capture re-anchors its wall clock mid-GOP (drift, or an NTP step): pts go on, nothing is lost."""
    items = packets(source.path)[:30] + packets(source.path, origin=ORIGIN + 0.25)[30:60]
    segments = record(items, tmp_path, target=10.0)
    assert [s.frames for s in segments] == [36, 24]
    assert segments[0].start == pytest.approx(ORIGIN)
    assert segments[1].start == pytest.approx(ORIGIN + 3.25)
    assert [i for s in segments for i in frame_indices(s.path)] == list(range(60))


def test_a_stream_with_no_parameter_sets_is_refused(source: Source, tmp_path: Path) -> None:
    first = packets(source.path)[0]  # length-prefixed, so its in-band SPS cannot be found
    bare = StreamInfo("h264", 1280, 720, first.stream.time_base, b"")
    packet = Packet(first.data, first.pts, first.dts, True, bare, ORIGIN)
    writer = SegmentWriter("porch", tmp_path, lambda _s: None, durable=False)
    with pytest.raises(RecordError, match="no parameter sets"):
        writer.write(packet)
    assert not writer.recording
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


@pytest.mark.parametrize(
    ("first", "kept", "codes"),
    [
        # mid-segment: the segment started at packet 48 fails at its first fragment; 0-47 are safe
        (54, [*range(48), *range(120, 240)], {errno.EFBIG}),
        # as a segment is finished (packet 48): its last fragment is lost, FFmpeg does not say so,
        # the read-back does (errno None), and that segment goes; the keyframe that cut it still starts one
        (48, list(range(120, 240)), {None, errno.EFBIG}),
    ],
)
def test_write_failures_drop_only_the_segment_being_written_and_recording_resumes(
    source: Source, tmp_path: Path, first: int, kept: list[int], codes: set[int | None]
) -> None:
    """The kernel refuses writes (EFBIG here; a full disk says ENOSPC) from packet `first` to 119, in a child."""
    folder = tmp_path / "porch"
    result = subprocess.run(
        [sys.executable, "-m", "tests.record.full_writer", str(source.path), str(folder), str(first)],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    lines = [line.split() for line in result.stdout.splitlines()]
    errors = [
        (int(n), None if code == "None" else int(code)) for kind, n, code in (x for x in lines if x[0] == "error")
    ]
    assert errors
    assert {code for _, code in errors} == codes
    assert all(first <= n < 120 for n, _ in errors)
    assert lines[-1] == ["done"]
    assert not list(folder.rglob("*.part"))  # what failed was removed, not left half-written
    reported = {Path(x[1]): int(x[2]) for x in lines if x[0] == "segment"}
    finals = sorted(folder.rglob("*.mp4"))
    assert sorted(reported) == finals
    decoded = [frame_indices(p) for p in finals]
    assert [len(d) for d in decoded] == [reported[p] for p in finals]  # what was reported is what is there
    assert [i for d in decoded for i in d] == kept
