"""The per-frame path on its own: a camera that changes resolution keeps working."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from app.config import CameraConfig
from app.detect.base import Image
from app.detect.engine import SsdDetector
from app.domain import Detections, Frame
from app.pipeline import CameraPipeline
from tests.conftest import photo


def test_a_camera_that_comes_back_at_another_resolution_keeps_being_analysed(detector: SsdDetector) -> None:
    def detect(images: Sequence[Image], min_score: float) -> list[Detections]:
        return [detector.detect(image, min_score) for image in images]

    pipeline = CameraPipeline("gate", CameraConfig(source="x.mp4"), detect, 300)
    scene = photo("astronaut")
    found_after = []
    for i, size in enumerate([(640, 360)] * 3 + [(1280, 720)] * 3):
        image = np.ascontiguousarray(cv2.resize(scene, size), dtype=np.uint8)
        result = pipeline.process(Frame("gate", i + 1, image, float(i), i * 0.2))
        assert result.detector_ok
        if size == (1280, 720):
            assert all(r.x2 <= 1280 and r.y2 <= 720 for r in result.regions)
            found_after += [d for d in result.detections if d.label == "person"]
    # The first frame at the new size is looked at whole, and she is found in it.
    assert found_after and max(d.box.x2 for d in found_after) > 640
