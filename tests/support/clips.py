"""Session fixtures: the person, empty and vehicle clips (MP4 + Annex-B + ground truth), built once.

    pytest_plugins = ["tests.support.clips"]

    def test_x(person_clip: ClipInfo) -> None: ...

Built from real photos by `app.demo.clip` into a session temp dir (~4 s for the person
clip, ~2 s for the empty one, ~7 s for the vehicle one, on 2 cores).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from app.demo.clip import ClipInfo, make_clip


@pytest.fixture(scope="session")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("clips")


@pytest.fixture(scope="session")
def person_clip(clip_dir: Path) -> ClipInfo:
    """6 s, 12 fps, 1280x720: she walks in from the left and out on the right; light fades mid-clip."""
    return make_clip(clip_dir / "person.mp4", kind="person", annexb=clip_dir / "person.h264")


@pytest.fixture(scope="session")
def empty_clip(clip_dir: Path) -> ClipInfo:
    """The same garage, noise and light as `person_clip`, and nobody."""
    return make_clip(clip_dir / "empty.mp4", kind="empty", annexb=clip_dir / "empty.h264")


@pytest.fixture(scope="session")
def vehicle_clip(clip_dir: Path) -> ClipInfo:
    """10 s, 12 fps, 1280x720: a motorcycle rides into a driveway from the left, brakes and parks
    right of centre by 5.5 s, then stands there to the end (the last 45% of the frames); light
    fades mid-clip. `boxes[-1]` is where it is parked."""
    return make_clip(clip_dir / "vehicle.mp4", kind="vehicle", seconds=10.0, annexb=clip_dir / "vehicle.h264")


def decode(path: Path) -> list[npt.NDArray[np.uint8]]:
    """Every frame of a clip as OpenCV decodes it (BGR)."""
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened(), f"OpenCV cannot open {path}"
    frames: list[npt.NDArray[np.uint8]] = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(np.asarray(frame, dtype=np.uint8))
    cap.release()
    return frames
