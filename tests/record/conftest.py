"""Session sources for the recorder's tests (real H.264/H.265 encoded once), and a segment-writing helper."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest

from app.record import Packet, Segment, SegmentWriter
from tests.record.media import Source, make_source


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("record-media")


@pytest.fixture(scope="session")
def source(media_dir: Path) -> Source:
    """20 s of 1280x720 H.264 at 12 fps, a keyframe every second, no B-frames: a typical camera."""
    return make_source(media_dir / "camera.mp4", seconds=20.0)


@pytest.fixture(scope="session")
def small_source(media_dir: Path) -> Source:
    """6 s of 640x360 H.264 (other parameters than `source`), frame numbers from 1000."""
    return make_source(media_dir / "small.mp4", seconds=6.0, size=(640, 360), first_index=1000)


@pytest.fixture(scope="session")
def bframe_source(media_dir: Path) -> Source:
    """6 s of 640x360 H.264 with 2 B-frames (pts != dts), a keyframe every second."""
    return make_source(media_dir / "bframes.mp4", seconds=6.0, size=(640, 360), bframes=2)


@pytest.fixture(scope="session")
def hevc_source(media_dir: Path) -> Source:
    """3 s of 640x360 H.265, a keyframe every second."""
    return make_source(media_dir / "hevc.mp4", seconds=3.0, size=(640, 360), codec="hevc")


def record(packets: Iterable[Packet], folder: Path, *, target: float = 4.0, camera: str = "porch") -> list[Segment]:
    """Write `packets` through a SegmentWriter into `folder`; the segments it reported, in order."""
    segments: list[Segment] = []
    writer = SegmentWriter(camera, folder, segments.append, target_seconds=target, durable=False)
    for packet in packets:
        writer.write(packet)
    writer.close()
    return segments
