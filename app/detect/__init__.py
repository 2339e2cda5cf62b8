"""Detection: one narrow `Detector` interface; TFLite models on LiteRT (CPU / Edge TPU) or OpenVINO behind it."""

from app.detect.base import (
    Detector,
    DetectorError,
    DetectorInfo,
    EdgeTpuUnavailable,
    ModelError,
    OpenVinoUnavailable,
    RuntimeUnavailable,
)
from app.detect.factory import open_detector
from app.detect.models import ModelStore

__all__ = [
    "Detector",
    "DetectorError",
    "DetectorInfo",
    "EdgeTpuUnavailable",
    "ModelError",
    "ModelStore",
    "OpenVinoUnavailable",
    "RuntimeUnavailable",
    "open_detector",
]
