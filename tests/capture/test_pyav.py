"""Opening sources: every frame of a file is read (replay depends on it), kinds are recognised."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from app.capture import SourceError, SourceKind, VideoSource, source_kind
from app.demo.clip import ClipInfo


def test_a_file_is_read_frame_for_frame_without_pacing(person_clip: ClipInfo) -> None:
    source = VideoSource(str(person_clip.path), realtime=False)
    started = time.monotonic()
    count = 0
    while source.read() is not None:
        count += 1
    source.close()
    assert count == person_clip.frames  # no GOP silently skipped at the start
    # Not paced: pacing would take the clip's own length (decoding it takes a tenth of that here).
    assert time.monotonic() - started < person_clip.seconds * 0.8
    assert source.fps == pytest.approx(person_clip.fps)


def test_source_kinds_and_missing_files(tmp_path: Path) -> None:
    assert source_kind("rtsps://cam/x") is SourceKind.RTSP
    assert source_kind("https://cam/mjpeg") is SourceKind.HTTP
    assert source_kind("/dev/video2") is SourceKind.V4L2
    assert source_kind("clip.mp4") is SourceKind.FILE
    with pytest.raises(SourceError, match="no such video file"):
        VideoSource(str(tmp_path / "nope.mp4"))
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"not a video" * 100)
    with pytest.raises(SourceError, match="cannot open"):
        VideoSource(str(garbage))
