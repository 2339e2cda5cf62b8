"""The test support is real and right: clips from real photos that the real detector
sees as the ground truth says, and an RTSP camera that serves, dies and comes back."""

from __future__ import annotations

import itertools
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from app.demo.clip import ClipInfo, synthesize, truth_path
from app.detect.engine import TfliteDetector
from app.domain import Box
from tests.support.clips import decode
from tests.support.rtsp import RtspCamera, RtspServerError, open_capture

ROOT = Path(__file__).resolve().parents[1]
Image = npt.NDArray[np.uint8]


def people(detector: TfliteDetector, image: Image) -> list[tuple[float, Box]]:
    return [(d.score, d.box) for d in detector.detect(image, min_score=0.5).items if d.label == "person"]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# -- clips -----------------------------------------------------------------------------------


def test_person_clip_is_h264_with_ground_truth_beside_it(person_clip: ClipInfo) -> None:
    assert person_clip.truth == truth_path(person_clip.path)
    assert person_clip.truth.is_file()
    assert ClipInfo.load(person_clip.truth) == person_clip
    data = json.loads(person_clip.truth.read_text())
    assert data["fps"] == 12
    assert data["size"] == [1280, 720]
    assert len(data["boxes"]) == 72
    cap = cv2.VideoCapture(str(person_clip.path))
    try:
        assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(12.0)
        fourcc = int(cap.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode(errors="replace")
        assert fourcc.lower() in ("avc1", "h264")
    finally:
        cap.release()
    frames = decode(person_clip.path)
    assert len(frames) == person_clip.frames == 72
    assert all(f.shape == (720, 1280, 3) for f in frames)


def test_keyframe_every_second_one_slice_no_b_frames(person_clip: ClipInfo) -> None:
    import av

    assert person_clip.annexb is not None
    for path in (person_clip.path, person_clip.annexb):
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            assert stream.codec_context.name == "h264"
            assert stream.codec_context.profile in ("Main", "Constrained Baseline", "Baseline")
            assert stream.codec_context.pix_fmt == "yuv420p"
            keys = [i for i, p in enumerate(container.demux(stream)) if p.size and p.is_keyframe]
        assert keys == list(range(0, 72, 12)), (path, keys)
    data = person_clip.annexb.read_bytes()
    assert data.startswith(b"\x00\x00\x00\x01")  # Annex-B start code, then SPS/PPS per keyframe
    nal_types = [data[m.end()] & 0x1F for m in re.finditer(b"\x00\x00\x01", data)]
    # SPS and PPS before each keyframe
    assert nal_types.count(7) == 6
    assert nal_types.count(8) == 6
    # one slice per frame
    assert nal_types.count(5) == 6
    assert nal_types.count(1) == 66


def test_she_walks_in_from_the_left_and_out_on_the_right(person_clip: ClipInfo) -> None:
    boxes = person_clip.boxes
    # nobody at the start and the end
    assert boxes[0] is None
    assert boxes[-1] is None
    seen = [b for b in boxes if b is not None]
    assert len(seen) >= 40
    lefts = [b[0] for b in seen]
    rights = [b[2] for b in seen]
    # enters on the left edge, leaves on the right edge
    assert lefts[0] == 0
    assert rights[-1] == 1280
    assert all(b >= a for a, b in itertools.pairwise(rights))  # always moving right
    whole = [boxes[i] for i in person_clip.whole_frames()]
    assert len(whole) >= 20
    for box in whole:
        assert box is not None
        height = (box[3] - box[1]) / 720
        assert 0.55 <= height <= 0.72, box


def test_the_person_is_found_where_the_ground_truth_says(
    person_clip: ClipInfo, person_detector: TfliteDetector
) -> None:
    """With the whole-frame person SSD the clip's doc measures (the pipeline's crops do better)."""
    detector = person_detector
    frames = decode(person_clip.path)
    matched: list[int] = []
    central: list[int] = []
    for i in person_clip.whole_frames():
        box = person_clip.boxes[i]
        assert box is not None
        truth = Box(*map(float, box))
        found = people(detector, frames[i])
        for score, b in found:  # whatever it finds is her, where the ground truth puts her
            assert truth.iou(b) >= 0.5, f"frame {i}: person {score:.2f} at {b}, she is at {box}"
        if found:
            matched.append(i)
        # In front of the camera's centre she is found every time. Elsewhere the whole-frame
        # 300x300 SSD misses her for runs of frames where she straddles its coarsest anchor
        # grid (thirds of the width; see app.demo.clip): ~60% of these frames are hits.
        if abs((box[0] + box[2]) / 2 - 640) <= 0.05 * 1280:
            central.append(i)
            assert found, f"frame {i}: nobody found, she is at {box}"
    assert len(central) >= 3
    assert len(matched) >= 0.4 * len(person_clip.whole_frames()), (matched, person_clip.whole_frames())
    for i in person_clip.empty_frames()[::3]:
        assert people(detector, frames[i]) == [], f"frame {i} is empty of people"


def test_the_empty_clip_has_nobody(empty_clip: ClipInfo, person_detector: TfliteDetector) -> None:
    detector = person_detector
    assert empty_clip.kind == "empty"
    assert all(b is None for b in empty_clip.boxes)
    frames = decode(empty_clip.path)
    assert len(frames) == 72
    for i in range(0, 72, 4):
        assert people(detector, frames[i]) == [], f"frame {i}"


def test_sensor_noise_and_a_gentle_light_drop(empty_clip: ClipInfo) -> None:
    frames = decode(empty_clip.path)
    means = np.array([cv2.mean(f)[:3] for f in frames]).mean(axis=1)
    assert means[-1] <= 0.85 * means[0]  # the light fades...
    steps = np.abs(np.diff(means)) / means[:-1]
    assert steps.max() <= 0.03  # ...gently: no jump between frames
    assert np.abs(means[:20] - means[0]).max() <= 0.01 * means[0]  # steady before the fade
    # Same scene, independent noise: the difference of two frames has σ = 4·√2 ≈ 5.7 before
    # H.264, ~3.5 after it (tune=grain keeps it, and keeps it steady across keyframes).
    noise = [float(np.std(cv2.subtract(frames[i + 1], frames[i], dtype=cv2.CV_16S))) for i in range(20)]
    assert min(noise) >= 2.5, noise
    assert max(noise) <= 6.0, noise


def test_frames_are_deterministic_for_a_seed() -> None:
    def render(seed: int) -> list[Image]:
        return [f.image for f in synthesize("empty", seconds=0.5, fps=12, size=(320, 180), seed=seed)]

    first, again, other = render(7), render(7), render(8)
    assert len(first) == 6
    assert first[0].shape == (180, 320, 3)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[0], other[0])
    assert not np.array_equal(first[0], first[1])  # fresh noise every frame


def test_clip_command_line(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "e.mp4"
    done = subprocess.run(
        [sys.executable, "-m", "app.demo.clip", str(out), "--kind", "empty", "--seconds", "1", "--size", "320x180"],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    info = ClipInfo.load(truth_path(out))
    assert info.frames == 12
    assert info.size == (320, 180)
    assert info.annexb is None
    assert len(decode(out)) == 12
    bad = subprocess.run(
        [sys.executable, "-m", "app.demo.clip", str(out), "--size", "big"],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2
    assert "WIDTHxHEIGHT" in bad.stderr


# -- RTSP camera -----------------------------------------------------------------------------


def read_frames(cap: cv2.VideoCapture, count: int, within: float) -> list[Image]:
    frames: list[Image] = []
    deadline = time.monotonic() + within
    while len(frames) < count and time.monotonic() < deadline:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(np.asarray(frame, dtype=np.uint8))
    return frames


def fails_within(cap: cv2.VideoCapture, seconds: float) -> bool:
    """True when read() fails before `seconds` pass (buffered frames may come first)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ok, _ = cap.read()
        if not ok:
            return True
    return False


def from_clip(frame: Image, clip_frames: list[Image]) -> bool:
    """The frame is one of the clip's (H.264 both ways: close, not equal)."""
    small = cv2.resize(frame, (320, 180), interpolation=cv2.INTER_AREA).astype(np.int16)
    diffs = [
        float(np.abs(small - cv2.resize(c, (320, 180), interpolation=cv2.INTER_AREA).astype(np.int16)).mean())
        for c in clip_frames
    ]
    return min(diffs) < 4.0  # another frame of this clip: ~2 (noise); a garbled one: ~27


@pytest.fixture
def camera(person_clip: ClipInfo, rtsp_cameras: Callable[..., RtspCamera]) -> RtspCamera:
    assert person_clip.annexb is not None
    return rtsp_cameras(person_clip.annexb)


@pytest.fixture
def clip_frames(person_clip: ClipInfo) -> list[Image]:
    return decode(person_clip.path)


def test_rtsp_camera_serves_the_clip_dies_and_comes_back(camera: RtspCamera, clip_frames: list[Image]) -> None:
    assert camera.url.startswith("rtsp://127.0.0.1:")
    assert camera.url.endswith("/cam")
    port = camera.port
    started = time.monotonic()
    cap = open_capture(camera.url)
    try:
        assert cap.isOpened()
        frames = read_frames(cap, 6, within=5.0)
        assert len(frames) == 6, f"read {len(frames)} frames\n{camera.log()}"
        assert time.monotonic() - started < 5.0
        assert all(f.shape == (720, 1280, 3) for f in frames)
        assert from_clip(frames[-1], clip_frames)

        pid = camera.pid
        assert pid is not None
        camera.kill()
        assert not alive(pid)
        assert not camera.running
        assert fails_within(cap, 5.0)
    finally:
        cap.release()

    camera.restart()
    assert camera.port == port
    assert camera.running
    assert camera.starts == 2
    cap = open_capture(camera.url)
    try:
        frames = read_frames(cap, 3, within=5.0)
        assert len(frames) == 3
        assert frames[-1].shape == (720, 1280, 3)
        assert from_clip(frames[-1], clip_frames)
    finally:
        cap.release()


def test_a_frozen_camera_stalls_reads_until_the_timeout(camera: RtspCamera) -> None:
    cap = open_capture(camera.url, timeout_ms=1000)
    try:
        assert len(read_frames(cap, 3, within=5.0)) == 3
        camera.freeze()
        started = time.monotonic()
        assert fails_within(cap, 10.0)  # a few buffered frames, then the 1 s read timeout
        assert 0.8 <= time.monotonic() - started <= 10.0
        camera.thaw()
        assert camera.running
    finally:
        cap.release()
    cap = open_capture(camera.url)
    try:
        assert len(read_frames(cap, 3, within=5.0)) == 3  # a fresh capture works after the thaw
    finally:
        cap.release()


def test_stop_is_clean_and_nothing_is_left_behind(person_clip: ClipInfo) -> None:
    assert person_clip.annexb is not None
    with RtspCamera(person_clip.annexb) as camera:
        pid = camera.pid
        assert pid is not None
        assert alive(pid)
        camera.freeze()
        camera.stop()  # SIGTERM a frozen server: it is resumed so that it can exit
        assert not alive(pid)
        assert not camera.running
        camera.start()
        pid = camera.pid
        assert pid is not None
        assert alive(pid)
        camera.freeze()
    assert not alive(pid)  # __exit__ kills it, frozen or not


def test_a_taken_port_is_an_error_after_the_timeout(person_clip: ClipInfo) -> None:
    assert person_clip.annexb is not None
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        camera = RtspCamera(person_clip.annexb, port=port, start_timeout=1.0)
        started = time.monotonic()
        with pytest.raises(RtspServerError, match="address in use"):
            camera.start()
        assert time.monotonic() - started < 5.0
        assert not camera.running
        camera.close()


def test_a_missing_clip_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RtspServerError, match="no such clip"):
        RtspCamera(tmp_path / "none.h264").start()
