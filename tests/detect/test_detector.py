"""The real person SSD (`detector.model: person`) on real photos (scikit-image), as the CPU runs it."""

from __future__ import annotations

import cv2
import numpy as np

from app.config import DetectorConfig
from app.detect import ModelStore, open_detector
from app.detect.engine import TfliteDetector
from app.domain import Box
from tests.conftest import photo

# Drawn by hand on astronaut() (512x512): hair top to the image's bottom edge,
# left sleeve to right shoulder. Not taken from any model output.
ASTRONAUT_PERSON = Box(18, 14, 362, 512)


def best_person(detector: TfliteDetector, image: np.ndarray) -> tuple[float, Box | None]:
    people = [d for d in detector.detect(image).items if d.label == "person"]
    if not people:
        return 0.0, None
    top = max(people, key=lambda d: d.score)
    return top.score, top.box


def test_astronaut_is_a_person_in_the_right_place(person_detector: TfliteDetector) -> None:
    score, box = best_person(person_detector, photo("astronaut"))
    assert score >= 0.8
    assert box is not None
    assert box.iou(ASTRONAUT_PERSON) >= 0.7


def test_cat_and_coffee_are_not_people(person_detector: TfliteDetector) -> None:
    for name in ("chelsea", "coffee"):
        score, _ = best_person(person_detector, photo(name))
        assert score < 0.5, name


def test_boxes_are_in_pixels_of_the_original_frame(person_detector: TfliteDetector) -> None:
    """The astronaut stretched onto a 1280x720 frame: the box stretches with her."""
    frame = cv2.resize(photo("astronaut"), (1280, 720), interpolation=cv2.INTER_LINEAR)
    score, box = best_person(person_detector, frame)
    expected = Box(ASTRONAUT_PERSON.x1 * 2.5, ASTRONAUT_PERSON.y1 * 720 / 512, ASTRONAUT_PERSON.x2 * 2.5, 720)
    assert score >= 0.8
    assert box is not None
    assert box.iou(expected) >= 0.7
    assert 0 <= box.x1 < box.x2 <= 1280
    assert 0 <= box.y1 < box.y2 <= 720


def test_detector_reports_what_it_runs(person_detector: TfliteDetector) -> None:
    info = person_detector.info
    assert info.backend == "cpu"
    assert info.device is None
    assert info.runtime.startswith(("ai_edge_litert", "tflite_runtime"))
    assert info.input_size == (300, 300)
    assert info.model == "person"
    assert person_detector.detect(photo("astronaut")).inference_ms > 0


def test_float_and_int8_models_agree(store: ModelStore) -> None:
    float_model = open_detector(DetectorConfig(type="cpu", model="person:cpu-float"), store)
    try:
        score, box = best_person(float_model, photo("astronaut"))
    finally:
        float_model.close()
    assert score >= 0.8
    assert box is not None
    assert box.iou(ASTRONAUT_PERSON) >= 0.7


def test_model_given_by_path_with_its_label_map(store: ModelStore) -> None:
    spec = store.spec("person", "cpu")
    labels = store.root / "labels" / "person.txt"
    det = open_detector(DetectorConfig(type="cpu", model=str(spec.path), labels=str(labels)), store)
    try:
        assert det.info.model == str(spec.path)
        score, _ = best_person(det, photo("astronaut"))
    finally:
        det.close()
    assert score >= 0.8
