"""The shipped COCO NanoDet (NHWC since issue 18) answers as the NCHW model it replaced did.

nanodet_reference.json holds what that NCHW int8 model (coco_nanodet_int8.tflite, sha256
7356f23217bb…, built before models/nhwc.py existed) found on real photos, recorded with it
at a 0.25 floor by this module run as a script:

    .venv/bin/python -m tests.detect.test_nanodet_reference OLD.tflite > tests/detect/nanodet_reference.json

Each reference detection of at least CHECKED must be found again (same label, score within
SCORE_TOLERANCE, box IoU ≥ MIN_IOU), and each detection of at least CHECKED now must have been
found then: CHECKED is a 0.3 threshold plus the tolerance, so a detection that is near the
floor on one side and under it on the other does not count against either model.
"""

from __future__ import annotations

import hashlib
import json
import sys
from functools import cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from app.config import DetectorConfig
from app.demo import photos
from app.detect import open_detector
from app.detect.base import Detector, Image
from app.domain import Box
from tests.conftest import photo

FIXTURE = Path(__file__).with_name("nanodet_reference.json")
FLOOR = 0.25  # what the reference was recorded at
CHECKED = 0.33
SCORE_TOLERANCE = 0.03
MIN_IOU = 0.9

FRAMES = (
    "astronaut",
    "astronaut_mirrored",
    "chelsea",
    "coffee",
    "garage_720p_with_astronaut",
    "stereo_motorcycle",
    "stereo_motorcycle_mirrored",
)

Found = tuple[str, float, Box]


@cache
def frames() -> dict[str, Image]:
    """Real photos (scikit-image), mirrored ones, and a 1280x720 scene made of two of them."""
    garage = photos.photo("stereo_motorcycle")  # the left view
    scene = cv2.resize(garage, (1280, 720))
    scene[380:680, 800:1100] = cv2.resize(photo("astronaut"), (300, 300))
    shots = {name: photo(name) for name in ("astronaut", "coffee", "chelsea")}
    shots["stereo_motorcycle"] = garage
    shots["astronaut_mirrored"] = np.ascontiguousarray(shots["astronaut"][:, ::-1])
    shots["stereo_motorcycle_mirrored"] = np.ascontiguousarray(garage[:, ::-1])
    shots["garage_720p_with_astronaut"] = np.ascontiguousarray(scene)
    return shots


def found(detector: Detector, image: Image) -> list[Found]:
    return [(d.label, d.score, d.box) for d in detector.detect(image, FLOOR).items]


@cache
def reference() -> dict[str, list[Found]]:
    data: dict[str, Any] = json.loads(FIXTURE.read_text())
    return {name: [(label, score, Box(*box)) for label, score, box in shots] for name, shots in data["frames"].items()}


def _match(d: Found, among: list[Found]) -> bool:
    label, score, box = d
    return any(
        other_label == label and abs(other_score - score) <= SCORE_TOLERANCE and other_box.iou(box) >= MIN_IOU
        for other_label, other_score, other_box in among
    )


def test_the_reference_covers_the_frames_and_has_something_to_check() -> None:
    assert set(reference()) == set(FRAMES) == set(frames())
    assert sum(1 for shots in reference().values() for d in shots if d[1] >= CHECKED) >= 10


@pytest.mark.parametrize("name", FRAMES)
def test_the_shipped_model_finds_what_the_nchw_model_found(detector: Detector, name: str) -> None:
    now = found(detector, frames()[name])
    then = reference()[name]
    lost = [d for d in then if d[1] >= CHECKED and not _match(d, now)]
    new = [d for d in now if d[1] >= CHECKED and not _match(d, then)]
    assert not lost, f"{name}: lost {lost}, new {new} (now: {now})"
    assert not new, f"{name}: lost {lost}, new {new} (now: {now})"


def _corners(box: Box) -> list[float]:
    return [round(v, 2) for v in (box.x1, box.y1, box.x2, box.y2)]


def record(model: str) -> dict[str, Any]:
    """What the model at path `model` finds on frames(): the fixture's content."""
    detector = open_detector(DetectorConfig(type="cpu", model=model))
    try:
        shots = {
            name: [[label, round(score, 4), _corners(box)] for label, score, box in found(detector, image)]
            for name, image in frames().items()
        }
    finally:
        detector.close()
    digest = hashlib.sha256(Path(model).read_bytes()).hexdigest()
    return {"model": Path(model).name, "sha256": digest, "floor": FLOOR, "frames": shots}


def dumps(content: dict[str, Any]) -> str:
    """The fixture as JSON with one detection a line (reviewable in a diff)."""
    head = {k: v for k, v in content.items() if k != "frames"}
    frames = ",\n".join(
        f'    "{name}": [\n' + ",\n".join(f"      {json.dumps(d)}" for d in shots) + "\n    ]"
        for name, shots in content["frames"].items()
    )
    return json.dumps(head, indent=2)[:-2] + ',\n  "frames": {\n' + frames + "\n  }\n}\n"


if __name__ == "__main__":
    sys.stdout.write(dumps(record(sys.argv[1])))
