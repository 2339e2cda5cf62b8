"""NanoDet / GFL heads → detections, vectorized numpy (no per-anchor Python).

The model's outputs per stride s (8, 16, 32 for a 416x416 input): class scores [1, N, C]
(already sigmoid) and box distributions [1, N, 4·B] (B bins per side, left/top/right/
bottom), N = (416 / s)² anchors on a grid. Decoding, as upstream NanoDet does:

1. score = the best class per anchor; anchors under the floor are dropped first, on the
   raw (quantized) values, so the rest of the work scales with the candidates, not the
   3,549 anchors;
2. side distances = softmax over the B bins, expectation Σ p·k, times the stride;
3. box = anchor centre ± distances, centre ((j mod g) + ½)·s, ((j div g) + ½)·s;
4. class-aware NMS (IoU 0.6), OpenCV's `NMSBoxesBatched`; then scaled to the frame.

Int8 outputs are dequantized only for the candidates. Heads are matched to strides by
anchor count, and scores to boxes by their width: the scores' is the label count.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from app.detect.base import ModelError, TensorInfo
from app.domain import Box, Detection

NMS_IOU = 0.6
MAX_CANDIDATES = 300  # best-scoring anchors kept for NMS: bounds the time on a noisy frame
MAX_DETECTIONS = 100

FloatArray = npt.NDArray[np.float32]
# OpenCV's stubs ask for sequences; arrays are what it takes fastest (no Python lists).
_nms: Any = cv2.dnn.NMSBoxesBatched


@dataclass(frozen=True, slots=True, eq=False)
class Head:
    """One stride's pair of outputs and what is needed to decode them."""

    stride: int
    scores: int  # tensor index, [1, N, C]
    boxes: int  # tensor index, [1, N, 4·B]
    scores_quant: tuple[float, int] | None  # (scale, zero point) for int8/uint8 outputs
    boxes_quant: tuple[float, int] | None
    centres: FloatArray  # [N, 2] anchor centres (x, y) in input pixels


@dataclass(frozen=True, slots=True, eq=False)
class Layout:
    heads: tuple[Head, ...]  # finest stride first
    classes: int
    bins: int
    input_size: tuple[int, int]  # width, height


def is_nanodet(outputs: Sequence[TensorInfo]) -> bool:
    """Do these outputs look like NanoDet heads (pairs of [1, N, *] per square grid)?"""
    shapes = [o.shape for o in outputs]
    if not shapes or len(shapes) % 2 or any(len(s) != 3 or s[0] != 1 for s in shapes):
        return False
    counts = sorted({s[1] for s in shapes})
    return len(counts) == len(shapes) // 2 and all(math.isqrt(n) ** 2 == n for n in counts)


def map_heads(outputs: Sequence[TensorInfo], classes: int, input_size: tuple[int, int]) -> Layout:
    """Pair each stride's scores and boxes tensors; `classes` = the label map's size."""
    width, height = input_size
    by_count: dict[int, list[TensorInfo]] = {}
    for o in outputs:
        if len(o.shape) != 3 or o.shape[0] != 1:
            raise ModelError(f"not a NanoDet model: output {o.name} has shape {list(o.shape)}")
        by_count.setdefault(o.shape[1], []).append(o)
    heads: list[Head] = []
    bins: set[int] = set()
    for n, pair in sorted(by_count.items(), reverse=True):
        if len(pair) != 2:
            raise ModelError(f"not a NanoDet model: {len(pair)} outputs with {n} anchors (expected scores and boxes)")
        scores = [o for o in pair if o.shape[2] == classes]
        boxes = [o for o in pair if o.shape[2] != classes and o.shape[2] % 4 == 0]
        if len(scores) != 1 or len(boxes) != 1:
            widths = [o.shape[2] for o in pair]
            raise ModelError(
                f"cannot tell class scores from boxes among outputs of widths {widths} "
                f"with a {classes}-label map (the scores' width must equal the label count)"
            )
        grid = math.isqrt(n)
        if grid * grid != n or width % grid or height % grid or width // grid != height // grid:
            raise ModelError(f"{n} anchors is not a square grid over a {width}x{height} input")
        stride = width // grid
        bins.add(boxes[0].shape[2] // 4)
        j = np.arange(n)
        centres = np.stack([(j % grid + 0.5) * stride, (j // grid + 0.5) * stride], axis=1).astype(np.float32)
        heads.append(Head(stride, scores[0].index, boxes[0].index, scores[0].quantized, boxes[0].quantized, centres))
    if len(bins) != 1:
        raise ModelError(f"box outputs disagree on the number of bins: {sorted(bins)}")
    return Layout(tuple(heads), classes, bins.pop(), input_size)


def decode(
    raw: Mapping[int, npt.NDArray[Any]],
    layout: Layout,
    *,
    labels: Mapping[int, str],
    min_score: float,
    width: int,
    height: int,
) -> tuple[Detection, ...]:
    """The heads' raw output tensors (by index) → detections in pixels of a width x height frame."""
    boxes: list[FloatArray] = []
    scores: list[FloatArray] = []
    classes: list[npt.NDArray[np.intp]] = []
    for head in layout.heads:
        s = raw[head.scores].reshape(-1, layout.classes)
        best = s.max(axis=1)
        keep = np.flatnonzero(best >= _raw_threshold(min_score, head.scores_quant, s.dtype))
        if keep.size == 0:
            continue
        score = _dequantize(best[keep], head.scores_quant)
        cls = s[keep].argmax(axis=1)
        dist = _distances(raw[head.boxes].reshape(-1, 4, layout.bins)[keep], head.boxes_quant) * head.stride
        centre = head.centres[keep]
        boxes.append(np.concatenate([centre - dist[:, :2], centre + dist[:, 2:]], axis=1))
        scores.append(score)
        classes.append(cls)
    if not scores:
        return ()
    box = np.concatenate(boxes)
    score = np.concatenate(scores)
    cls = np.concatenate(classes)
    if score.size > MAX_CANDIDATES:
        top = np.argpartition(-score, MAX_CANDIDATES)[:MAX_CANDIDATES]
        box, score, cls = box[top], score[top], cls[top]
    # NMS in input pixels (x, y, w, h), per class.
    xywh = np.concatenate([box[:, :2], box[:, 2:] - box[:, :2]], axis=1)
    kept = np.asarray(_nms(xywh, score, cls, 0.0, NMS_IOU), dtype=np.intp).reshape(-1)
    kept = kept[:MAX_DETECTIONS]
    in_w, in_h = layout.input_size
    frame = np.array([width, height, width, height], np.float32)
    scaled = np.clip(box[kept] * (frame / np.array([in_w, in_h, in_w, in_h], np.float32)), 0.0, frame)
    out = []
    for (x1, y1, x2, y2), c, p in zip(scaled.tolist(), cls[kept].tolist(), score[kept].tolist(), strict=True):
        if x2 > x1 and y2 > y1:
            out.append(Detection(labels.get(c, f"class{c}"), float(p), Box(x1, y1, x2, y2)))
    out.sort(key=lambda d: d.score, reverse=True)
    return tuple(out)


def _raw_threshold(min_score: float, quant: tuple[float, int] | None, dtype: np.dtype[Any]) -> float:
    """`min_score` on the raw tensor's scale (quantized: the smallest q that reaches it)."""
    if quant is None:
        return min_score
    scale, zero_point = quant
    info = np.iinfo(dtype)
    return float(min(max(math.ceil(min_score / scale + zero_point - 1e-6), info.min), info.max + 1))


def _dequantize(values: npt.NDArray[Any], quant: tuple[float, int] | None) -> FloatArray:
    if quant is None:
        return values.astype(np.float32)
    scale, zero_point = quant
    return ((values.astype(np.float32) - zero_point) * scale).astype(np.float32)


def _distances(logits: npt.NDArray[Any], quant: tuple[float, int] | None) -> FloatArray:
    """[K, 4, B] bin logits → [K, 4] expected distances in strides (softmax · bin index)."""
    x = _dequantize(logits, quant)
    x -= x.max(axis=2, keepdims=True)
    np.exp(x, out=x)
    x /= x.sum(axis=2, keepdims=True)
    return np.asarray(x @ np.arange(x.shape[2], dtype=np.float32), dtype=np.float32)
