"""Motion prefilter: where in the frame did something change since the scene settled?

It runs on every frame before the detector, so it has to cost next to nothing
(target <= 0.25 ms at 1280x720; bench/motion.py). Everything happens on a grey
working image of 100-199 rows (183x103 at 720p, 213x120 at 360p):

1. every Nth row as a strided view (no copy), every Nth column by a nearest-neighbour
   resize: sampling 1/49 of a 720p frame costs a fraction of averaging all of it
   (INTER_AREA) or of converting the full frame to grey first;
2. grey and a 3x3 Gaussian blur on the small image: sampled pixels carry the sensor
   noise in full, the blur cuts it to ~0.4x;
3. |grey - running-average background| > threshold, except under the mask;
4. a dilation joins the fragments of one mover; each joined blob is measured by the
   pixels that really changed (the blur still widens a blob by about one working pixel);
5. light changes are not motion: a global gain undoes an even change (dusk, auto-exposure);
   light falling unevenly (a cloud's shadow, a lamp on one side) re-lights the background tile
   by tile where every pixel of a tile changed by one factor; a sudden change over most of the
   frame (lights, IR switch, camera bump) resets the background instead of reporting the
   whole frame as motion.

Pure: no clocks, no I/O, no threads of its own; state is the background only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt
from cv2.typing import MatLike

from app.config.schema import MotionConfig
from app.domain import Box

TARGET_ROWS = 100  # at least this many rows in the working image: 720p -> every 7th row, 360p -> every 3rd
ALPHA = 0.05  # background learning rate where nothing moves: tracks slow lighting drift
# Where something moves the background learns 5x slower, so a passing person leaves no ghost
# behind, yet a car that parks stops counting as motion after ~140 frames (as in Frigate).
ALPHA_MOVING = 0.01
RECALIBRATE_FRACTION = 0.6  # halving the light changes ~80 % of a typical scene; a person rarely 60 %
# Widespread change that persists (a slow fade the gain step could not fully undo, a
# camera nudged) resets the background too, after this many updates in a row.
BUSY_FRACTION, BUSY_UPDATES = 0.3, 15
MAX_GAIN = 2.0  # brightness compensation beyond 2x is a different scene, not a fade
# Light falling unevenly (a cloud's shadow over half the scene, a lamp on one side dimming): when
# over UNEVEN_FRACTION of the frame changed, the background is re-lit tile by tile (TILES rows x
# columns) where a tile's pixels changed by one factor (quartiles within UNEVEN_SPREAD of the
# median), if that explains all but UNEVEN_EXPLAINED of the change. A person covers a few
# tiles at most and changes them by no one factor.
UNEVEN_FRACTION, UNEVEN_EXPLAINED, UNEVEN_SPREAD = 0.05, 0.5, 0.12
RELIGHT_BACKOFF = 4  # updates between tries while a large change is not light (0.15 ms a try at 720p)
TILES = (4, 6)
PAD = 1  # working pixel added around each box (7 px at 720p): sampling may miss the mover's edges
_KERNEL = np.ones((3, 3), np.uint8)

U8 = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class MotionResult:
    boxes: tuple[Box, ...]  # moving areas, in pixels of the full frame, merged/padded a little
    changed: float  # fraction of the (unmasked) downscaled frame that changed, 0..1
    recalibrated: bool  # True when a sudden global change reset the background; boxes empty then


_NO_MOTION = MotionResult((), 0.0, False)


class MotionDetector:
    """Running-average motion detector for one camera; call `update` with every frame in order."""

    def __init__(self, config: MotionConfig, frame_size: tuple[int, int]) -> None:
        width, height = frame_size
        if width < 1 or height < 1:
            raise ValueError(f"frame size must be positive, got {width}x{height}")
        self._config = config
        self._width, self._height = width, height
        self._step = max(1, height // TARGET_ROWS)
        self._small_h = math.ceil(height / self._step)  # rows of image[::step]
        self._small_w = max(1, round(width / self._step))
        self._sx = width / self._small_w  # full-frame pixels per working pixel
        self._threshold = float(config.threshold)
        self._min_pixels = config.min_area * self._small_w * self._small_h
        self._watched = _watched_mask(config, self._small_w, self._small_h)
        self._watched_count = (
            self._small_w * self._small_h if self._watched is None else cv2.countNonZero(self._watched)
        )
        self._background: npt.NDArray[np.float32] | None = None
        self._still: MatLike | None = None  # pixels that did not move last time: the gain reference
        self._busy = 0
        self._relight_wait = 0  # updates before re-lighting is tried again

    @property
    def working_size(self) -> tuple[int, int]:
        """(width, height) of the downscaled image the detector works on."""
        return self._small_w, self._small_h

    def update(self, image: npt.NDArray[np.uint8]) -> MotionResult:
        if image.shape != (self._height, self._width, 3) or image.dtype != np.uint8:
            raise ValueError(
                f"expected a {self._width}x{self._height} BGR uint8 frame, got shape {image.shape} dtype {image.dtype}"
            )
        grey = self._small_grey(image)
        background = self._background
        if background is None:  # the first frame is the background: nothing moved yet
            self._background = grey.astype(np.float32)
            return _NO_MOTION

        grey = self._compensate(grey, background)
        moving, changed = self._changed(grey, background)
        if self._relight_wait:
            self._relight_wait -= 1
        elif changed > UNEVEN_FRACTION:
            # Much changed at once: light falling unevenly (a cloud's shadow, a lamp on one side)
            # looks like this too. Where a tile's pixels all changed by one factor, it was light.
            relit = _relit(grey, background)
            moving_relit, changed_relit = (moving, changed) if relit is None else self._changed(grey, relit)
            if relit is not None and changed_relit <= UNEVEN_EXPLAINED * changed:
                background[:] = relit
                moving, changed = moving_relit, changed_relit
            else:  # something large moves (a person close to the camera): not on every frame
                self._relight_wait = RELIGHT_BACKOFF

        self._busy = self._busy + 1 if changed > BUSY_FRACTION else 0
        if changed > RECALIBRATE_FRACTION or self._busy >= BUSY_UPDATES:
            # Lights or IR mode switched: the old background is useless, and reporting the
            # whole frame as motion would only flood the detector. Start again from here.
            background[:] = grey
            self._busy = 0
            self._still = None
            return MotionResult((), changed, True)

        if changed == 0.0:
            cv2.accumulateWeighted(grey, background, ALPHA)
            self._still = self._watched
            return _NO_MOTION
        joined = cv2.dilate(moving, _KERNEL)  # joins the fragments of one mover
        self._still = cv2.bitwise_not(joined)
        cv2.accumulateWeighted(grey, background, ALPHA_MOVING, mask=joined)
        cv2.accumulateWeighted(grey, background, ALPHA, mask=self._still)
        return MotionResult(self._boxes(moving, joined), changed, False)

    def _changed(self, grey: MatLike, background: npt.NDArray[np.float32]) -> tuple[MatLike, float]:
        """Pixels that differ from the background by more than the threshold (outside the mask),
        and their share of the watched pixels."""
        diff = cv2.absdiff(grey, cv2.convertScaleAbs(background))
        _, moving = cv2.threshold(diff, self._threshold, 255, cv2.THRESH_BINARY)
        if self._watched is not None:
            cv2.bitwise_and(moving, self._watched, dst=moving)
        return moving, cv2.countNonZero(moving) / self._watched_count if self._watched_count else 0.0

    def _compensate(self, grey: MatLike, background: npt.NDArray[np.float32]) -> MatLike:
        """Undo a global brightness change (dusk, a cloud, auto-exposure) before comparing:
        scale the frame so its still pixels are as bright as the background's. Movers are
        left out of the reference, so a large bright car does not darken everything else."""
        mask = self._still
        frame_mean = cv2.mean(grey, mask=mask)[0]
        background_mean = cv2.mean(background, mask=mask)[0]
        if frame_mean < 1.0:
            return grey
        gain = background_mean / frame_mean
        if abs(gain - 1.0) < 0.02 or not 1 / MAX_GAIN <= gain <= MAX_GAIN:
            return grey
        return cv2.convertScaleAbs(grey, alpha=gain)

    def _small_grey(self, image: U8) -> MatLike:
        # image[::step] is a view whose rows OpenCV reads in place (no copy); the resize then
        # picks columns. Grey and blur come after, on 1/step² of the pixels.
        rows = image[:: self._step]
        small = cv2.resize(rows, (self._small_w, self._small_h), interpolation=cv2.INTER_NEAREST)
        grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        return cv2.GaussianBlur(grey, (3, 3), 0, dst=grey)

    def _boxes(self, moving: MatLike, joined: MatLike) -> tuple[Box, ...]:
        contours, _ = cv2.findContours(joined, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        rects: list[list[int]] = []
        for contour in contours:
            x, y, w, h = cv2.boundingRect(contour)
            # The rectangle bounds the changed pixels, so it rejects most specks without counting.
            if w * h < self._min_pixels or cv2.countNonZero(moving[y : y + h, x : x + w]) < self._min_pixels:
                continue
            rects.append([x - PAD, y - PAD, x + w + PAD, y + h + PAD])
        return tuple(self._to_frame(r) for r in _merge(rects))

    def _to_frame(self, rect: list[int]) -> Box:
        x1, y1, x2, y2 = rect
        return Box(
            max(0.0, x1 * self._sx),
            max(0.0, float(y1 * self._step)),
            min(float(self._width), x2 * self._sx),
            min(float(self._height), float(y2 * self._step)),
        )


def _relit(grey: MatLike, background: npt.NDArray[np.float32]) -> npt.NDArray[np.float32] | None:
    """The background under the frame's light, tile by tile: in each tile of `TILES`, the median
    ratio of frame to background, where the ratios agree (light scales every pixel of a surface
    alike; a mover replaces them with anything). Tiles that disagree, or are beyond `MAX_GAIN`,
    keep their light. The tile gains are interpolated, so the light changes smoothly across the
    frame. None when no tile looks relit."""
    height, width = background.shape
    rows, cols = TILES
    # Every other pixel both ways is plenty for a median (and 4x cheaper: this runs on frames
    # with much motion, a person close to the camera included).
    frame = np.asarray(grey, np.float32)[::2, ::2]
    th, tw = frame.shape[0] // rows, frame.shape[1] // cols
    ratio = (frame[: th * rows, : tw * cols] + 1.0) / (background[::2, ::2][: th * rows, : tw * cols] + 1.0)
    tiles = ratio.reshape(rows, th, cols, tw).transpose(0, 2, 1, 3).reshape(rows, cols, th * tw)
    low, mid, high = np.percentile(tiles, (25, 50, 75), axis=2)
    light = (high - low <= UNEVEN_SPREAD * mid) & (mid >= 1 / MAX_GAIN) & (mid <= MAX_GAIN)
    if not light.any():
        return None
    gain = np.where(light, mid, 1.0).astype(np.float32)
    field = cv2.resize(gain, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.asarray(background * field, np.float32)


def _watched_mask(config: MotionConfig, width: int, height: int) -> U8 | None:
    """255 where motion counts, 0 under a mask polygon; None when nothing is masked."""
    if not config.mask:
        return None
    watched = np.full((height, width), 255, np.uint8)
    scale = np.array([width, height], np.float64)
    polygons = [np.round(np.asarray(p, np.float64) * scale).astype(np.int32) for p in config.mask]
    cv2.fillPoly(watched, polygons, 0)
    return watched


def _merge(rects: list[list[int]]) -> list[list[int]]:
    """Union overlapping (padded) rectangles until none overlap; there are only a few per frame."""
    merged = True
    while merged and len(rects) > 1:
        merged = False
        out: list[list[int]] = []
        for r in rects:
            for o in out:
                if r[0] < o[2] and o[0] < r[2] and r[1] < o[3] and o[1] < r[3]:
                    o[0], o[1], o[2], o[3] = min(o[0], r[0]), min(o[1], r[1]), max(o[2], r[2]), max(o[3], r[3])
                    merged = True
                    break
            else:
                out.append(r)
        rects = out
    return rects
