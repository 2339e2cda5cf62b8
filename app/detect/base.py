"""The narrow detector interface every backend implements, and its errors.

DetectorError
 ├── RuntimeUnavailable   no TFLite runtime importable
 ├── EdgeTpuUnavailable   libedgetpu missing, or no TPU answered
 ├── OpenVinoUnavailable  openvino not installed, or its device absent or unusable
 └── ModelError           model unknown, missing, unverified or unreadable (by the runtime asked for)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from app.domain import Detections

Backend = Literal["cpu", "edgetpu"]  # a model variant in the manifest (what a runtime loads)
DetectorBackend = Literal["cpu", "edgetpu", "openvino"]  # what runs it (openvino loads the cpu variant)
Image = npt.NDArray[np.uint8]  # H x W x 3, BGR (OpenCV order)


class DetectorError(Exception):
    """The detector cannot be built or run; the message says what to do."""


class RuntimeUnavailable(DetectorError):
    pass


class EdgeTpuUnavailable(DetectorError):
    def __init__(self, message: str, short: str) -> None:
        super().__init__(message)
        self.short = short  # one line for status and logs


class OpenVinoUnavailable(DetectorError):
    def __init__(self, message: str, short: str) -> None:
        super().__init__(message)
        self.short = short  # one line for status and logs


class ModelError(DetectorError):
    pass


@dataclass(frozen=True, slots=True)
class DetectorInfo:
    backend: DetectorBackend
    device: str | None  # Edge TPU device (usb:0...) or OpenVINO device (CPU, GPU...); None on LiteRT's CPU
    model: str  # manifest name[:variant] or the file path given
    model_file: str
    runtime: str  # e.g. "ai_edge_litert 2.3.0"
    input_size: tuple[int, int]  # width, height
    note: str | None = None  # why this backend was chosen when it is not the one asked for
    family: str = "ssd"  # how its outputs are decoded: ssd | nanodet
    labels: frozenset[str] = frozenset()  # every class the model can report; empty: not known


@dataclass(frozen=True, slots=True)
class TensorInfo:
    """One tensor of a loaded model, as plain values: made from the runtime's details at its
    boundary (tflite.py), so no vendor dict travels further."""

    index: int  # the runtime's handle for it (LiteRT's tensor index; OpenVINO's output position)
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    quantization: tuple[float, int]  # (scale, zero point); scale 0.0: not quantized

    def __post_init__(self) -> None:
        if self.quantization[0] < 0 or any(d < 0 for d in self.shape):
            raise ValueError(f"tensor {self.name}: shape {list(self.shape)}, quantization {self.quantization}")

    @property
    def quantized(self) -> tuple[float, int] | None:
        """(scale, zero point) when the values are quantized; None for real-valued ones."""
        return self.quantization if self.quantization[0] != 0.0 else None


class Detector(Protocol):
    """Finds objects in one BGR frame; boxes come back in that frame's pixels."""

    @property
    def info(self) -> DetectorInfo: ...

    def detect(self, image: Image, min_score: float = 0.0) -> Detections: ...

    def close(self) -> None: ...


class InferenceModel(Protocol):
    """One loaded model file, plain numpy across its surface: what `TfliteDetector` needs of a
    runtime (`tflite.TfliteModel` for LiteRT, `openvino.OpenVinoModel` for OpenVINO). Its tensors
    are described by `TensorInfo`; an output's `index` is what output()/output_view() take."""

    runtime_name: str  # e.g. "ai_edge_litert 2.3.0"
    input: TensorInfo
    outputs: tuple[TensorInfo, ...]

    def op_outputs(self, op_name: str) -> list[int] | None:
        """Output indices of the first op called `op_name`, if the runtime can tell."""
        ...

    def run(self, tensor: npt.NDArray[Any]) -> None: ...

    def output(self, index: int) -> npt.NDArray[Any]:
        """A copy of output `index` after run()."""
        ...

    def output_view(self, index: int) -> npt.NDArray[Any]:
        """Output `index` in place, valid only until the next run()."""
        ...

    def close(self) -> None: ...
