"""The "parked" notion, in one place: has a thing left where it stood, how long has it stood
still, and where a camera's vehicles were parked.

- `moved_from(box, where)` (in app.domain, on boxes alone): has an object left a place? (the
  rules' test for a vehicle having driven in or off, and `Track.has_moved`).
- `Stillness`: one tracked object's current still period, as the tracker keeps it: where it
  began (the anchor) and when, whether the object is stationary, and whether a smaller box
  inside where it stands is that object partly hidden rather than the object moving.
- `ParkingSpots`: a camera's remembered parking spots (the rules engine), so a parked vehicle
  the tracker lost and found again is recognised as the same one.

Pure: no clock, thread or I/O; times come in as `now`.
"""

from __future__ import annotations

import math

from app.analysis.geometry import Geom, area, hidden_in, merged_with, within
from app.domain import Box, moved_from
from app.labels import PARKS

SETTLE = 1.0  # s still before a smaller box inside where it stands counts as it partly hidden
SPOT_MEMORY = 600.0  # s a parking spot is remembered after its vehicle was last seen in it


class Stillness:
    """One object's still period: it began at `anchor` (a box) at `since`.

    Still = centre within `tolerance` × diagonal of the anchor, and size within twice that
    (detector boxes breathe more in size than in position). The anchor does not follow the
    box, so a slow creep eventually counts as moving. Once it has stood `SETTLE` seconds, a
    smaller box inside where it stands is the object partly hidden (a person walking in
    front of a parked car), not the object moving: the anchor stays. `stationary` once the
    period has lasted `after` seconds.
    """

    __slots__ = ("_after", "_first", "_tolerance", "anchor", "since", "stationary")

    def __init__(self, where: Geom, now: float, *, after: float, tolerance: float) -> None:
        self.anchor = where
        self.since = now
        self.stationary = after <= 0
        self._first = now
        self._after = after
        self._tolerance = tolerance

    def still_for(self, now: float) -> float:
        return now - self.since

    def settled(self, now: float) -> bool:
        """Has it stood long enough that a part of it seen inside where it stands is it?"""
        return now - self.since >= SETTLE

    @property
    def never_moved(self) -> bool:
        """Still in its first still period: at one spot since it was first seen."""
        return self.since == self._first

    def parked(self, label: str, now: float) -> bool:
        """Standing where it stands for a while: a thing that parks after `SETTLE`, anything
        else once stationary (a person waiting at a door)."""
        return now - self.since >= SETTLE and (label in PARKS or self.stationary)

    def shows_part(self, g: Geom) -> bool:
        """Is box g mostly inside where it stands and no larger: it partly hidden, still all
        there? (A detector's box of a partly hidden thing reaches out a little anywhere; one
        that drives off leaves the spot by more than that within a second.)"""
        return within(g, self.anchor) and area(g) <= area(self.anchor)

    def observe(self, g: Geom, now: float) -> None:
        """It was seen whole at box g: a new still period begins if it moved."""
        *_, acx, acy, aw, ah = self.anchor
        *_, cx, cy, w, h = g
        reach = self._tolerance * math.hypot(aw, ah)
        moved = math.hypot(cx - acx, cy - acy) > reach or abs(w - aw) > 2 * reach or abs(h - ah) > 2 * reach
        if moved and now - self.since >= SETTLE:
            # Settled, it is still there when less of it shows (someone in front) or when the
            # detector boxes a passer-by together with it; driving off leaves where it stood.
            moved = not (hidden_in(g, self.anchor) or merged_with(g, self.anchor))
        if moved:
            self.anchor = g
            self.since = now
        self.stationary = now - self.since >= self._after

    def observe_part(self, now: float) -> None:
        """A part of it was seen where it was expected: the still period goes on."""
        self.stationary = now - self.since >= self._after


class Spot:
    """Where a vehicle stands (the union of its boxes there), remembered `until`."""

    __slots__ = ("box", "until")

    def __init__(self, box: Box, until: float) -> None:
        self.box = box
        self.until = until


class ParkingSpots:
    """One camera's parking spots: where things that park stood without moving, each kept for
    `memory` seconds after its vehicle was last seen in it."""

    __slots__ = ("_memory", "_spots")

    def __init__(self, memory: float = SPOT_MEMORY) -> None:
        self._memory = memory
        self._spots: list[Spot] = []

    def __len__(self) -> int:
        return len(self._spots)

    def __contains__(self, spot: object) -> bool:
        return spot in self._spots

    def expire(self, now: float) -> None:
        """Forget the spots not seen in use for `memory` seconds."""
        if self._spots:
            self._spots = [s for s in self._spots if s.until >= now]

    def find(self, box: Box) -> Spot | None:
        """The first remembered spot that a thing at `box` stands in (has not moved from)."""
        return next((s for s in self._spots if not moved_from(box, s.box)), None)

    def add(self, box: Box, now: float) -> Spot:
        """A new spot where a thing at `box` stands now."""
        spot = Spot(box, now + self._memory)
        self._spots.append(spot)
        return spot

    def extend(self, spot: Spot, box: Box, now: float) -> None:
        """Its vehicle is seen in it at `box`: the spot grows to hold it and is kept longer."""
        s = spot.box
        spot.box = Box(min(box.x1, s.x1), min(box.y1, s.y1), max(box.x2, s.x2), max(box.y2, s.y2))
        spot.until = now + self._memory

    def forget(self, spot: Spot) -> None:
        """Its vehicle drove off."""
        if spot in self._spots:
            self._spots.remove(spot)
