"""One track's mutable state: motion model, label vote, confirmation, still period."""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from app.analysis.geometry import EPS, Geom, area, geom
from app.analysis.parking import Stillness
from app.domain import Box, Detection, Track
from app.labels import PARKS

_SMOOTHING = 0.5  # weight of the newest motion measurement in the velocity average
_TAU = 2.0  # s, damping time of the constant-velocity prediction
_MAX_JUMP = 2.0  # a prediction moves at most this many box sizes (one bad match cannot fling it)
_MIN_SCALE, _MAX_SCALE = 0.8, 1.25  # clamp of the predicted size change
_OUT_OF_FRAME = 0.4  # a moving track predicted this much outside the frame has left it
_SCORE_WINDOW = 10  # matches whose median decides confirmation
# Something that never moved and never stirred (not a thing that parks) needs this long, at
# this much above its threshold, before it is believed: a boulder is not a dog.
STATIC_EVIDENCE = 5.0
STATIC_MARGIN = 0.1
# Coming in over the frame's edge: cut by it at first, and this much larger since (more shows).
_COMING_IN = 1.3
# Motion under a box is the object's own when the moving area is not much larger than the box
# (a light change or a gust moves half the frame at once, which proves nothing).
_OWN_MOTION_OVERLAP = 0.2
_OWN_MOTION_AREA = 4.0


@dataclass(frozen=True, slots=True)
class Det:
    """A detection as the tracker matches it: its geometry and match key (label group)."""

    det: Detection
    geom: Geom
    key: str
    cut: bool = False  # the box touches the frame's edge: only part of the object shows


@dataclass(frozen=True, slots=True)
class Rules:
    """What a track needs to know of the tracker's settings to update itself."""

    min_hits: int
    confirm_score: Callable[[str], float]  # per label: median score of the recent matches needed to confirm
    still_after: float
    still_tolerance: float


class Look(NamedTuple):
    """One match as confirmation weighs it."""

    score: float
    area: float  # of the box matched (the predicted one for a glimpse)
    cut: bool  # the frame's edge cut the box


def _coming_in(looks: list[Look]) -> bool:
    """Cut by the frame's edge on the first of these looks and much larger on the last: a
    thing walking or driving in (a box that only jitters at the edge does neither)."""
    return looks[0].cut and looks[-1].area >= _COMING_IN * looks[0].area


class State:
    """One track's mutable state; private to the Tracker."""

    __slots__ = (
        "box",
        "confirmed",
        "cx",
        "cy",
        "first_seen",
        "gh",
        "gw",
        "h",
        "hits",
        "id",
        "key",
        "label",
        "label_counts",
        "last_seen",
        "looks",
        "moves",
        "origin",
        "score",
        "snapshot",
        "still",
        "stirred",
        "top_score",
        "vx",
        "vy",
        "w",
    )

    def __init__(self, track_id: str, d: Det, now: float, rules: Rules, stirred: bool) -> None:
        det = d.det
        self.id = track_id
        self.label = det.label
        self.key = d.key  # fixed for life: only compatible labels can join
        self.label_counts: dict[str, int] = {det.label: 1}
        self.score = det.score
        self.top_score = det.score
        self.box = det.box
        self.origin = det.box
        *_, self.cx, self.cy, self.w, self.h = d.geom
        self.first_seen = now
        self.last_seen = now
        self.hits = 1
        self.looks: deque[Look] = deque([Look(det.score, area(d.geom), d.cut)], maxlen=_SCORE_WINDOW)
        self.vx = self.vy = self.gw = self.gh = 0.0  # px/s and log-size/s
        self.moves = 0  # motion measurements so far (0: velocity unknown)
        self.still = Stillness(d.geom, now, after=rules.still_after, tolerance=rules.still_tolerance)
        self.stirred = stirred  # motion of its own was seen under it at least once
        self.confirmed = False
        self.snapshot: Track | None = None  # cached; unmatched tracks do not change
        self._confirm(now, rules)

    def predict(self, now: float) -> Geom:
        dt = now - self.last_seen
        if self.still.stationary or dt <= 0 or self.moves == 0:
            return geom(self.cx, self.cy, self.w, self.h)
        t = _TAU * (1.0 - math.exp(-dt / _TAU))
        dx, dy = self.vx * t, self.vy * t
        limit = _MAX_JUMP * max(self.w, self.h)
        dist = math.hypot(dx, dy)
        if dist > limit:
            dx, dy = dx * limit / dist, dy * limit / dist
        sw = min(max(math.exp(self.gw * t), _MIN_SCALE), _MAX_SCALE)
        sh = min(max(math.exp(self.gh * t), _MIN_SCALE), _MAX_SCALE)
        return geom(self.cx + dx, self.cy + dy, self.w * sw, self.h * sh)

    def take(self, d: Det, now: float, rules: Rules, moving: list[Geom] | None) -> None:
        """A detection matched this track."""
        still = self.still
        if still.parked(self.label, now) and still.shows_part(d.geom):
            self.glimpse(d, now, rules, still.anchor)  # partly hidden, still all there
        else:
            self.match(d, now, rules, stirs(d.geom, moving))

    def match(self, d: Det, now: float, rules: Rules, stirred: bool) -> None:
        det, g = d.det, d.geom
        *_, cx, cy, w, h = g
        dt = now - self.last_seen
        if dt > 0:  # two detections at the same instant carry no motion information
            mvx, mvy = (cx - self.cx) / dt, (cy - self.cy) / dt
            mgw = math.log(max(w, EPS) / max(self.w, EPS)) / dt
            mgh = math.log(max(h, EPS) / max(self.h, EPS)) / dt
            a = 1.0 if self.moves == 0 else _SMOOTHING
            self.vx += a * (mvx - self.vx)
            self.vy += a * (mvy - self.vy)
            self.gw += a * (mgw - self.gw)
            self.gh += a * (mgh - self.gh)
            self.moves += 1
        self.cx, self.cy, self.w, self.h = cx, cy, w, h
        self.box = det.box
        self._seen(det, now, stirred, size=area(g), cut=d.cut)
        self.still.observe(g, now)
        self._confirm(now, rules)

    def glimpse(self, d: Det, now: float, rules: Rules, predicted: Geom) -> None:
        """A part of it was seen inside where it was expected: it is still there, at its
        predicted place and size (a part box says nothing reliable about either)."""
        *_, self.cx, self.cy, self.w, self.h = predicted
        self.box = Box(predicted[0], predicted[1], predicted[2], predicted[3])
        self._seen(d.det, now, False, size=area(predicted), cut=False)
        self.still.observe_part(now)
        self._confirm(now, rules)

    def _seen(self, det: Detection, now: float, stirred: bool, *, size: float, cut: bool) -> None:
        self.score = det.score
        self.top_score = max(self.top_score, det.score)
        self.last_seen = now
        self.hits += 1
        self.stirred = self.stirred or stirred
        self.looks.append(Look(det.score, size, cut))
        count = self.label_counts.get(det.label, 0) + 1
        self.label_counts[det.label] = count
        if count > self.label_counts[self.label]:  # strict: a tie keeps the current label
            self.label = det.label  # same match key: only compatible labels ever get here
        self.snapshot = None

    def _confirm(self, now: float, rules: Rules) -> None:
        """Repeated weak matches (a cushion scoring 0.42 frame after frame) never confirm, and
        neither does something that never moved or stirred unless it is clearly and lastingly
        seen (see app.analysis.track.tracker's module doc)."""
        if self.confirmed or self.hits < rules.min_hits:
            return
        need = rules.confirm_score(self.label)
        looks = list(self.looks)
        if not self.still.never_moved:
            # Something on the move is judged on its latest looks, and while it comes in over
            # the frame's edge, on the best of them: a person half in the frame scores by how
            # much of them shows, which says nothing about whether they are real.
            looks = looks[-rules.min_hits :]
            if _coming_in(looks):
                self.confirmed = max(look.score for look in looks) >= need
                return
        elif self.label not in PARKS and not self.stirred:
            if now - self.first_seen < STATIC_EVIDENCE:
                return
            need += STATIC_MARGIN
        self.confirmed = statistics.median(look.score for look in looks) >= need

    def parked(self, now: float) -> bool:
        """Standing where it stands for a while (see `Stillness.parked`)."""
        return self.still.parked(self.label, now)

    def leaving(self, now: float, frame: tuple[int, int]) -> bool:
        """A moving track predicted to be mostly out of the frame has walked out of it."""
        if self.moves == 0 or self.still.stationary:
            return False
        x1, y1, x2, y2, *_, w, h = self.predict(now)
        width, height = frame
        inside = max(0.0, min(x2, width) - max(x1, 0.0)) * max(0.0, min(y2, height) - max(y1, 0.0))
        return w * h > 0 and inside <= (1.0 - _OUT_OF_FRAME) * w * h

    def track(self) -> Track:
        if self.snapshot is None:
            self.snapshot = Track(
                id=self.id,
                label=self.label,
                score=self.score,
                top_score=self.top_score,
                box=self.box,
                first_seen=self.first_seen,
                last_seen=self.last_seen,
                hits=self.hits,
                confirmed=self.confirmed,
                stationary=self.still.stationary,
                origin=self.origin,
            )
        return self.snapshot


def stirs(box: Geom, moving: list[Geom] | None) -> bool:
    """Did motion of its own show under this box (not a change across half the frame)?"""
    if moving is None:
        return True
    size = box[6] * box[7]
    if size <= 0:
        return False
    for m in moving:
        ix = min(box[2], m[2]) - max(box[0], m[0])
        iy = min(box[3], m[3]) - max(box[1], m[1])
        if ix > 0 and iy > 0 and ix * iy >= _OWN_MOTION_OVERLAP * size and m[6] * m[7] <= _OWN_MOTION_AREA * size:
            return True
    return False
