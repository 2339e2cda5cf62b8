"""Events: each confirmed track becomes one event, new → update → end, with its best snapshot.

Updates are sent only when something a person would care about changes (a better
score, a zone entered, parked or moving again), not on every frame, so subscribers
are not flooded. Times are epoch seconds on the frame's timeline (the video's in replay).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

from app.domain import Box, Event, Frame, Track

ZonesOf = Callable[[Box, tuple[int, int]], tuple[str, ...]]  # zones a box (pixels) is in
ChangeType = Literal["new", "update", "end"]


@dataclass(frozen=True, slots=True)
class EventChange:
    type: ChangeType
    event: Event
    best_frame: Frame | None = None  # set when this change brought a better snapshot
    best_box: Box | None = None


def normalized(box: Box, frame_size: tuple[int, int]) -> tuple[float, float, float, float]:
    w, h = frame_size
    clipped = box.clip(w, h)
    return (round(clipped.x1 / w, 4), round(clipped.y1 / h, 4), round(clipped.x2 / w, 4), round(clipped.y2 / h, 4))


class EventBook:
    """One camera's events; feed it every pipeline result in time order."""

    def __init__(self, camera: str, zones_of: ZonesOf) -> None:
        self._camera = camera
        self._zones_of = zones_of
        self._open: dict[str, Event] = {}  # track id → its event

    def event_ids(self) -> dict[str, str]:
        return {track_id: event.id for track_id, event in self._open.items()}

    def update(self, frame: Frame, tracks: tuple[Track, ...], ended: tuple[Track, ...]) -> list[EventChange]:
        size = (frame.width, frame.height)
        changes: list[EventChange] = []
        for track in tracks:
            if not track.confirmed:
                continue
            current = self._open.get(track.id)
            zones = self._zones_of(track.box, size)
            if current is None:
                start = _wall(frame, track.first_seen)
                event = Event(
                    id=f"{round(start * 1000)}-{track.id}",
                    camera=self._camera,
                    label=track.label,
                    score=round(track.score, 4),
                    top_score=round(track.top_score, 4),
                    box=normalized(track.box, size),
                    zones=zones,
                    start_time=start,
                    end_time=None,
                    stationary=track.stationary,
                )
                self._open[track.id] = event
                changes.append(EventChange("new", event, frame, track.box))
                continue
            entered = tuple(z for z in zones if z not in current.zones)
            better = track.top_score > current.top_score + 1e-6 and track.score >= track.top_score - 1e-6
            updated = replace(
                current,
                label=track.label,
                score=round(track.score, 4),
                top_score=round(track.top_score, 4),
                box=normalized(track.box, size),
                zones=current.zones + entered,
                stationary=track.stationary,
            )
            self._open[track.id] = updated
            if better or entered or track.stationary != current.stationary or track.label != current.label:
                changes.append(EventChange("update", updated, frame if better else None, track.box if better else None))
        for track in ended:
            if track.id in self._open:
                event = self._open.pop(track.id)
                changes.append(EventChange("end", replace(event, end_time=_wall(frame, track.last_seen))))
        return changes

    def close(self, frame: Frame) -> list[EventChange]:
        """End every open event (the video ended, or the service stops)."""
        ended = [EventChange("end", replace(e, end_time=frame.captured_at)) for e in self._open.values()]
        self._open.clear()
        return ended


def _wall(frame: Frame, monotonic: float) -> float:
    """A pipeline (monotonic) time → epoch seconds, through the frame that carries both."""
    return round(frame.captured_at - (frame.monotonic - monotonic), 3)
