"""The narrow detector interface every backend implements, and its errors.

DetectorError
 ├── RuntimeUnavailable   no TFLite runtime importable
 ├── EdgeTpuUnavailable   libedgetpu missing, or no TPU answered
 └── ModelError           model unknown, missing, unverified or unreadable
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from app.domain import Detections

Backend = Literal["cpu", "edgetpu"]
Image = npt.NDArray[np.uint8]  # H x W x 3, BGR (OpenCV order)


class DetectorError(Exception):
    """The detector cannot be built or run; the message says what to do."""


class RuntimeUnavailable(DetectorError):
    pass


class EdgeTpuUnavailable(DetectorError):
    def __init__(self, message: str, short: str) -> None:
        super().__init__(message)
        self.short = short  # one line for status and logs


class ModelError(DetectorError):
    pass


@dataclass(frozen=True, slots=True)
class DetectorInfo:
    backend: Backend
    device: str | None  # Edge TPU device string, None on the CPU
    model: str  # manifest name[:variant] or the file path given
    model_file: str
    runtime: str  # e.g. "ai_edge_litert 2.3.0"
    input_size: tuple[int, int]  # width, height
    note: str | None = None  # why this backend was chosen when it is not the one asked for
    family: str = "ssd"  # how its outputs are decoded: ssd | nanodet
    labels: frozenset[str] = frozenset()  # every class the model can report; empty: not known


class Detector(Protocol):
    """Finds objects in one BGR frame; boxes come back in that frame's pixels."""

    @property
    def info(self) -> DetectorInfo: ...

    def detect(self, image: Image, min_score: float = 0.0) -> Detections: ...

    def close(self) -> None: ...
