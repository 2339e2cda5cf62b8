"""CameraRecorder: in `events` mode footage starts pre-capture before an event and stops after it, seamlessly."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.record import CameraRecorder, Segment, build_clip
from tests.record.media import ORIGIN, Source, frame_indices, packets


def run(recorder: CameraRecorder, source: Source, events: list[tuple[float, float]], post: float) -> None:
    """Feed the source; while an event is on (seconds from the start), the pipeline keeps wanting footage."""
    for packet in packets(source.path):
        t = packet.time - ORIGIN
        if any(start <= t <= end for start, end in events):
            recorder.want_until(packet.time + post)
        recorder.push(packet)
    recorder.close()


def test_events_mode_records_pre_and_post_capture_only(source: Source, tmp_path: Path) -> None:
    segments: list[Segment] = []
    recorder = CameraRecorder("porch", tmp_path, segments.append, mode="events", pre_capture=3.0, durable=False)
    run(recorder, source, [(8.0, 10.0), (15.5, 16.0)], post=2.0)

    # Event 1 (8-10 s): from the keyframe at or before 8 - 3 = 5 s, to the GOP holding 10 + 2 = 12 s.
    # Event 2 (15.5-16 s): the ring refilled from the keyframe where event 1 stopped (13 s): no gap, no
    # repeat; it stops at the first keyframe after 16 + 2 = 18 s.
    assert segments[0].start == pytest.approx(ORIGIN + 5.0)
    decoded = [i for s in segments for i in frame_indices(s.path)]
    assert decoded == list(range(60, 228))
    assert segments[-1].end == pytest.approx(ORIGIN + 19.0)
    assert not recorder.recording

    clip = build_clip(segments, ORIGIN + 5.0, ORIGIN + 12.0, tmp_path / "event1.mp4")
    assert frame_indices(clip.path) == list(range(60, 156))
    assert not clip.partial


def test_nothing_is_written_without_an_event(source: Source, tmp_path: Path) -> None:
    segments: list[Segment] = []
    recorder = CameraRecorder("porch", tmp_path, segments.append, mode="events", pre_capture=5.0, durable=False)
    run(recorder, source, [], post=5.0)
    assert segments == []
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]
    assert 5.0 <= recorder.ring.span <= 6.0


def test_continuous_mode_records_everything(source: Source, tmp_path: Path) -> None:
    segments: list[Segment] = []
    recorder = CameraRecorder("porch", tmp_path, segments.append, mode="continuous", durable=False)
    run(recorder, source, [], post=5.0)
    assert [i for s in segments for i in frame_indices(s.path)] == list(range(source.frames))
    assert len(recorder.ring) == 0
