"""The stage a scene is played on: cut-outs placed as layers, painted back to front, with truth.

A frame is a background and a list of `Layer`s. They are painted farthest first, so a
nearer layer hides what is behind it, and while painting, every pixel remembers which
object (if any) was painted there last: an object's `visible` fraction is what it still
owns at the end, over its whole matte. The truth is thus computed from the very mattes
the pixels were blended with, not estimated from boxes.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from app.demo.compose import ALPHA_VISIBLE, BoxPx, FloatImage, paste

Role = Literal["arrival", "parked"]  # arrival: comes into view (one alert); parked: in view from the start, never moves


@dataclass(frozen=True, slots=True)
class SceneObject:
    """One real object of a scene: what the benchmark counts visits, events and alerts of."""

    id: int
    label: str  # its COCO label: "person" or "motorcycle"
    role: Role


@dataclass(frozen=True, slots=True)
class Seen:
    """An object in one frame."""

    id: int
    box: BoxPx  # its whole box (as if nothing hid it), clipped to the frame: pixels, x2/y2 exclusive
    visible: float  # the fraction of its whole matte inside the frame and not covered by a nearer object


@dataclass(frozen=True, slots=True)
class Distractor:
    """Something in view that is NOT an object (a bin, a bag): a detection of it is a false one."""

    what: str
    box: BoxPx


@dataclass(frozen=True, slots=True, eq=False)
class Sprite:
    """A cut-out at its size in the frame: colour and a soft matte."""

    bgr: FloatImage  # h x w x 3
    alpha: FloatImage  # h x w x 1, 0..1
    area: int  # pixels of its matte (alpha >= ALPHA_VISIBLE): what `visible` is a fraction of

    @classmethod
    def of(cls, bgr: FloatImage, alpha: FloatImage) -> Sprite:
        alpha = alpha if alpha.ndim == 3 else alpha[..., None]
        return cls(
            bgr=np.ascontiguousarray(bgr, dtype=np.float32),
            alpha=np.ascontiguousarray(alpha, dtype=np.float32),
            area=int((alpha >= ALPHA_VISIBLE).sum()),
        )

    @property
    def height(self) -> int:
        return int(self.alpha.shape[0])

    @property
    def width(self) -> int:
        return int(self.alpha.shape[1])

    def mirrored(self) -> Sprite:
        return Sprite.of(self.bgr[:, ::-1], self.alpha[:, ::-1])


@dataclass(frozen=True, slots=True, eq=False)
class Layer:
    """A sprite placed in one frame."""

    sprite: Sprite
    x0: int  # its top-left corner in the frame (may be outside it)
    y0: int
    depth: float  # distance from the camera (any unit): farther layers are painted first
    id: int = 0  # the object it is; 0: not an object (a shadow, a hedge)
    paint: bool = True  # False: it is part of the background photo already; only its matte counts
    hides: bool = True  # whether it covers what is behind it (a shadow does not)


def play(frame: FloatImage, layers: Sequence[Layer]) -> tuple[Seen, ...]:
    """Paint `layers` on `frame` in place, farthest first; return the objects in view, by id."""
    height, width = frame.shape[:2]
    owner: np.ndarray | None = None  # which object each pixel shows (0: none), made when needed
    boxes: dict[int, tuple[BoxPx, int]] = {}
    for layer in sorted(layers, key=lambda layer: -layer.depth):  # stable: equal depths keep their order
        sprite = layer.sprite
        if layer.paint:
            paste(frame, sprite.bgr, sprite.alpha, layer.x0, layer.y0)
        if not (layer.hides or layer.id):
            continue
        fx1, fy1 = max(0, layer.x0), max(0, layer.y0)
        fx2, fy2 = min(width, layer.x0 + sprite.width), min(height, layer.y0 + sprite.height)
        if fx1 >= fx2 or fy1 >= fy2:
            continue
        solid = sprite.alpha[fy1 - layer.y0 : fy2 - layer.y0, fx1 - layer.x0 : fx2 - layer.x0, 0] >= ALPHA_VISIBLE
        if owner is None:
            owner = np.zeros((height, width), np.int32)
        if layer.hides:
            owner[fy1:fy2, fx1:fx2][solid] = layer.id
        if layer.id:
            cols = np.flatnonzero(solid.any(axis=0))
            rows = np.flatnonzero(solid.any(axis=1))
            if cols.size and rows.size:
                box = (fx1 + int(cols[0]), fy1 + int(rows[0]), fx1 + int(cols[-1]) + 1, fy1 + int(rows[-1]) + 1)
                boxes[layer.id] = (box, sprite.area)
    seen = []
    for oid, (box, area) in sorted(boxes.items()):
        assert owner is not None
        x1, y1, x2, y2 = box
        shown = int(np.count_nonzero(owner[y1:y2, x1:x2] == oid))
        seen.append(Seen(id=oid, box=box, visible=round(shown / max(area, 1), 4)))
    return tuple(seen)


class Path:
    """A position over time: straight between keyframes (seconds, value), held before the first and
    after the last, with every corner rounded by a moving average over `ease` seconds.

    So a walker keeps a steady pace along a segment and, at a keyframe, speeds up or brakes at
    a constant rate over `ease` seconds instead of jumping from one speed to the next.
    """

    def __init__(self, keys: Sequence[tuple[float, float]], ease: float = 0.8) -> None:
        if len(keys) < 2 or any(b[0] <= a[0] for a, b in itertools.pairwise(keys)) or ease <= 0:
            raise ValueError(f"a path needs two or more keyframes in time order and ease > 0 (got {keys}, {ease})")
        self._t = [float(t) for t, _ in keys]
        self._v = [float(v) for _, v in keys]
        self._ease = ease
        # The integral of the straight path from the first keyframe to each keyframe.
        self._area = [0.0]
        for k in range(1, len(keys)):
            self._area.append(self._area[-1] + (self._t[k] - self._t[k - 1]) * (self._v[k] + self._v[k - 1]) / 2)

    def _straight(self, s: float) -> float:
        t, v = self._t, self._v
        if s <= t[0]:
            return v[0]
        if s >= t[-1]:
            return v[-1]
        k = bisect.bisect_right(t, s) - 1
        return v[k] + (v[k + 1] - v[k]) * (s - t[k]) / (t[k + 1] - t[k])

    def _integral(self, s: float) -> float:
        t = self._t
        if s <= t[0]:
            return (s - t[0]) * self._v[0]
        k = min(bisect.bisect_right(t, s) - 1, len(t) - 1)
        return self._area[k] + (s - t[k]) * (self._straight(s) + self._v[k]) / 2

    def at(self, s: float) -> float:
        half = self._ease / 2
        return (self._integral(s + half) - self._integral(s - half)) / self._ease

    def speed(self, s: float) -> float:
        """Its rate of change at `s` (units per second)."""
        half = self._ease / 2
        return (self._straight(s + half) - self._straight(s - half)) / self._ease
