"""Regions of interest: motion and tracked boxes → square crops sized for the model.

Running the detector on a crop around the activity, rather than on the whole frame
squeezed to the model's square, keeps a small, distant person large enough to be found.
Overlapping boxes are merged first so one object is not detected twice.

An object longer than the frame's shorter side (a car filling a driveway camera) fits no
square inside the frame: cut in two by two crops it is two half-cars, neither of them
stands still, and a parked car looks like one that moves. Its square reaches past the
frame's edges instead (the pipeline pads the outside), and so does `whole_frame`, the
periodic look at everything: one square around the whole frame, padded, undistorted.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

from app.domain import Box, Detection
from app.labels import kind


def regions_for(
    boxes: Iterable[Box],
    frame_size: tuple[int, int],
    model_size: int,
    *,
    margin: float = 0.25,
    max_regions: int = 4,
    if_room: Sequence[Box] = (),
) -> tuple[Box, ...]:
    """Square crops (pixels) covering `boxes`; tiles of the whole frame when they would be too
    many. `if_room`: boxes covered too, unless that alone would make the crops too many (what
    must be looked at comes first)."""
    boxes = list(boxes)
    if if_room:
        regions = _regions(boxes + list(if_room), frame_size, model_size, margin, max_regions)
        if regions is not None:
            return regions
    regions = _regions(boxes, frame_size, model_size, margin, max_regions)
    return cover_frame(frame_size) if regions is None else regions


def _regions(
    boxes: list[Box], frame_size: tuple[int, int], model_size: int, margin: float, max_regions: int
) -> tuple[Box, ...] | None:
    width, height = frame_size
    shorter, longer = min(width, height), max(width, height)
    crops: list[Box] = []
    for box in _merge([b for b in boxes if b.area > 0], overlap=0.0, limit=shorter):
        longest = max(box.width, box.height)
        side = min(max(float(model_size), longest * (1 + margin)), shorter if longest <= shorter else longer)
        crops.append(_square(box, frame_size, side))
    # Crops that overlap a lot are cheaper as one larger crop, if that still fits.
    merged = _merge(crops, overlap=0.5, limit=shorter)
    if len(merged) > max_regions:
        return None
    return tuple(_square(b, frame_size, max(b.width, b.height)) for b in merged)


def cover_frame(frame_size: tuple[int, int]) -> tuple[Box, ...]:
    """The fewest squares that tile the frame. A 16:9 frame squeezed whole into a square
    input distorts people by ~1.8x and costs the SSD most of its score; two squares do not."""
    width, height = frame_size
    side = min(width, height)
    count = -(-max(width, height) // side)
    if count == 1:
        return (Box(0, 0, width, height),)
    step = (max(width, height) - side) / (count - 1)
    if width >= height:
        return tuple(Box(round(i * step), 0, round(i * step) + side, height) for i in range(count))
    return tuple(Box(0, round(i * step), width, round(i * step) + side) for i in range(count))


def whole_frame(frame_size: tuple[int, int]) -> tuple[Box, ...]:
    """One square around the whole frame, reaching past its shorter sides (padded)."""
    width, height = frame_size
    return (_square(Box(0, 0, width, height), frame_size, max(width, height)),)


def _square(box: Box, frame: tuple[int, int], side: float) -> Box:
    """A `side`-pixel square (at most the frame's longer side) centred on `box`: inside the
    frame along a side longer than the square, centred on the frame along a shorter one."""
    width, height = frame
    side = min(side, max(width, height))
    x1 = _place((box.x1 + box.x2) / 2, side, width)
    y1 = _place((box.y1 + box.y2) / 2, side, height)
    return Box(x1, y1, x1 + round(side), y1 + round(side))


def _place(centre: float, side: float, extent: int) -> int:
    if side >= extent:
        return round((extent - side) / 2)
    return round(min(max(centre - side / 2, 0.0), extent - side))


def _merge(boxes: list[Box], overlap: float, limit: float | None) -> list[Box]:
    """Union boxes whose intersection exceeds `overlap` of the smaller one (0: any contact),
    unless the union would be longer than `limit` on a side."""
    merged = list(boxes)
    i = 0
    while i < len(merged):
        for j in range(i + 1, len(merged)):
            a, b = merged[i], merged[j]
            inter = Box(max(a.x1, b.x1), max(a.y1, b.y1), min(a.x2, b.x2), min(a.y2, b.y2)).area
            union = Box(min(a.x1, b.x1), min(a.y1, b.y1), max(a.x2, b.x2), max(a.y2, b.y2))
            fits = limit is None or max(union.width, union.height) <= limit
            if inter > 0 and inter >= overlap * min(a.area, b.area) and fits:
                merged[i] = union
                del merged[j]
                break
        else:
            i += 1
    return merged


def to_frame(
    detections: Sequence[Detection], region: Box, frame_size: tuple[int, int], *, scale: float = 1.0
) -> list[Detection]:
    """Boxes found in a crop → pixels of the full frame (clipped to it: a padded crop's
    boxes may reach into the padding). Boxes wholly in the padding are dropped. `scale`:
    region pixels per crop pixel, for a crop that was shrunk before it was padded."""
    dx, dy = region.x1, region.y1
    width, height = frame_size
    out = []
    for d in detections:
        b = d.box
        box = Box(b.x1 * scale + dx, b.y1 * scale + dy, b.x2 * scale + dx, b.y2 * scale + dy).clip(width, height)
        if box.area > 0:
            out.append(Detection(d.label, d.score, box))
    return out


def suppress_duplicates(
    detections: Sequence[Detection], iou: float = 0.5, contained: float = 0.8, *, cut: Collection[Detection] = ()
) -> list[Detection]:
    """NMS per kind of object across regions: one object seen in two overlapping crops counts
    once, and so does one van called a car here and a truck there (labels of one group in
    `app.labels.GROUPS`: two tracks for one vehicle would double its count and could alert).
    A box mostly inside another of the same kind is a part of it, not a second object: the
    better one is kept, except that a part a crop cut (in `cut`) gives way to the whole box
    (which keeps the better label and score)."""
    kept: list[Detection] = []
    for det in sorted(detections, key=lambda d: d.score, reverse=True):
        for i, k in enumerate(kept):
            if duplicate(k, det, iou, contained):
                if k in cut and det.box.area > k.box.area and covers(det.box, k.box, contained):
                    kept[i] = Detection(k.label, k.score, det.box)  # k was a part of det
                break
        else:
            kept.append(det)
    return kept


def cut_by(box: Box, region: Box, frame_size: tuple[int, int], *, tolerance: float = 0.01) -> bool:
    """Does `box`, found in `region`, touch one of the region's edges that lie inside the frame?
    Then the crop may have cut the object there (an edge of the frame cuts nothing we could see)."""
    width, height = frame_size
    tol = max(2.0, tolerance * max(region.width, region.height))
    return (
        (region.x1 > 0 and box.x1 - region.x1 <= tol)
        or (region.y1 > 0 and box.y1 - region.y1 <= tol)
        or (region.x2 < width and region.x2 - box.x2 <= tol)
        or (region.y2 < height and region.y2 - box.y2 <= tol)
    )


def grown_around(box: Box, region: Box, frame_size: tuple[int, int], model_size: int) -> Box | None:
    """A square that holds `box` (cut by `region`'s edge) with room on every side: twice its
    longer side, at least the model's size. None when that would be no larger than `region`
    (there is nothing more to see from here)."""
    side = max(float(model_size), 2.0 * max(box.width, box.height))
    grown = _square(box, frame_size, side)
    if grown.width <= region.width and covers(region, grown, 0.99):
        return None
    return grown


def covers(big: Box, small: Box, fraction: float) -> bool:
    """Does `big` hold at least `fraction` of `small`?"""
    inter = Box(max(big.x1, small.x1), max(big.y1, small.y1), min(big.x2, small.x2), min(big.y2, small.y2)).area
    return small.area > 0 and inter >= fraction * small.area


def duplicate(a: Detection, b: Detection, iou: float = 0.5, contained: float = 0.8) -> bool:
    """Are two detections one object: the same kind, and overlapping by `iou` or one lying
    `contained` inside the other?"""
    return kind(a.label) == kind(b.label) and _same_object(a.box, b.box, iou, contained)


def _same_object(a: Box, b: Box, iou: float, contained: float) -> bool:
    inter = Box(max(a.x1, b.x1), max(a.y1, b.y1), min(a.x2, b.x2), min(a.y2, b.y2)).area
    smaller = min(a.area, b.area)
    return a.iou(b) >= iou or (smaller > 0 and inter / smaller >= contained)
