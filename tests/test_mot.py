"""bench/mot.py: the tracking metrics the identity and tracker benchmarks are judged by."""

from __future__ import annotations

import math
import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))  # bench/ is not a package

from mot import Box4, assign_tracks, id_scores, iou, iou_matrix

from app.domain import Box


def walker(frames: int, x0: float = 100.0, step: float = 20.0) -> list[Box4]:
    return [(x0 + k * step, 200.0, x0 + k * step + 80.0, 400.0) for k in range(frames)]


def test_a_perfect_hypothesis_scores_one() -> None:
    boxes = walker(10)
    truth = [{7: b} for b in boxes]
    hyps = [{"cam-1": b} for b in boxes]
    scores = id_scores(truth, hyps)
    assert scores.idf1 == pytest.approx(1.0)
    assert scores.id_switches == 0
    assert scores.mota == pytest.approx(1.0)
    assert scores.precision == pytest.approx(1.0)
    assert scores.recall == pytest.approx(1.0)
    assert scores.frames == 10


def test_an_id_switch_is_counted_and_halves_idf1() -> None:
    boxes = walker(10)
    truth = [{1: b} for b in boxes]
    hyps = [{"cam-1" if k < 5 else "cam-2": b} for k, b in enumerate(boxes)]
    scores = id_scores(truth, hyps)
    assert scores.id_switches == 1
    assert scores.idf1 == pytest.approx(0.5)  # one id covers half of the object's frames
    assert scores.recall == pytest.approx(1.0)  # every frame was still found


def test_two_objects_swapping_ids_count_two_switches() -> None:
    a, b = walker(6, x0=100.0), walker(6, x0=700.0)
    truth = [{1: a[k], 2: b[k]} for k in range(6)]
    hyps = [{"x": a[k], "y": b[k]} if k < 3 else {"x": b[k], "y": a[k]} for k in range(6)]
    assert id_scores(truth, hyps).id_switches == 2


def test_a_box_below_min_iou_is_a_miss_and_a_false_positive() -> None:
    truth = [{1: (0.0, 0.0, 100.0, 100.0)}]
    shifted: Box4 = (40.0, 0.0, 140.0, 100.0)  # IoU 60/140 = 0.43
    assert id_scores(truth, [{"a": shifted}], min_iou=0.5).idf1 == pytest.approx(0.0)
    assert id_scores(truth, [{"a": shifted}], min_iou=0.4).idf1 == pytest.approx(1.0)


def test_empty_frames_count_as_frames() -> None:
    scores = id_scores([{}, {1: (0.0, 0.0, 10.0, 10.0)}, {}], [{}, {"a": (0.0, 0.0, 10.0, 10.0)}, {}])
    assert scores.frames == 3
    assert scores.idf1 == pytest.approx(1.0)


def test_a_ghost_is_unassigned_and_a_real_track_is_assigned() -> None:
    boxes = walker(8)
    truth = [{3: b} for b in boxes]
    ghost: Box4 = (1000.0, 50.0, 1050.0, 120.0)
    hyps = [{"cam-1": b, "cam-9": ghost} for b in boxes]
    assert assign_tracks(truth, hyps) == {"cam-1": 3, "cam-9": None}


def test_a_track_is_assigned_to_the_object_it_overlaps_most_often() -> None:
    a, b = walker(6, x0=100.0), walker(6, x0=700.0)
    truth = [{1: a[k], 2: b[k]} for k in range(6)]
    # on object 2 for four frames, then jumps to object 1 for two
    hyps = [{"t": b[k] if k < 4 else a[k]} for k in range(6)]
    assert assign_tracks(truth, hyps) == {"t": 2}


def test_a_track_mostly_off_any_object_is_a_ghost() -> None:
    boxes = walker(6)
    truth = [{1: b} for b in boxes]
    off: Box4 = (900.0, 0.0, 950.0, 50.0)
    hyps = [{"t": boxes[k] if k < 2 else off} for k in range(6)]  # on it 2 frames of 6
    assert assign_tracks(truth, hyps) == {"t": None}


def test_frames_must_line_up() -> None:
    with pytest.raises(ValueError, match="frames"):
        id_scores([{}, {}], [{}])
    with pytest.raises(ValueError, match="frames"):
        assign_tracks([{}], [{}, {}])


def test_iou_agrees_with_the_domain_box() -> None:
    rng = random.Random(4)
    boxes: list[Box4] = []
    for _ in range(30):
        x, y = rng.uniform(0, 500), rng.uniform(0, 500)
        boxes.append((x, y, x + rng.uniform(1, 200), y + rng.uniform(1, 200)))
    matrix = iou_matrix(boxes[:10], boxes[10:])
    for i, a in enumerate(boxes[:10]):
        for j, b in enumerate(boxes[10:]):
            expected = Box(*a).iou(Box(*b))
            assert iou(a, b) == pytest.approx(expected)
            assert matrix[i, j] == pytest.approx(expected)


def test_nothing_to_score_is_nan_and_ghosts_alone_score_zero() -> None:
    assert math.isnan(id_scores([{}, {}], [{}, {}]).idf1)
    assert id_scores([{}, {}], [{"g": (0.0, 0.0, 10.0, 10.0)}, {}]).idf1 == pytest.approx(0.0)
