"""Capture: camera sources, the reconnecting reader, and the freshest-frame hand-off."""

from app.capture.camera import Backoff, Camera, CaptureHealth
from app.capture.pyav import PacketSink, SourceError, SourceKind, VideoSource, source_kind
from app.capture.slot import LatestFrame

__all__ = [
    "Backoff",
    "Camera",
    "CaptureHealth",
    "LatestFrame",
    "PacketSink",
    "SourceError",
    "SourceKind",
    "VideoSource",
    "source_kind",
]
