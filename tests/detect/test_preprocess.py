"""Input preparation: resize, colour order and the value mapping for each input type."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from app.detect.base import ModelError, TensorInfo
from app.detect.preprocess import make_input_spec, prepare

FRAME = np.zeros((72, 128, 3), np.uint8)
FRAME[..., 0] = 200  # blue in OpenCV order
FRAME[..., 2] = 10  # red


def declared(shape: tuple[int, ...], dtype: np.dtype[Any], quantization: tuple[float, int]) -> TensorInfo:
    """An input tensor as a model file declares it."""
    return TensorInfo(0, "input", shape, dtype, quantization)


def test_coral_style_uint8_input_passes_raw_rgb_pixels() -> None:
    spec = make_input_spec(declared((1, 30, 40, 3), np.dtype(np.uint8), (1 / 127.5, 127)), 127.5, 127.5)
    assert spec.lut is None
    assert (spec.width, spec.height) == (40, 30)
    tensor = prepare(FRAME, spec)
    assert tensor.shape == (1, 30, 40, 3)
    assert tensor.dtype == np.uint8
    assert tuple(tensor[0, 5, 5]) == (10, 0, 200)  # RGB


def test_float_input_is_normalised() -> None:
    spec = make_input_spec(declared((1, 8, 8, 3), np.dtype(np.float32), (0.0, 0)), 127.5, 127.5)
    tensor = prepare(FRAME, spec)
    assert tensor.dtype == np.float32
    assert tensor[0, 0, 0] == pytest.approx([10 / 127.5 - 1, -1.0, 200 / 127.5 - 1])


def test_int8_input_is_quantized_with_its_own_scale() -> None:
    spec = make_input_spec(declared((1, 8, 8, 3), np.dtype(np.int8), (1 / 128, 0)), 128.0, 128.0)
    tensor = prepare(FRAME, spec)
    assert tensor.dtype == np.int8
    assert list(tensor[0, 0, 0]) == [10 - 128, -128, 200 - 128]


def test_uint8_input_with_other_quantization_gets_a_table() -> None:
    spec = make_input_spec(declared((1, 8, 8, 3), np.dtype(np.uint8), (1 / 255, 0)), 0.0, 255.0)  # x/255 in [0, 1]
    assert spec.lut is None  # still identity
    spec = make_input_spec(declared((1, 8, 8, 3), np.dtype(np.uint8), (2 / 255, 0)), 0.0, 255.0)
    assert spec.lut is not None
    assert prepare(FRAME, spec)[0, 0, 0, 2] == 100


def test_nanodet_style_input_is_bgr_per_channel_and_planar() -> None:
    """NanoDet: [1, 3, H, W], BGR, (x - mean) / std per channel, int8."""
    mean, std = (103.53, 116.28, 123.675), (57.375, 57.12, 58.395)
    scale, zero_point = 0.0187, -14
    spec = make_input_spec(declared((1, 3, 6, 10), np.dtype(np.int8), (scale, zero_point)), mean, std, order="bgr")
    assert spec.layout == "nchw"
    assert (spec.width, spec.height) == (10, 6)
    tensor = prepare(FRAME, spec)
    assert tensor.shape == (1, 3, 6, 10)
    assert tensor.dtype == np.int8
    for channel, value in enumerate((200, 0, 10)):  # B, G, R planes
        expected = round((value - mean[channel]) / std[channel] / scale + zero_point)
        assert np.all(tensor[0, channel] == expected), channel
    floats = prepare(
        FRAME, make_input_spec(declared((1, 3, 6, 10), np.dtype(np.float32), (0.0, 0)), mean, std, order="bgr")
    )
    assert floats[0, :, 2, 3] == pytest.approx([(200 - mean[0]) / std[0], -mean[1] / std[1], (10 - mean[2]) / std[2]])


def test_nhwc_nanodet_input_holds_the_planar_values_interleaved() -> None:
    """The shipped NanoDet since issue 18: [1, H, W, 3] int8, the same values as NCHW's."""
    mean, std = (103.53, 116.28, 123.675), (57.375, 57.12, 58.395)
    frame = np.random.default_rng(7).integers(0, 256, (50, 70, 3), dtype=np.uint8)
    nhwc = make_input_spec(declared((1, 6, 10, 3), np.dtype(np.int8), (0.0187, -14)), mean, std, order="bgr")
    nchw = make_input_spec(declared((1, 3, 6, 10), np.dtype(np.int8), (0.0187, -14)), mean, std, order="bgr")
    assert nhwc.layout == "nhwc"
    assert (nhwc.width, nhwc.height) == (10, 6)
    tensor = prepare(frame, nhwc)
    assert tensor.shape == (1, 6, 10, 3)
    assert tensor.dtype == np.int8
    assert np.array_equal(tensor[0], prepare(frame, nchw)[0].transpose(1, 2, 0))


def test_a_second_frame_does_not_inherit_the_first() -> None:
    """The tensor is a reused buffer (planar, or NHWC with an 8-bit table): each prepare() rewrites all of it."""
    spec = make_input_spec(declared((1, 3, 4, 4), np.dtype(np.float32), (0.0, 0)), 0.0, 1.0, order="bgr")
    first = prepare(np.full((8, 8, 3), 50, np.uint8), spec).copy()
    second = prepare(np.full((8, 8, 3), 90, np.uint8), spec)
    assert np.all(first == 50)
    assert np.all(second == 90)
    spec = make_input_spec(declared((1, 4, 4, 3), np.dtype(np.int8), (1.0, -128)), 0.0, 1.0)  # NHWC, reused too
    first = prepare(np.full((8, 8, 3), 50, np.uint8), spec).copy()
    second = prepare(np.full((8, 8, 3), 90, np.uint8), spec)
    assert np.all(first == 50 - 128)
    assert np.all(second == 90 - 128)


def test_refuses_what_it_cannot_feed() -> None:
    with pytest.raises(ModelError):
        make_input_spec(declared((1, 300, 300, 4), np.dtype(np.float32), (0.0, 0)), 0.0, 1.0)  # RGBA
    with pytest.raises(ModelError, match="one per channel"):
        make_input_spec(declared((1, 8, 8, 3), np.dtype(np.float32), (0.0, 0)), (1.0, 2.0), 1.0)
    spec = make_input_spec(declared((1, 8, 8, 3), np.dtype(np.uint8), (1 / 127.5, 127)), 127.5, 127.5)
    with pytest.raises(ValueError, match="BGR"):
        prepare(np.zeros((8, 8), np.uint8), spec)
