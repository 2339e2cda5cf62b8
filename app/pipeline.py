"""One camera's per-frame path: motion → regions → detect → track.

One composed object, two drivers: the live service feeds it the freshest frame at
the camera's detect fps, and `replay` feeds it a video file as fast as it can, so
replay exercises exactly what runs in production. Time comes from the frame
(`Frame.monotonic`), never from a clock read here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from app.config import CameraConfig
from app.detect.base import Image
from app.domain import Box, Detection, Detections, Frame, Track
from app.motion import MotionDetector
from app.regions import cover_frame, regions_for, suppress_duplicates, to_frame
from app.track import Tracker

# Runs the detector on crops; None when it could not (stopped, failed, timed out).
DetectFn = Callable[[Sequence[Image], float], list[Detections] | None]


@dataclass(frozen=True, slots=True)
class FrameResult:
    frame: Frame
    motion: tuple[Box, ...]
    regions: tuple[Box, ...]  # crops the detector ran on (empty: nothing to look at)
    detections: tuple[Detection, ...]  # in frame pixels, duplicates across crops removed
    tracks: tuple[Track, ...]
    ended: tuple[Track, ...]
    detector_ok: bool  # False when detection was needed but the detector gave nothing


class CameraPipeline:
    def __init__(
        self,
        name: str,
        config: CameraConfig,
        detect: DetectFn,
        model_size: int,
        *,
        min_score: float = 0.4,
        confirm_score: float = 0.6,
        full_frame_every: float = 10.0,
    ) -> None:
        self.name = name
        self._config = config
        self._detect = detect
        self._model_size = model_size
        self._min_score = min_score
        self._full_frame_every = full_frame_every
        self._motion: MotionDetector | None = None
        self._size = (0, 0)
        self._whole: tuple[Box, ...] = ()
        self._tracker = Tracker(name, confirm_score=confirm_score)
        self._last_full_frame: float | None = None

    def process(self, frame: Frame) -> FrameResult:
        size = (frame.width, frame.height)
        if self._motion is None or size != self._size:
            # First frame, or the camera came back at another resolution (stream settings
            # changed): motion starts over at the new size instead of failing every frame.
            self._motion = MotionDetector(self._config.motion, size)
            self._size, self._whole = size, cover_frame(size)
            self._last_full_frame = None
        motion = self._motion.update(frame.image)
        now = frame.monotonic
        # Where to look: movement, objects we already follow, and now and then the whole
        # frame so objects that were already there (a parked car) are known too.
        if self._last_full_frame is None or now - self._last_full_frame >= self._full_frame_every:
            regions = self._whole
        else:
            wanted = [*motion.boxes, *self._tracker.predicted_boxes(now)]
            regions = regions_for(wanted, size, self._model_size)
        if regions == self._whole:
            self._last_full_frame = now
        if not regions:
            update = self._tracker.update((), now)
            return FrameResult(frame, motion.boxes, (), (), update.tracks, update.ended, True)
        crops = [_crop(frame.image, r) for r in regions]
        results = self._detect(crops, self._min_score)
        if results is None:  # no evidence either way: leave the tracks as they are
            return FrameResult(frame, motion.boxes, regions, (), (), (), False)
        found = [d for region, r in zip(regions, results, strict=True) for d in to_frame(r.items, region)]
        detections = tuple(suppress_duplicates(found))
        update = self._tracker.update(detections, now)
        return FrameResult(frame, motion.boxes, regions, detections, update.tracks, update.ended, True)


def _crop(image: Image, region: Box) -> Image:
    # A view, not a copy: OpenCV resizes strided rows directly into the input tensor.
    return image[int(region.y1) : int(region.y2), int(region.x1) : int(region.x2)]
