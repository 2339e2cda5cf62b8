"""NanoDet head decoding with tensors built by hand: geometry, quantization, class-aware NMS."""

from __future__ import annotations

import numpy as np
import pytest

from app.detect.base import ModelError, TensorInfo
from app.detect.nanodet import decode, is_nanodet, map_heads

SIZE = 64  # a 64x64 input: strides 8 and 16 → grids of 8x8 and 4x4
CLASSES = 3
BINS = 5
LABELS = {0: "person", 1: "car", 2: "truck"}


def outputs(quant: bool = False) -> list[TensorInfo]:
    dtype = np.dtype(np.int8 if quant else np.float32)
    q = (1 / 256, -128) if quant else (0.0, 0)
    qb = (0.1, 0) if quant else (0.0, 0)
    return [
        TensorInfo(10, "scores8", (1, 64, CLASSES), dtype, q),
        TensorInfo(11, "scores16", (1, 16, CLASSES), dtype, q),
        TensorInfo(12, "boxes8", (1, 64, 4 * BINS), dtype, qb),
        TensorInfo(13, "boxes16", (1, 16, 4 * BINS), dtype, qb),
    ]


def empty_tensors() -> dict[int, np.ndarray]:
    scores = {10: np.zeros((1, 64, CLASSES), np.float32), 11: np.zeros((1, 16, CLASSES), np.float32)}
    # Every bin equally likely: expectation (BINS - 1) / 2 = 2 strides on each side.
    boxes = {12: np.zeros((1, 64, 4 * BINS), np.float32), 13: np.zeros((1, 16, 4 * BINS), np.float32)}
    return {**scores, **boxes}


def peaked(side_bins: tuple[int, int, int, int]) -> np.ndarray:
    """Box logits certain of one bin per side (left, top, right, bottom)."""
    logits = np.full((4, BINS), -30.0, np.float32)
    for side, k in enumerate(side_bins):
        logits[side, k] = 30.0
    return logits.reshape(-1)


def test_one_anchor_decodes_to_its_box_in_frame_pixels() -> None:
    layout = map_heads(outputs(), CLASSES, (SIZE, SIZE))
    assert [h.stride for h in layout.heads] == [8, 16]
    assert layout.bins == BINS
    raw = empty_tensors()
    anchor = 2 * 8 + 3  # row 2, column 3 of the stride-8 grid: centre (28, 20)
    raw[10][0, anchor, 1] = 0.9
    raw[12][0, anchor] = peaked((1, 2, 3, 4))  # left 8, top 16, right 24, bottom 32 px
    found = decode(raw, layout, labels=LABELS, min_score=0.5, width=128, height=256)
    assert len(found) == 1
    d = found[0]
    assert d.label == "car"
    assert d.score == pytest.approx(0.9)
    # input box (20, 4, 52, 52) → ×2 horizontally, ×4 vertically
    assert (d.box.x1, d.box.y1, d.box.x2, d.box.y2) == pytest.approx((40, 16, 104, 208))


def test_the_expected_distance_is_the_mean_over_bins() -> None:
    layout = map_heads(outputs(), CLASSES, (SIZE, SIZE))
    raw = empty_tensors()
    raw[11][0, 5, 0] = 0.8  # stride 16, row 1 col 1: centre (24, 24); uniform bins → 2·16 = 32 px a side
    (d,) = decode(raw, layout, labels=LABELS, min_score=0.5, width=SIZE, height=SIZE)
    assert (d.box.x1, d.box.y1, d.box.x2, d.box.y2) == pytest.approx((0, 0, 56, 56))  # clipped at 0


def test_nms_is_per_class() -> None:
    layout = map_heads(outputs(), CLASSES, (SIZE, SIZE))
    raw = empty_tensors()
    for anchor, cls, score in ((19, 1, 0.9), (20, 1, 0.7), (27, 2, 0.6), (40, 0, 0.55)):
        raw[10][0, anchor, cls] = score
        raw[12][0, anchor] = peaked((3, 3, 3, 3))  # 48-px squares
    found = decode(raw, layout, labels=LABELS, min_score=0.5, width=SIZE * 4, height=SIZE * 4)
    # 19 and 20 are neighbours (IoU 0.71: squares 8 px apart): one car is left;
    # the truck overlapping them is another class and survives; the far person too.
    assert [(d.label, round(d.score, 2)) for d in found] == [("car", 0.9), ("truck", 0.6), ("person", 0.55)]


def test_only_the_best_class_of_an_anchor_counts() -> None:
    layout = map_heads(outputs(), CLASSES, (SIZE, SIZE))
    raw = empty_tensors()
    raw[10][0, 19] = (0.2, 0.7, 0.65)
    found = decode(raw, layout, labels=LABELS, min_score=0.5, width=SIZE, height=SIZE)
    assert [d.label for d in found] == ["car"]


def test_quantized_outputs_decode_like_float_ones() -> None:
    layout = map_heads(outputs(quant=True), CLASSES, (SIZE, SIZE))
    raw = {
        10: np.full((1, 64, CLASSES), -128, np.int8),
        11: np.full((1, 16, CLASSES), -128, np.int8),
        12: np.zeros((1, 64, 4 * BINS), np.int8),
        13: np.zeros((1, 16, 4 * BINS), np.int8),
    }
    raw[10][0, 19, 1] = 102  # (102 + 128) / 256 = 0.898
    raw[10][0, 30, 2] = -1  # 0.496: just under the floor
    raw[12][0, 19] = np.clip(peaked((1, 2, 3, 4)) / 0.1, -128, 127).astype(np.int8)  # ±12.7 logits
    found = decode(raw, layout, labels=LABELS, min_score=0.5, width=SIZE, height=SIZE)
    assert len(found) == 1
    assert found[0].label == "car"
    assert found[0].score == pytest.approx(0.898, abs=0.002)
    assert (found[0].box.x1, found[0].box.y1, found[0].box.x2, found[0].box.y2) == pytest.approx(
        (20, 4, 52, 52), abs=0.1
    )


def test_the_floor_on_quantized_scores_is_exact_at_the_boundary() -> None:
    layout = map_heads(outputs(quant=True), CLASSES, (SIZE, SIZE))
    raw = {o.index: np.full(o.shape, -128 if o.index < 12 else 0, np.int8) for o in outputs()}
    raw[10][0, 0, 0] = 0  # exactly 0.5
    assert len(decode(raw, layout, labels=LABELS, min_score=0.5, width=SIZE, height=SIZE)) == 1
    assert decode(raw, layout, labels=LABELS, min_score=0.501, width=SIZE, height=SIZE) == ()


def test_a_noisy_frame_is_bounded() -> None:
    """Every anchor over the floor: the work is capped, the answer still sane."""
    layout = map_heads(outputs(), CLASSES, (SIZE, SIZE))
    raw = empty_tensors()
    rng = np.random.default_rng(0)
    raw[10][:] = rng.uniform(0.5, 1.0, raw[10].shape)
    raw[11][:] = rng.uniform(0.5, 1.0, raw[11].shape)
    found = decode(raw, layout, labels=LABELS, min_score=0.5, width=SIZE, height=SIZE)
    assert 1 <= len(found) <= 100
    assert all(0 <= d.box.x1 < d.box.x2 <= SIZE for d in found)


def test_heads_are_recognised_and_mismatches_refused() -> None:
    assert is_nanodet(outputs())
    f32 = np.dtype(np.float32)
    ssd_like = [
        TensorInfo(0, "boxes", (1, 10, 4), f32, (0.0, 0)),
        TensorInfo(1, "classes", (1, 10), f32, (0.0, 0)),
        TensorInfo(2, "scores", (1, 10), f32, (0.0, 0)),
        TensorInfo(3, "count", (1,), f32, (0.0, 0)),
    ]
    assert not is_nanodet(ssd_like)
    with pytest.raises(ModelError, match="label count"):
        map_heads(outputs(), 80, (SIZE, SIZE))  # an 80-label map for a 3-class model
    with pytest.raises(ModelError, match="square grid"):
        map_heads(outputs(), CLASSES, (SIZE, 96))
