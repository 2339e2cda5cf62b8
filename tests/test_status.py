"""What the status says about a camera's pace: `behind` compares detection with what it could get."""

from __future__ import annotations

import pytest

from app.status import CameraStatus


def camera(fps_in: float, fps_detect: float, target: float, *, online: bool = True) -> CameraStatus:
    return CameraStatus("porch", online, fps_in, fps_detect, 0, 0.1, 0, 0, None, detect_fps_target=target)


@pytest.mark.parametrize(
    ("fps_in", "fps_detect", "target", "behind"),
    [
        (12.0, 5.0, 5.0, False),  # gets what it asks for
        (12.0, 4.6, 5.0, False),  # within 10 %: jitter, not a detector that cannot keep up
        (12.0, 4.4, 5.0, True),
        (12.0, 2.0, 5.0, True),
        (4.0, 4.0, 5.0, False),  # the camera sends fewer frames than detect_fps: detection keeps up with it
        (4.0, 3.0, 5.0, True),  # ... and here it does not
        (12.0, 0.0, 0.0, False),  # disabled: asks for nothing
    ],
)
def test_behind_compares_detection_with_the_rate_it_could_run_at(
    fps_in: float, fps_detect: float, target: float, behind: bool
) -> None:
    assert camera(fps_in, fps_detect, target).behind is behind


def test_an_offline_camera_is_offline_not_behind() -> None:
    assert camera(0.0, 0.0, 5.0, online=False).behind is False
