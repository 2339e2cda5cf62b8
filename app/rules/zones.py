"""Where is an object? Its bottom-centre point against a camera's zones and motion mask.

An object stands where its feet are: the bottom-centre of its box. Using the box's
centre or any overlap would put a tall person standing on the pavement "in" a porch
zone drawn on the ground behind them.

Boundary: a point exactly on a polygon's edge or vertex (within 1e-9) counts as
inside. Zones are usually drawn to the frame edge (y = 1.0), and an object cut off by
the bottom of the frame has its bottom-centre exactly there; it belongs in that zone.
So two zones sharing an edge both contain a point on it, and a point on a mask's edge
is masked (OpenCV's fillPoly, used for the motion mask, also fills the boundary).
Everywhere else it is the even-odd rule, so concave zones work as drawn.

Polygons are compiled once per camera into edge tuples plus a bounding box that
rejects most points before any edge is looked at.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from app.config.schema import CameraConfig
from app.domain import Box

_EPS = 1e-9  # coordinates are fractions of the frame; this is far below one pixel

Point = tuple[float, float]
# (xi, yi, xj, yj, min x, max x, min y, max y) of one edge
_Edge = tuple[float, float, float, float, float, float, float, float]


class Region:
    """One compiled polygon (normalized coordinates)."""

    __slots__ = ("_edges", "_max_x", "_max_y", "_min_x", "_min_y")

    def __init__(self, points: Sequence[Point]) -> None:
        if len(points) < 3:
            raise ValueError("a polygon needs at least 3 points")
        pts = [(float(x), float(y)) for x, y in points]
        edges: list[_Edge] = []
        for i, (xi, yi) in enumerate(pts):
            xj, yj = pts[i - 1]
            edges.append((xi, yi, xj, yj, min(xi, xj), max(xi, xj), min(yi, yj), max(yi, yj)))
        self._edges = tuple(edges)
        self._min_x = min(x for x, _ in pts) - _EPS
        self._max_x = max(x for x, _ in pts) + _EPS
        self._min_y = min(y for _, y in pts) - _EPS
        self._max_y = max(y for _, y in pts) + _EPS

    def contains(self, x: float, y: float) -> bool:
        if x < self._min_x or x > self._max_x or y < self._min_y or y > self._max_y:
            return False
        inside = False
        for xi, yi, xj, yj, lo_x, hi_x, lo_y, hi_y in self._edges:
            if lo_x - _EPS <= x <= hi_x + _EPS and lo_y - _EPS <= y <= hi_y + _EPS:
                # |cross| / edge length is the distance to the edge's line
                cross = (xj - xi) * (y - yi) - (yj - yi) * (x - xi)
                if abs(cross) <= _EPS * max(hi_x - lo_x + hi_y - lo_y, 1e-12):
                    return True
            if (yi > y) != (yj > y) and x < xi + (y - yi) * (xj - xi) / (yj - yi):
                inside = not inside
        return inside


def point_in_polygon(x: float, y: float, polygon: Sequence[Point]) -> bool:
    """Even-odd test; a point on the boundary counts as inside (see the module doc)."""
    return Region(polygon).contains(x, y)


def foot_point(box: Box, width: float, height: float) -> Point:
    """Bottom-centre of a pixel box as a normalized point, clipped to the frame."""
    x = (box.x1 + box.x2) * 0.5 / width
    y = box.y2 / height
    return (0.0 if x < 0.0 else 1.0 if x > 1.0 else x, 0.0 if y < 0.0 else 1.0 if y > 1.0 else y)


class CameraZones:
    """A camera's named zones and motion mask, compiled once."""

    __slots__ = ("_masks", "_zones", "names")

    def __init__(self, zones: Mapping[str, Sequence[Point]], mask: Sequence[Sequence[Point]] = ()) -> None:
        self._zones = tuple((name, Region(poly)) for name, poly in zones.items())
        self._masks = tuple(Region(poly) for poly in mask)
        self.names = frozenset(zones)

    def masked(self, x: float, y: float) -> bool:
        return any(m.contains(x, y) for m in self._masks)

    def zones_at(self, x: float, y: float) -> frozenset[str]:
        """Names of the zones containing the point (mask not applied)."""
        return frozenset(name for name, region in self._zones if region.contains(x, y))

    def zones_of(self, box: Box, frame_size: tuple[int, int]) -> tuple[str, ...]:
        """Zones (config order) an object with this pixel box stands in; () under the mask, as for rules."""
        x, y = foot_point(box, *frame_size)
        if self.masked(x, y):
            return ()
        return tuple(name for name, region in self._zones if region.contains(x, y))


def zones_for_camera(camera: CameraConfig) -> Callable[[Box, tuple[int, int]], tuple[str, ...]]:
    """The zone look-up for events (`app.analysis.events.ZonesOf`), with the rules' geometry."""
    return CameraZones(camera.zones, camera.motion.mask).zones_of
