"""One camera's per-frame path: motion → regions → detect → keep the tracked classes → track.

One composed object, two drivers: the live service feeds it the freshest frame at
the camera's detect fps, and `replay` feeds it a video file as fast as it can, so
replay exercises exactly what runs in production. Time comes from the frame
(`Frame.monotonic`), never from a clock read here.

The `ObjectFilter` (app.objects) decides what is an object here: the detector is asked
for everything above the lowest class floor less a margin; tracked classes at their own
`min_score` reach the tracker as detections, those a little below it as weak detections
that may only continue a confirmed track (a person whose score dips for a second), and the
tracker confirms each track at its class's `threshold`.

A crop can cut an object: a detection touching an inner edge of its crop (an edge inside
the frame) that no known object explains is looked at again on a square grown to hold it
(Frigate's approach), at most `MAX_RELOOKS` a frame; then duplicates across crops are
merged per group, the whole box winning over its parts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from app.analysis.motion import MotionDetector
from app.analysis.regions import (
    covers,
    cut_by,
    duplicate,
    grown_around,
    regions_for,
    suppress_duplicates,
    to_frame,
    whole_frame,
)
from app.analysis.track import Tracker
from app.config import CameraConfig
from app.detect.base import Image
from app.domain import Box, Detection, Detections, Frame, Track
from app.objects import ObjectFilter

# Runs the detector on crops; None when it could not (stopped, failed, timed out).
DetectFn = Callable[[Sequence[Image], float], list[Detections] | None]

MAX_RELOOKS = 2  # crops grown around cut detections, per frame
_PART = 0.85  # a box this much inside another is a part of it
# A confirmed object counts as in view while seen this recently (a passer-by may hide it for a
# moment), or while it stands still (a parked car behind a passer-by is still there).
IN_VIEW_FOR = 2.0
# A stationary object that nothing stirs (Tracker.watch) is looked for this often (Frigate: every
# ~50 frames), not on every frame: a parked car would cost an invoke a frame. Well under the
# tracker's stationary_max_age (30 s), so one or two missed looks never end it.
RECHECK_STILL = 10.0


@dataclass(frozen=True, slots=True)
class FrameResult:
    frame: Frame
    motion: tuple[Box, ...]
    regions: tuple[Box, ...]  # crops the detector ran on (empty: nothing to look at)
    detections: tuple[Detection, ...]  # in frame pixels, duplicates across crops removed, tracked classes only
    tracks: tuple[Track, ...]
    ended: tuple[Track, ...]
    detector_ok: bool  # False when detection was needed but the detector gave nothing
    weak: tuple[Detection, ...] = ()  # tracked classes a little under their min_score (see the module doc)

    @property
    def considered(self) -> tuple[Detection, ...]:
        """Everything the tracker was given on this frame."""
        return self.detections + self.weak

    def in_view(self) -> tuple[Track, ...]:
        """The objects in front of the camera now: confirmed tracks seen within `IN_VIEW_FOR`,
        or standing still. What counts, boxes and snapshots show."""
        now = self.frame.monotonic
        return tuple(t for t in self.tracks if t.confirmed and (t.stationary or now - t.last_seen <= IN_VIEW_FOR))


def object_counts(result: FrameResult) -> tuple[tuple[str, int], ...]:
    """Objects in view per label, most first: one number for the dashboard, MQTT, HA and the API."""
    counts: dict[str, int] = {}
    for track in result.in_view():
        counts[track.label] = counts.get(track.label, 0) + 1
    return tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


class CameraPipeline:
    def __init__(
        self,
        name: str,
        config: CameraConfig,
        detect: DetectFn,
        model_size: int,
        *,
        objects: ObjectFilter | None = None,
        full_frame_every: float = 10.0,
        recheck_still: float = RECHECK_STILL,
    ) -> None:
        """`objects`: what to track and how sure to be; default: `ObjectFilter.default()`.
        `recheck_still`: seconds between looks at a stationary object that nothing stirs."""
        self.name = name
        self._config = config
        self._detect = detect
        self._model_size = model_size
        self._objects = objects if objects is not None else ObjectFilter.default()
        self._full_frame_every = full_frame_every
        self._recheck_still = recheck_still
        self._motion: MotionDetector | None = None
        self._size = (0, 0)
        self._whole: tuple[Box, ...] = ()
        self._tracker = Tracker(name, confirm_score=self._objects.threshold)
        self._last_full_frame: float | None = None

    def process(self, frame: Frame) -> FrameResult:
        size = (frame.width, frame.height)
        if self._motion is None or size != self._size:
            # First frame, or the camera came back at another resolution (stream settings
            # changed): motion starts over at the new size instead of failing every frame.
            self._motion = MotionDetector(self._config.motion, size)
            self._size, self._whole = size, whole_frame(size)
            self._last_full_frame = None
        motion = self._motion.update(frame.image)
        now = frame.monotonic
        # Where to look: movement, objects we already follow, and now and then the whole
        # frame so objects that were already there (a parked car) are known too.
        if self._last_full_frame is None or now - self._last_full_frame >= self._full_frame_every:
            regions = self._whole
        else:
            regions = self._regions(motion.boxes, size, now)
        if regions == self._whole:
            self._last_full_frame = now
        if not regions:
            update = self._tracker.update((), now, frame_size=size, motion=motion.boxes)
            return FrameResult(frame, motion.boxes, (), (), update.tracks, update.ended, True)
        looked = self._look(frame.image, regions, size, now)
        if looked is None:  # no evidence either way: leave the tracks as they are
            return FrameResult(frame, motion.boxes, regions, (), (), (), False)
        regions, found, cut = looked
        # Filter first: an untracked class or a detection under its class's floor must not
        # suppress a kept one (duplicates are merged within a group: car/truck/bus).
        strong, below = self._objects.split(found)
        detections = tuple(suppress_duplicates(strong, cut=cut))
        weak = tuple(
            d for d in suppress_duplicates(below) if not any(duplicate(d, s, contained=_PART) for s in detections)
        )
        update = self._tracker.update(detections, now, weak=weak, frame_size=size, motion=motion.boxes)
        return FrameResult(frame, motion.boxes, regions, detections, update.tracks, update.ended, True, weak)

    def _regions(self, motion: tuple[Box, ...], size: tuple[int, int], now: float) -> tuple[Box, ...]:
        """Crops around what moves and the objects we follow. Still objects are re-checked now
        and then, and only while the crops for what moves leave room: when there are too many
        to look at one by one, what moves is looked at first."""
        watch = self._tracker.watch(now, motion, self._recheck_still)
        return regions_for([*motion, *watch.moving], size, self._model_size, if_room=watch.due)

    def _look(
        self, image: Image, regions: tuple[Box, ...], size: tuple[int, int], now: float
    ) -> tuple[tuple[Box, ...], list[Detection], set[Detection]] | None:
        """Detect in the regions, and again around detections a crop cut that no known object
        explains. Returns the regions looked at, what was found (frame pixels) and which of it
        a crop's inner edge cut."""
        found = self._detect_in(image, regions, size)
        if found is None:
            return None
        again, cut = self._cut(regions, found, size, now)
        flat = [d for dets in found for d in dets]
        more = self._detect_in(image, again, size) if again else None
        if more is not None:
            for region, dets in zip(again, more, strict=True):
                flat += dets
                cut.update(d for d in dets if cut_by(d.box, region, size))
            regions = (*regions, *again)
        return regions, flat, cut

    def _detect_in(self, image: Image, regions: Sequence[Box], size: tuple[int, int]) -> list[list[Detection]] | None:
        """Each region's detections in frame pixels; None when the detector gave nothing."""
        crops = [_crop(image, r, self._model_size) for r in regions]
        results = self._detect(crops, self._objects.low_floor)
        if results is None:
            return None
        return [
            to_frame(r.items, region, size, scale=region.width / crop.shape[1])
            for region, crop, r in zip(regions, crops, results, strict=True)
        ]

    def _cut(
        self, regions: tuple[Box, ...], found: list[list[Detection]], size: tuple[int, int], now: float
    ) -> tuple[list[Box], set[Detection]]:
        """The detections a crop's inner edge cut, and (at most `MAX_RELOOKS`) squares grown
        around those no known object explains."""
        known: tuple[Box, ...] | None = None  # where tracked objects are expected: asked only if needed
        again: list[Box] = []
        cut: set[Detection] = set()
        for region, dets in zip(regions, found, strict=True):
            for det in dets:
                if not self._objects.is_strong(det) or not cut_by(det.box, region, size):
                    continue
                cut.add(det)
                if len(again) >= MAX_RELOOKS:
                    continue
                if known is None:
                    known = self._tracker.predicted_boxes(now)
                if any(covers(k, det.box, _PART) for k in (*known, *again)):
                    continue  # a part of an object we follow (or are about to look at whole)
                grown = grown_around(det.box, region, size, self._model_size)
                if grown is not None and grown not in regions and grown not in again:
                    again.append(grown)
        return again, cut


PAD_VALUE = 114  # mid grey: about what the models subtract as their mean, so "nothing there"


def _crop(image: Image, region: Box, model_size: int) -> Image:
    """The region's pixels: a view when it lies inside the frame (OpenCV resizes strided rows
    straight into the input tensor). A region reaching past the frame is shrunk to the
    model's size first and then padded with grey: a full-size padded copy (5 MB at 720p)
    would be made and freed every few frames, and glibc keeps such blocks (RSS grew ~40 MB)."""
    height, width = image.shape[:2]
    x1, y1, x2, y2 = int(region.x1), int(region.y1), int(region.x2), int(region.y2)
    if x1 >= 0 and y1 >= 0 and x2 <= width and y2 <= height:
        return image[y1:y2, x1:x2]
    scale = min(1.0, model_size / max(x2 - x1, y2 - y1))
    inside = image[max(y1, 0) : min(y2, height), max(x1, 0) : min(x2, width)]
    w, h = max(1, round(inside.shape[1] * scale)), max(1, round(inside.shape[0] * scale))
    small = cv2.resize(inside, (w, h), interpolation=cv2.INTER_LINEAR) if scale < 1.0 else inside
    side = max(w, h, round((x2 - x1) * scale))
    top = round(max(-y1, 0) * scale)
    left = round(max(-x1, 0) * scale)
    padded = cv2.copyMakeBorder(
        small, top, side - h - top, left, side - w - left, cv2.BORDER_CONSTANT, value=(PAD_VALUE,) * 3
    )
    return np.asarray(padded, dtype=np.uint8)
