"""`edgewatch replay`: the real per-camera analysis over a video file, as fast as it can.

Time is the video's own timeline from `start`, so dwell, cooldown and schedules
behave as they would live. The analysis is built as live (app.analysis.build), the detect
timeout included. Nothing is published or stored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.analysis.build import build_analyses, detect_through
from app.capture import VideoSource
from app.config import Config
from app.detect.base import Detector
from app.detect.timeouts import DETECT_TIMEOUTS
from app.detect.worker import DetectionWorker
from app.domain import Frame
from app.payloads import alert_payload, event_payload

Emit = Callable[[dict[str, Any]], None]


def replay(
    video: str,
    config: Config,
    camera: str,
    *,
    start: float,
    detector: Detector,
    emit: Emit,
    detect_timeout: float = DETECT_TIMEOUTS.request_s,
) -> int:
    """Returns the number of alerts; raises SourceError when the video cannot be read or its
    frames are larger than app.capture.limits allows. A detect call past `detect_timeout` leaves
    its frame without evidence, as live."""
    cam = config.cameras[camera]
    source = VideoSource(video, realtime=False)
    fps = source.fps or 25.0
    worker = DetectionWorker(detector)
    size = detector.info.input_size[0]
    built = build_analyses(config, lambda name: detect_through(worker, name, detect_timeout), size, cameras=[camera])
    analysis = built.cameras[camera]
    interval = 1.0 / cam.detect_fps
    next_due = 0.0
    alerts = 0
    seq = 0
    last: Frame | None = None
    worker.start()
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
        worker.stop()
    if last is not None:
        for change in analysis.close(last):
            emit({"kind": "event_end", **event_payload(change.event)})
    return alerts
