"""`edgewatch replay`: the real per-camera analysis over a video file, as fast as it can.

Time is the video's own timeline from `start`, so dwell, cooldown and schedules
behave as they would live. Nothing is published or stored.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from app.analysis import CameraAnalysis
from app.capture import VideoSource
from app.config import Config, resolve_zone
from app.detect.base import Detector, Image
from app.domain import Detections, Frame
from app.objects import ObjectFilter
from app.payloads import alert_payload, event_payload
from app.pipeline import CameraPipeline
from app.rules import RuleEngine, zones_for_camera

Emit = Callable[[dict[str, Any]], None]


def replay(video: str, config: Config, camera: str, *, start: float, detector: Detector, emit: Emit) -> int:
    """Returns the number of alerts; raises SourceError when the video cannot be read or its
    frames are larger than app.capture.limits allows."""
    cam = config.cameras[camera]
    source = VideoSource(video, realtime=False)
    fps = source.fps or 25.0

    def detect(images: Sequence[Image], min_score: float) -> list[Detections]:
        return [detector.detect(image, min_score) for image in images]

    objects = ObjectFilter.from_config(config)
    pipeline = CameraPipeline(camera, cam, detect, detector.info.input_size[0], objects=objects)
    rules = RuleEngine(
        config.rules, config.cameras, resolve_zone(config.timezone), config.mode, threshold=objects.threshold
    )
    analysis = CameraAnalysis(pipeline, rules, threading.Lock(), zones_for_camera(cam))
    interval = 1.0 / cam.detect_fps
    next_due = 0.0
    alerts = 0
    seq = 0
    last: Frame | None = None
    try:
        while (image := source.read()) is not None:
            t = seq / fps  # the frame's time on the video's timeline
            seq += 1
            if t + 1e-9 < next_due:
                continue  # between detect ticks, as live
            next_due = max(next_due + interval, t)
            last = Frame(camera, seq, image, start + t, t)
            outcome = analysis.process(last)
            for alert in outcome.alerts:
                alerts += 1
                emit({"kind": "alert", **alert_payload(alert, sent_at=alert.fired_at)})
            for change in outcome.changes:
                if change.type == "end":
                    emit({"kind": "event_end", **event_payload(change.event)})
    finally:
        source.close()
    if last is not None:
        for change in analysis.close(last):
            emit({"kind": "event_end", **event_payload(change.event)})
    return alerts
