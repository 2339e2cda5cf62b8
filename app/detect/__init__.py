"""Detection: one narrow `Detector` interface; TFLite (CPU / Edge TPU) behind it."""

from app.detect.base import (
    Detector,
    DetectorError,
    DetectorInfo,
    EdgeTpuUnavailable,
    ModelError,
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
    "RuntimeUnavailable",
    "open_detector",
]
