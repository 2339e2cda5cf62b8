"""One camera's analysis: pipeline → events → rules. Both drivers (the live service and
`replay`) call exactly this, so replay answers "would this rule have fired?" truthfully."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from app.analysis.events import EventBook, EventChange, ZonesOf
from app.analysis.pipeline import CameraPipeline, FrameResult
from app.domain import Alert, Frame
from app.rules import RuleEngine


@dataclass(frozen=True, slots=True)
class Outcome:
    result: FrameResult
    changes: tuple[EventChange, ...]
    alerts: tuple[Alert, ...]


class CameraAnalysis:
    def __init__(
        self, pipeline: CameraPipeline, rules: RuleEngine, rules_lock: threading.Lock, zones_of: ZonesOf
    ) -> None:
        self.name = pipeline.name
        self.pipeline = pipeline
        self._rules = rules
        self._rules_lock = rules_lock  # one engine for all cameras: the mode is global
        self._events = EventBook(pipeline.name, zones_of)

    def process(self, frame: Frame) -> Outcome:
        result = self.pipeline.process(frame)
        if not result.detector_ok:  # no evidence this frame: events and rules keep their state
            return Outcome(result, (), ())
        changes = self._events.update(frame, result.tracks, result.ended)
        with self._rules_lock:
            alerts = self._rules.evaluate(
                self.name, result.tracks, (frame.width, frame.height), frame.captured_at, self._events.event_ids()
            )
        return Outcome(result, tuple(changes), tuple(alerts))

    def event_ids(self) -> dict[str, str]:
        """Open events by track id."""
        return self._events.event_ids()

    def close(self, frame: Frame) -> tuple[EventChange, ...]:
        return tuple(self._events.close(frame))
