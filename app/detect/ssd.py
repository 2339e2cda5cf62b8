"""SSD post-processed outputs (TFLite_Detection_PostProcess layout), pure numpy.

The op emits four tensors: boxes [1, N, 4] (ymin, xmin, ymax, xmax, normalized),
classes [1, N] (0-based label ids, as floats), scores [1, N] and count [1].
TF1 and TF2 exports list them in different orders, so we map them by the op's own
output order when the runtime exposes it, else by tensor names, else by shape.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from app.detect.base import ModelError, TensorInfo
from app.domain import Box, Detection

POSTPROCESS_OP = "TFLite_Detection_PostProcess"


@dataclass(frozen=True, slots=True)
class SsdOutputs:
    """Tensor indices of the four SSD outputs."""

    boxes: int
    classes: int
    scores: int
    count: int


def map_outputs(outputs: Sequence[TensorInfo], op_outputs: Sequence[int] | None) -> SsdOutputs:
    """Find boxes/classes/scores/count among a model's output tensors."""
    indices = {o.index for o in outputs}
    if op_outputs is not None and len(op_outputs) == 4 and set(op_outputs) <= indices:
        return SsdOutputs(*op_outputs)
    by_name = _by_name(outputs)
    if by_name is not None:
        return by_name
    return _by_shape(outputs)


def _by_name(outputs: Sequence[TensorInfo]) -> SsdOutputs | None:
    found: dict[str, int] = {}
    suffix = re.compile(re.escape(POSTPROCESS_OP) + r"(?::(\d))?$")
    for o in outputs:
        match = suffix.search(o.name)
        if match:  # TF1 export: output k of the op is named ...:k
            found[("boxes", "classes", "scores", "count")[int(match.group(1) or 0)]] = o.index
            continue
        lower = o.name.lower()
        for role, words in (
            ("boxes", ("box",)),
            ("classes", ("class",)),
            ("scores", ("score",)),
            ("count", ("num", "count")),
        ):
            if any(w in lower for w in words):
                found.setdefault(role, o.index)
                break
    if len(found) == 4:
        return SsdOutputs(found["boxes"], found["classes"], found["scores"], found["count"])
    return None


def _by_shape(outputs: Sequence[TensorInfo]) -> SsdOutputs:
    boxes = [o for o in outputs if len(o.shape) == 3 and o.shape[-1] == 4]
    count = [o for o in outputs if o.shape in ((1,), ())]
    pairs = [o for o in outputs if len(o.shape) == 2]
    if len(boxes) != 1 or len(count) != 1 or len(pairs) != 2:
        shapes = ", ".join(f"{o.name}{list(o.shape)}" for o in outputs)
        raise ModelError(f"not an SSD post-processed model (outputs: {shapes})")
    # Classes precede scores in the op's own order, which tensor order keeps.
    first, second = sorted(pairs, key=lambda o: o.index)
    return SsdOutputs(boxes[0].index, first.index, second.index, count[0].index)


def decode(
    boxes: npt.NDArray[Any],
    classes: npt.NDArray[Any],
    scores: npt.NDArray[Any],
    count: npt.NDArray[Any],
    *,
    labels: Mapping[int, str],
    min_score: float,
    width: int,
    height: int,
) -> tuple[Detection, ...]:
    """Raw SSD tensors → detections in pixels of a width x height image."""
    n = min(int(np.asarray(count).reshape(-1)[0]), scores.shape[-1])
    s = scores.reshape(-1)[:n]
    keep = np.flatnonzero(s >= min_score)
    if keep.size == 0:
        return ()
    b = np.clip(boxes.reshape(-1, 4)[keep], 0.0, 1.0) * np.array([height, width, height, width], np.float32)
    c = classes.reshape(-1)[keep].astype(np.int64)
    out = []
    for (y1, x1, y2, x2), cls, score in zip(b.tolist(), c.tolist(), s[keep].tolist(), strict=True):
        if x2 <= x1 or y2 <= y1:
            continue
        out.append(Detection(labels.get(cls, f"class{cls}"), float(score), Box(x1, y1, x2, y2)))
    out.sort(key=lambda d: d.score, reverse=True)
    return tuple(out)
