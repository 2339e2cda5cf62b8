"""FrameEncoder: a camera with no compressed video (MJPEG) is encoded once, bounded, and recorded like any other."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import numpy.typing as npt
import pytest

from app.record import FrameEncoder, Packet, build_clip
from app.record.encoder import encoded_size
from tests.record.conftest import record
from tests.record.media import ORIGIN, codec_params, frame_image, frame_indices

FHD = (1920, 1080)


def mjpeg_frames(count: int, size: tuple[int, int] = FHD, first: int = 0) -> list[npt.NDArray[np.uint8]]:
    """What an MJPEG camera's capture hands over: each frame JPEG-coded by the camera, decoded to BGR."""
    frames = []
    for i in range(count):
        ok, jpeg = cv2.imencode(".jpg", frame_image(first + i, size, i / count), [cv2.IMWRITE_JPEG_QUALITY, 85])
        assert ok
        frames.append(np.asarray(cv2.imdecode(jpeg, cv2.IMREAD_COLOR), dtype=np.uint8))
    return frames


def psnr(a: npt.NDArray[np.uint8], b: npt.NDArray[np.uint8]) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float(10 * np.log10(255**2 / max(mse, 1e-9)))


def test_mjpeg_frames_are_encoded_bounded_and_recorded(tmp_path: Path) -> None:
    frames = mjpeg_frames(90)  # 6 s at 15 fps, 1920x1080
    encoder = FrameEncoder(max_width=1280, max_fps=5.0, keyframe_seconds=2.0)
    out: list[Packet] = []
    for i, frame in enumerate(frames):
        out += encoder.encode(frame, ORIGIN + i / 15)
    out += encoder.flush()

    # 5 fps of the 15
    assert len(out) == 30
    assert encoder.skipped == 60
    info = out[0].stream
    assert (info.codec, info.width, info.height) == ("h264", 1280, 720)
    assert [i for i, p in enumerate(out) if p.keyframe] == [0, 10, 20]  # every 2 s
    assert out[0].time == ORIGIN
    assert out[-1].time == pytest.approx(ORIGIN + 29 / 5)

    segments = record(out, tmp_path / "mjpeg", target=2.0)
    assert [s.frames for s in segments] == [10, 10, 10]
    assert codec_params(segments[0].path)["size"] == (1280, 720)
    scale = 1280 / 1920
    assert [i for s in segments for i in frame_indices(s.path, scale)] == list(range(0, 90, 3))

    # What was recorded looks like what the camera saw.
    with av.open(str(segments[1].path)) as container:
        decoded = np.asarray(next(container.decode(container.streams.video[0])).to_ndarray(format="bgr24"), np.uint8)
    seen = np.asarray(cv2.resize(frames[30], (1280, 720), interpolation=cv2.INTER_AREA), dtype=np.uint8)
    assert psnr(decoded, seen) > 30.0

    clip = build_clip(segments, ORIGIN + 1.0, ORIGIN + 3.0, tmp_path / "clip.mp4")
    assert frame_indices(clip.path, scale) == list(range(0, 60, 3))


def test_a_new_frame_size_starts_a_new_stream_and_segment(tmp_path: Path) -> None:
    encoder = FrameEncoder(max_width=1280, max_fps=5.0, keyframe_seconds=2.0)
    out: list[Packet] = []
    for i, frame in enumerate(mjpeg_frames(15, (640, 360))):
        out += encoder.encode(frame, ORIGIN + i / 5)
    for i, frame in enumerate(mjpeg_frames(15, (1280, 720), first=500)):
        out += encoder.encode(frame, ORIGIN + 3 + i / 5)
    out += encoder.flush()
    assert out[15].keyframe
    assert out[15].stream.width == 1280
    assert out[14].stream.width == 640
    segments = record(out, tmp_path / "cam", target=10.0)
    assert [(s.stream.width, s.frames) for s in segments] == [(640, 15), (1280, 15)]
    assert frame_indices(segments[1].path) == list(range(500, 515))


def test_encoded_size_is_bounded_and_even() -> None:
    assert encoded_size(1920, 1080, 1280) == (1280, 720)
    assert encoded_size(2592, 1944, 1280) == (1280, 960)
    assert encoded_size(640, 480, 1280) == (640, 480)
    assert encoded_size(1281, 721, 1280) == (1280, 720)
    assert encoded_size(333, 201, 1280) == (332, 200)
    with pytest.raises(ValueError, match="frame size must be positive, not 0x480"):
        encoded_size(0, 480, 1280)


def test_frames_must_be_bgr() -> None:
    encoder = FrameEncoder()
    with pytest.raises(ValueError, match="BGR"):
        encoder.encode(np.zeros((720, 1280), dtype=np.uint8), ORIGIN)
