"""Event lifecycle from tracks: new on confirmation, updates only when it matters, end once."""

from __future__ import annotations

import numpy as np

from app.analysis.events import EventBook
from app.domain import Box, Frame, Track

IMAGE = np.zeros((720, 1280, 3), np.uint8)
T0 = 1_764_000_000.0  # epoch of the first frame


def frame(t: float) -> Frame:
    return Frame("porch", int(t * 10), IMAGE, T0 + t, t)


def track(t: float, *, score: float = 0.8, top: float | None = None, x: float = 100, confirmed: bool = True,
          stationary: bool = False, first: float = 0.0) -> Track:  # fmt: skip
    return Track("porch-1", "person", score, top if top is not None else score, Box(x, 200, x + 100, 500), first, t, 5,
                 confirmed, stationary)  # fmt: skip


def zones_of(box: Box, _size: tuple[int, int]) -> tuple[str, ...]:
    return ("porch",) if (box.x1 + box.x2) / 2 > 600 else ()


def test_lifecycle_new_update_end() -> None:
    book = EventBook("porch", zones_of)
    assert book.update(frame(0.0), (track(0.0, confirmed=False),), ()) == []  # unconfirmed: no event
    (new,) = book.update(frame(0.6), (track(0.6, first=0.0),), ())
    assert new.type == "new"
    assert new.best_frame is not None
    event = new.event
    assert event.start_time == T0
    assert event.end_time is None
    assert event.camera == "porch"
    assert event.id == f"{round(T0 * 1000)}-porch-1"
    assert event.box == (round(100 / 1280, 4), round(200 / 720, 4), round(200 / 1280, 4), round(500 / 720, 4))
    assert book.event_ids() == {"porch-1": event.id}
    assert book.update(frame(0.8), (track(0.8, x=110),), ()) == []  # moved a little: nothing to tell
    (better,) = book.update(frame(1.0), (track(1.0, score=0.95, top=0.95, x=120),), ())
    assert better.type == "update"
    assert better.best_frame is not None
    assert better.event.top_score == 0.95
    (entered,) = book.update(frame(1.2), (track(1.2, score=0.9, top=0.95, x=700),), ())
    assert entered.event.zones == ("porch",)
    assert entered.best_frame is None
    (parked,) = book.update(frame(12.0), (track(12.0, score=0.9, top=0.95, x=700, stationary=True),), ())
    assert parked.event.stationary
    (end,) = book.update(frame(15.0), (), (track(13.0, score=0.9, top=0.95, x=700, stationary=True),))
    assert end.type == "end"
    assert end.event.end_time == T0 + 13.0
    assert end.event.id == event.id
    assert book.event_ids() == {}


def test_close_ends_open_events_at_the_last_frame() -> None:
    book = EventBook("porch", zones_of)
    book.update(frame(1.0), (track(1.0),), ())
    (end,) = book.close(frame(4.0))
    assert end.type == "end"
    assert end.event.end_time == T0 + 4.0
    assert book.close(frame(5.0)) == []
