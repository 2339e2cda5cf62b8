"""The real COCO-80 NanoDet (`detector.model: coco`, the default) on real photos (scikit-image)."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np

from app.config import DetectorConfig
from app.demo import photos
from app.detect import ModelStore, open_detector
from app.detect.base import Image
from app.detect.engine import TfliteDetector
from app.domain import Box, Detection
from app.labels import GROUPS
from tests.conftest import photo

# Drawn by hand, not taken from any model output: astronaut() (512x512) hair top to the
# bottom edge, left sleeve to right shoulder; stereo_motorcycle() left view (741x500) from
# the rear tyre to the front tyre, mirror top to the tyres' bottom.
ASTRONAUT_PERSON = Box(18, 14, 362, 512)
MOTORCYCLE = Box(120, 75, 685, 450)
VEHICLES = GROUPS["vehicle"]


def motorcycle_photo() -> Image:
    return photos.photo("stereo_motorcycle")  # the left view, BGR


def best(detections: tuple[Detection, ...], labels: set[str] | frozenset[str]) -> Detection | None:
    found = [d for d in detections if d.label in labels]
    return max(found, key=lambda d: d.score) if found else None


def test_the_default_model_is_the_coco_nanodet(detector: TfliteDetector) -> None:
    info = detector.info
    assert info.model == "coco"
    assert info.family == "nanodet"
    assert info.input_size == (416, 416)
    assert info.model_file.endswith("coco_nanodet_int8.tflite")


def test_the_garage_motorcycle_is_a_motorcycle_in_the_right_place(detector: TfliteDetector) -> None:
    top = best(detector.detect(motorcycle_photo(), 0.3).items, {"motorcycle"})
    assert top is not None
    assert top.score >= 0.6
    assert top.box.iou(MOTORCYCLE) >= 0.7


def test_the_astronaut_is_a_person(detector: TfliteDetector) -> None:
    top = best(detector.detect(photo("astronaut"), 0.3).items, {"person"})
    assert top is not None
    assert top.score >= 0.6
    assert top.box.iou(ASTRONAUT_PERSON) >= 0.7


def test_coffee_has_no_person_and_no_vehicle(detector: TfliteDetector) -> None:
    found = detector.detect(photo("coffee"), 0.5).items
    assert best(found, {"person"} | VEHICLES) is None
    assert found, "the cup should be seen: an empty answer would make this test meaningless"


def test_boxes_follow_the_frame_they_were_found_in(detector: TfliteDetector) -> None:
    """The garage stretched onto 1280x720: the motorcycle's box stretches with it."""
    frame = np.asarray(cv2.resize(motorcycle_photo(), (1280, 720), interpolation=cv2.INTER_LINEAR), np.uint8)
    top = best(detector.detect(frame, 0.3).items, {"motorcycle"})
    sx, sy = 1280 / 741, 720 / 500
    expected = Box(MOTORCYCLE.x1 * sx, MOTORCYCLE.y1 * sy, MOTORCYCLE.x2 * sx, MOTORCYCLE.y2 * sy)
    assert top is not None
    assert top.box.iou(expected) >= 0.7
    assert 0 <= top.box.x1 < top.box.x2 <= 1280
    assert 0 <= top.box.y1 < top.box.y2 <= 720


def test_min_score_is_honoured(detector: TfliteDetector) -> None:
    low = detector.detect(motorcycle_photo(), 0.3).items
    high = detector.detect(motorcycle_photo(), 0.6).items
    assert all(d.score >= 0.6 for d in high)
    assert len(low) > len(high) >= 1  # the photo has weak guesses (a bicycle, a chair) under 0.6


def test_float_and_int8_builds_agree(store: ModelStore, detector: TfliteDetector) -> None:
    float_model = open_detector(DetectorConfig(type="cpu", model="coco:cpu-float"), store)
    try:
        for image, label in ((photo("astronaut"), "person"), (motorcycle_photo(), "motorcycle")):
            a = best(detector.detect(image, 0.3).items, {label})
            b = best(float_model.detect(image, 0.3).items, {label})
            assert a is not None, label
            assert b is not None, label
            assert abs(a.score - b.score) < 0.08, label
            assert a.box.iou(b.box) >= 0.9, label
    finally:
        float_model.close()


def test_a_nanodet_given_by_path_is_recognised_with_coco_labels(store: ModelStore, tmp_path: Path) -> None:
    """An installer's own copy: no manifest entry, so family, input and labels come from its outputs."""
    copy = tmp_path / "my-nanodet.tflite"
    shutil.copy(store.spec("coco", "cpu").path, copy)
    det = open_detector(DetectorConfig(type="cpu", model=str(copy)), store)
    try:
        assert det.info.family == "nanodet"
        assert det.info.model == str(copy)
        top = best(det.detect(motorcycle_photo(), 0.3).items, {"motorcycle"})
    finally:
        det.close()
    assert top is not None
    assert top.score >= 0.6


def test_the_person_ssd_given_by_path_is_still_an_ssd(store: ModelStore, tmp_path: Path) -> None:
    copy = tmp_path / "person.tflite"
    shutil.copy(store.spec("person", "cpu").path, copy)
    labels = store.root / "labels" / "person.txt"
    det = open_detector(DetectorConfig(type="cpu", model=str(copy), labels=str(labels)), store)
    try:
        assert det.info.family == "ssd"
        top = best(det.detect(photo("astronaut"), 0.3).items, {"person"})
    finally:
        det.close()
    assert top is not None
    assert top.score >= 0.8
