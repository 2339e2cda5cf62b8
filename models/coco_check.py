"""The coco build's gates, on real photos: the NHWC graph computes what the published NCHW
graph does, and the int8 model agrees with the NCHW int8 model shipped before it.

Runs ONLY in the coco build virtualenv (tensorflow, scikit-image); imported by build_coco.py.

Agreement is judged per anchor, before NMS, so it covers every detection any threshold could
let through: for every anchor and class, the dequantized scores of the two int8 models differ
by at most MAX_SCORE_DELTA; for every anchor that scores at least SCORE_FLOOR in either model,
the best class is the same (unless the reference itself has two classes within 2·MAX_SCORE_DELTA
of each other: a tie) and the decoded boxes overlap by IoU ≥ MIN_IOU.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
import tensorflow as tf

# The photos the test suite judges the detector on; deliberately not calibration photos.
CHECK_PHOTOS = ("astronaut", "coffee", "chelsea", "stereo_motorcycle")
CLASSES = 80
MAX_FLOAT_DELTA = 1e-4  # NHWC vs NCHW float graph: only summation order may differ
MAX_SCORE_DELTA = 0.03
SCORE_FLOOR = 0.3
MIN_IOU = 0.9


def check_photos() -> Iterator[tuple[str, np.ndarray]]:
    """(name, RGB uint8) for each check photo (scikit-image's, bundled with the wheel)."""
    import skimage.data

    for name in CHECK_PHOTOS:
        photo = getattr(skimage.data, name)()
        if name == "stereo_motorcycle":  # (left, right, disparity): the left view
            photo = photo[0]
        yield name, np.asarray(photo)[..., :3]


def float_delta(original: Callable[..., Any], rewritten: Callable[..., Any], inputs: Mapping[str, np.ndarray]) -> float:
    """Largest output difference between the NCHW graph and the NHWC one over `inputs` (NCHW)."""
    worst = 0.0
    for x in inputs.values():
        a = original(tf.constant(x))
        b = rewritten(tf.constant(np.ascontiguousarray(x.transpose(0, 2, 3, 1))))
        for u, v in zip(a, b, strict=True):
            worst = max(worst, float(np.max(np.abs(u.numpy() - v.numpy()))))
    if worst > MAX_FLOAT_DELTA:
        raise SystemExit(f"error: the NHWC graph differs from the published one by {worst:.2e}")
    return worst


def _interpreter(model: bytes, **options: Any) -> Any:
    with warnings.catch_warnings():  # "use ai_edge_litert instead": not in this venv, and fine for a check
        warnings.simplefilter("ignore", UserWarning)
        return tf.lite.Interpreter(model_content=model, **options)


def _heads(model: bytes, x_nchw: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Run an int8 NanoDet on one float NCHW input: per stride (finest first), the dequantized
    class scores [N, C] and box bin logits [N, 4, B]."""
    interpreter = _interpreter(model, num_threads=1)  # 2 threads: ~0.9 s an invoke in this TF build
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    x = x_nchw if tuple(detail["shape"]) == x_nchw.shape else x_nchw.transpose(0, 2, 3, 1)
    scale, zero_point = detail["quantization"]
    interpreter.set_tensor(detail["index"], np.clip(np.round(x / scale + zero_point), -128, 127).astype(np.int8))
    interpreter.invoke()
    by_anchors: dict[int, dict[str, np.ndarray]] = {}
    for out in interpreter.get_output_details():
        scale, zero_point = out["quantization"]
        value = (interpreter.get_tensor(out["index"])[0].astype(np.float32) - zero_point) * scale
        n, width = value.shape
        by_anchors.setdefault(n, {})["scores" if width == CLASSES else "boxes"] = value
    return [(h["scores"], h["boxes"].reshape(len(h["boxes"]), 4, -1)) for _, h in sorted(by_anchors.items())[::-1]]


def _boxes(bins: np.ndarray, stride: int) -> np.ndarray:
    """[N, 4, B] bin logits → [N, 4] boxes (x1, y1, x2, y2) in input pixels, as app/detect/nanodet.py."""
    p = np.exp(bins - bins.max(axis=2, keepdims=True))
    dist = (p / p.sum(axis=2, keepdims=True)) @ np.arange(bins.shape[2], dtype=np.float32) * stride
    grid = math.isqrt(len(bins))
    j = np.arange(len(bins))
    centre = np.stack([(j % grid + 0.5) * stride, (j // grid + 0.5) * stride], axis=1)
    return np.concatenate([centre - dist[:, :2], centre + dist[:, 2:]], axis=1)


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    w = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    h = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = w * h
    area = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return np.asarray(inter / np.maximum(area - inter, 1e-9))


def int8_agreement(model: bytes, reference: bytes, inputs: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Compare two int8 NanoDets on `inputs` (float NCHW, by photo); SystemExit if they disagree."""
    worst_delta, worst_iou, compared, flips = 0.0, 1.0, 0, []
    for name, x in inputs.items():
        for (s, b), (rs, rb), stride in zip(_heads(model, x), _heads(reference, x), (8, 16, 32), strict=True):
            worst_delta = max(worst_delta, float(np.max(np.abs(s - rs))))
            best, ref_best = s.max(axis=1), rs.max(axis=1)
            keep = np.flatnonzero((best >= SCORE_FLOOR) | (ref_best >= SCORE_FLOOR))
            if keep.size == 0:
                continue
            compared += int(keep.size)
            worst_iou = min(worst_iou, float(_iou(_boxes(b[keep], stride), _boxes(rb[keep], stride)).min()))
            top2 = np.sort(rs[keep], axis=1)[:, -2:]
            clear = top2[:, 1] - top2[:, 0] >= 2 * MAX_SCORE_DELTA
            flipped = clear & (s[keep].argmax(axis=1) != rs[keep].argmax(axis=1))
            flips += [f"{name}: anchor {int(k)} of stride {stride}" for k in keep[flipped]]
    facts = {
        "photos": list(inputs),
        "anchors_compared": compared,
        "max_score_delta": round(worst_delta, 6),
        "min_box_iou": round(worst_iou, 6),
        "label_changes": len(flips),
    }
    if worst_delta > MAX_SCORE_DELTA or worst_iou < MIN_IOU or flips:
        raise SystemExit(f"error: the int8 model disagrees with the NCHW reference: {facts} {flips[:5]}")
    return facts


def op_counts(model: bytes) -> dict[str, int]:
    """How many ops of each kind the TFLite model has (before any delegate takes them)."""
    no_delegate = tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    interpreter = _interpreter(model, experimental_op_resolver_type=no_delegate)
    counts: dict[str, int] = {}
    for op in interpreter._get_ops_details():
        counts[op["op_name"]] = counts.get(op["op_name"], 0) + 1
    return dict(sorted(counts.items()))
