"""Box geometry on plain float tuples, for the tracker's hot loops (no objects built).

A `Geom` is (x1, y1, x2, y2, cx, cy, w, h) in pixels. `app.domain.Box` is the value type that
crosses stage boundaries; this is the form the tracker and `app.analysis.parking` compute with.
"""

from __future__ import annotations

from app.domain import Box

# (x1, y1, x2, y2, cx, cy, w, h): plain floats, the inner loop builds no objects
Geom = tuple[float, float, float, float, float, float, float, float]

EPS = 1e-6
# A box at most this much of a still object's, this much inside it, is that object partly hidden.
HIDDEN_SMALLER = 0.8
HIDDEN_INSIDE = 0.85
HIDDEN_SHOWING = 0.95  # what shows of a partly hidden still object is at most this much of it
# A box holding this much of a still object's box, and at most this much larger, is that object
# with something in front of it merged into its box (a passer-by the detector boxes with it).
MERGED_HOLDING = 0.95
MERGED_LARGER = 1.6


def geom(cx: float, cy: float, w: float, h: float) -> Geom:
    return (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, cx, cy, w, h)


def box_geom(box: Box) -> Geom:
    return geom((box.x1 + box.x2) / 2, (box.y1 + box.y2) / 2, box.width, box.height)


def area(g: Geom) -> float:
    return g[6] * g[7]


def iou(a: Geom, b: Geom) -> float:
    ix = min(a[2], b[2]) - max(a[0], b[0])
    if ix <= 0:
        return 0.0
    iy = min(a[3], b[3]) - max(a[1], b[1])
    if iy <= 0:
        return 0.0
    inter = ix * iy
    union = a[6] * a[7] + b[6] * b[7] - inter
    return inter / union if union > 0 else 0.0


def within(a: Geom, b: Geom, inside: float = HIDDEN_INSIDE) -> bool:
    """Does box a lie (this much of it) inside box b?"""
    ix = min(a[2], b[2]) - max(a[0], b[0])
    iy = min(a[3], b[3]) - max(a[1], b[1])
    return ix > 0 and iy > 0 and ix * iy >= inside * a[6] * a[7]


def hidden_in(a: Geom, b: Geom) -> bool:
    """Is box a what shows of b when something hides a part of b: smaller, and inside it?"""
    return area(a) <= HIDDEN_SHOWING * area(b) and within(a, b)


def merged_with(a: Geom, b: Geom) -> bool:
    """Is box a box b with something next to or in front of it boxed together with it: larger,
    but not by much, and holding all of b?"""
    return area(b) < area(a) <= MERGED_LARGER * area(b) and within(b, a, MERGED_HOLDING)


def part_of(a: Geom, b: Geom, inside: float = HIDDEN_INSIDE) -> bool:
    """Is box a a visible part of box b: clearly smaller, and lying (this much) inside it?"""
    return 0 < area(a) <= HIDDEN_SMALLER * area(b) and within(a, b, inside)
