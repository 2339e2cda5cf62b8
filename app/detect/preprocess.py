"""Frame → input tensor: resize, BGR→RGB, and the model's value mapping in one LUT.

A model expects float pixels normalised as (rgb - mean) / std; a quantized input
then stores q = value / scale + zero_point. Both steps depend only on the 8-bit
pixel value, so they collapse into a 256-entry lookup table built once per model.
For Coral-style uint8 inputs the table is the identity and is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from app.detect.base import Image, ModelError


@dataclass(frozen=True)
class InputSpec:
    width: int
    height: int
    dtype: np.dtype[Any]
    lut: npt.NDArray[Any] | None  # None: raw uint8 pixels go straight in


def make_input_spec(
    shape: tuple[int, ...], dtype: np.dtype[Any], quantization: tuple[float, int], mean: float, std: float
) -> InputSpec:
    if len(shape) != 4 or shape[0] != 1 or shape[3] != 3:
        raise ModelError(f"expected an NHWC RGB input [1, H, W, 3], got {list(shape)}")
    height, width = shape[1], shape[2]
    values = (np.arange(256, dtype=np.float64) - mean) / std
    if dtype == np.float32:
        return InputSpec(width, height, dtype, values.astype(np.float32))
    if dtype not in (np.uint8, np.int8):
        raise ModelError(f"unsupported input type {dtype}")
    scale, zero_point = quantization
    if scale <= 0:
        raise ModelError("quantized input without a scale")
    info = np.iinfo(dtype)
    q = np.clip(np.round(values / scale + zero_point), info.min, info.max).astype(dtype)
    if dtype == np.uint8 and np.max(np.abs(q.astype(np.int16) - np.arange(256))) <= 1:
        return InputSpec(width, height, dtype, None)  # identity within rounding
    return InputSpec(width, height, dtype, q)


def prepare(image: Image, spec: InputSpec) -> npt.NDArray[Any]:
    """BGR uint8 frame of any size → [1, H, W, 3] tensor for the model."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an H x W x 3 uint8 BGR image, got {image.shape} {image.dtype}")
    # INTER_LINEAR: 0.2 ms for 720p→300² here; INTER_AREA is ~20x slower.
    resized = cv2.resize(image, (spec.width, spec.height), interpolation=cv2.INTER_LINEAR)
    rgb = cv2.cvtColor(resized, cv2.COLOR_BGR2RGB)
    if spec.lut is None:
        return rgb[np.newaxis]
    if spec.lut.dtype == np.int8:  # cv2.LUT has no int8; index with numpy instead
        return np.asarray(spec.lut[rgb])[np.newaxis]
    return np.asarray(cv2.LUT(rgb, spec.lut))[np.newaxis]
