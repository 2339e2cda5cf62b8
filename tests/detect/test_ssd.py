"""SSD output mapping and decoding (pure numpy, synthetic tensors)."""

from __future__ import annotations

import numpy as np
import pytest

from app.detect.base import ModelError, TensorInfo
from app.detect.ssd import SsdOutputs, decode, map_outputs


def out(index: int, name: str, shape: tuple[int, ...]) -> TensorInfo:
    return TensorInfo(index, name, shape, np.dtype(np.float32), (0.0, 0))


TF1 = [
    out(10, "TFLite_Detection_PostProcess", (1, 10, 4)),
    out(11, "TFLite_Detection_PostProcess:1", (1, 10)),
    out(12, "TFLite_Detection_PostProcess:2", (1, 10)),
    out(13, "TFLite_Detection_PostProcess:3", (1,)),
]


def test_op_order_wins_over_names() -> None:
    assert map_outputs(TF1, [13, 12, 11, 10]) == SsdOutputs(13, 12, 11, 10)


def test_tf1_names_in_any_listing_order() -> None:
    assert map_outputs(list(reversed(TF1)), None) == SsdOutputs(10, 11, 12, 13)


def test_descriptive_names() -> None:
    outputs = [
        out(3, "detection_scores", (1, 25)),
        out(1, "detection_boxes", (1, 25, 4)),
        out(4, "num_detections", (1,)),
        out(2, "detection_classes", (1, 25)),
    ]
    assert map_outputs(outputs, None) == SsdOutputs(boxes=1, classes=2, scores=3, count=4)


def test_opaque_names_fall_back_to_shapes() -> None:
    outputs = [
        out(7, "StatefulPartitionedCall:1", (1, 10, 4)),
        out(9, "StatefulPartitionedCall:0", (1, 10)),
        out(8, "StatefulPartitionedCall:3", (1, 10)),
        out(6, "StatefulPartitionedCall:2", (1,)),
    ]
    assert map_outputs(outputs, None) == SsdOutputs(boxes=7, classes=8, scores=9, count=6)


def test_not_an_ssd_model() -> None:
    with pytest.raises(ModelError, match="not an SSD"):
        map_outputs([out(0, "logits", (1, 1001))], None)


def test_decode_scales_to_pixels_filters_and_sorts() -> None:
    boxes = np.array([[[0.1, 0.2, 0.5, 0.6], [0.0, 0.0, 1.2, 1.0], [0.3, 0.3, 0.3, 0.4]]], np.float32)
    classes = np.array([[0, 2, 0]], np.float32)
    scores = np.array([[0.55, 0.9, 0.7]], np.float32)
    result = decode(
        boxes, classes, scores, np.array([3.0]), labels={0: "person", 2: "car"}, min_score=0.5, width=200, height=100
    )
    assert [d.label for d in result] == ["car", "person"]  # zero-height box dropped; sorted by score
    car, person = result
    assert car.box.as_list() == [0.0, 0.0, 200.0, 100.0]  # clipped to the frame
    assert person.box.as_list() == [40.0, 10.0, 120.0, 50.0]
    assert decode(boxes, classes, scores, np.array([3.0]), labels={}, min_score=0.95, width=1, height=1) == ()


def test_decode_respects_count_and_unknown_ids() -> None:
    boxes = np.tile(np.array([0.1, 0.1, 0.9, 0.9], np.float32), (1, 4, 1))
    result = decode(boxes, np.array([[5, 0, 0, 0]]), np.array([[0.9, 0.9, 0.9, 0.9]]), np.array([1]),
                    labels={0: "person"}, min_score=0.0, width=10, height=10)  # fmt: skip
    assert [d.label for d in result] == ["class5"]
