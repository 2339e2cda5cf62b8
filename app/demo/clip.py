"""Synthesize a realistic camera clip from real photos, with per-frame ground truth.

The person is scikit-image's `astronaut` (NASA's public-domain portrait of Eileen
Collins) cut out with OpenCV's GrabCut and walked across a real garage
(`stereo_motorcycle`), close to the camera: her figure is 70% of the frame height and
the frame's bottom edge cuts her at the waist. Every frame gets Gaussian sensor noise
(σ = 4) and, mid-clip, the light fades by ~25% over ~1.5 s (more on the right). An
`empty` clip has the same garage, noise and light, and nobody in it.

How the project's whole-frame 300x300 SSD sees this clip (measured, default clip):
she is found (score >= 0.5, IoU >= 0.5) in ~60% of the frames that show all of her,
every time near the frame's centre; it misses her for a few frames in a row when her
centre is near x = 1/3 or 2/3 of the width (the boundaries of the model's coarsest
3x3 anchor grid) and less often after the light has faded. At 62% height the hit rate
drops to ~35%, at 55% to under 10%: hence 70%, the top of the range a bust can have
while still being a person walking past a camera.

A `vehicle` clip is for vehicle rules: the red motorcycle of that garage photo, cut out
with GrabCut (its stereo disparity tells it from the wall, shelves and floor), rides into
a driveway from the left, brakes smoothly and parks right of centre by 55% of the clip,
then stands there to the end (default 10 s). The driveway is built from two other real
photos with no vehicle in them: scikit-image's `brick` (rectified and tinted: the wall
along the back) and `gravel` (tinted, in perspective: the ground). The bike is 55% of
the frame height with its front tyre at 90% of it, over a soft contact shadow; the same
noise and fading light (a passing cloud here) as the other clips. Riding right to left,
the bike is mirrored (it still rides front first) and parks left of centre.

How the COCO model (NanoDet, 416x416, whole frame) sees it (measured, default clip): no
vehicle at any score >= 0.3 on the empty driveway; while it comes in over the edge, the
front alone is a "car" (~0.4) or a "bicycle" (up to 0.6), then a "motorcycle" from about
half of it in view; once all of it shows, a "motorcycle" at 0.63-0.77 (IoU >= 0.93 with
the truth) in every frame, moving or parked, after the light has faded too. The score
follows the bike's size: ~0.75 at 55% of the frame height, ~0.6 at 50%, ~0.4 at 45%
(the whole frame is squashed to 416x416): hence 55%, the top of the range a motorcycle
parked in front of a driveway camera plausibly has.

The video is H.264 (libx264 through PyAV): yuv420p, main profile, one slice per
frame, `tune=grain,zerolatency` (no B-frames; the noise survives), crf 23 (~6.5 Mbit/s
at 720p12, the noise costs bits), a keyframe every second. Beside it go the ground truth
(`NAME.truth.json`) and, on request, the same stream as raw Annex-B (`.h264`) for an
RTSP server. The frames and the ground truth depend only on the arguments and `seed`.

    python -m app.demo.clip OUT.mp4 [--kind person|empty|vehicle] [--seconds S] [--fps 12]
                                    [--size 1280x720] [--seed 0] [--annexb OUT.h264]

scikit-image and PyAV are imported only when a clip is made: they are development and
set-up dependencies, never the appliance's.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
import numpy.typing as npt

Kind = Literal["person", "empty", "vehicle"]
KINDS: tuple[Kind, ...] = ("person", "empty", "vehicle")
BoxPx = tuple[int, int, int, int]  # x1, y1, x2, y2 in pixels; x2 and y2 exclusive
Image = npt.NDArray[np.uint8]  # H x W x 3, BGR
FloatImage = npt.NDArray[np.float32]

TRUTH_VERSION = 1
NOISE_SIGMA = 4.0  # sensor noise per pixel and channel, in 8-bit levels
NOISE_BANKS = 2  # Gaussian fields the per-frame noise windows are taken from
NOISE_SLACK = 64  # the fields are this much larger than the frame each way
LIGHT_DROP = 0.25  # brightness lost at the middle of the frame once the light has faded
LIGHT_FADE = (0.40, 0.65)  # the fade runs between these fractions of the clip
PERSON_HEIGHT = 0.70  # her cut-out's height as a fraction of the frame height (see the module doc)
PERSON_BOTTOM = 1.0  # where the bottom of her cut-out (her waist) is, as a fraction of the frame height
WALK_SPAN = (0.10, 0.90)  # she enters at 10% of the clip and is gone by 90%
BOB_PX = 0.012  # walking bob, as a fraction of the frame height
ALPHA_VISIBLE = 0.5  # a pixel belongs to her box when her matte is at least this
DEFAULT_SECONDS: dict[Kind, float] = {"person": 6.0, "empty": 6.0, "vehicle": 10.0}
# The vehicle clip (see the module doc).
VEHICLE_HEIGHT = 0.55  # the motorcycle's height as a fraction of the frame height
VEHICLE_BOTTOM = 0.90  # where its lowest point (the front tyre) is, as a fraction of the frame height
VEHICLE_PARK = 0.60  # where the middle of the parked motorcycle is, as a fraction of the frame width
VEHICLE_RUN_UP = 0.40  # how far off-screen it starts, as a fraction of the frame width
DRIVE_SPAN = (0.0, 0.55)  # it sets off (off-screen) at the start and is parked by 55% of the clip
SHADOW_DEPTH = 0.45  # how much of the light its contact shadow takes, at the darkest
WALL_BASE = 0.45  # where the wall meets the ground, as a fraction of the frame height
BRICK_COURSE = 0.025  # one course of the wall (brick and mortar), as a fraction of the frame height
GRAVEL_NEAR = 0.45 / 720  # the gravel photo's scale at the frame's bottom edge, per pixel of frame height
GRAVEL_FAR = 0.5  # the gravel at the wall's foot is this much smaller than at the bottom edge


class ClipError(Exception):
    """The clip cannot be made (bad arguments, no H.264 encoder, unwritable path)."""


@dataclass(frozen=True, slots=True)
class ClipInfo:
    """A clip on disk and its ground truth."""

    path: Path  # the MP4
    truth: Path  # the ground-truth JSON beside it
    annexb: Path | None  # the same stream as raw Annex-B H.264, when asked for
    kind: Kind
    fps: int
    size: tuple[int, int]  # width, height
    seed: int
    boxes: tuple[BoxPx | None, ...]  # her (or the vehicle's) visible box in each frame; None when out of view
    # person: her head and both sides are inside the frame (the waist always is cut);
    # vehicle: all of it is inside the frame
    whole: tuple[bool, ...]

    @property
    def frames(self) -> int:
        return len(self.boxes)

    @property
    def seconds(self) -> float:
        return self.frames / self.fps

    def whole_frames(self) -> list[int]:
        """Indices of the frames in which her whole figure (or the whole vehicle) is in view."""
        return [i for i, w in enumerate(self.whole) if w]

    def empty_frames(self) -> list[int]:
        """Indices of the frames in which nobody (and no vehicle) is in view."""
        return [i for i, b in enumerate(self.boxes) if b is None]

    @classmethod
    def load(cls, truth: Path) -> ClipInfo:
        """Read the ground truth written beside a clip (`NAME.truth.json`)."""
        data = json.loads(truth.read_text())
        if data.get("version") != TRUTH_VERSION:
            raise ClipError(f"{truth}: unknown ground-truth version {data.get('version')!r}")
        boxes = tuple(None if b is None else (int(b[0]), int(b[1]), int(b[2]), int(b[3])) for b in data["boxes"])
        annexb = data.get("annexb")
        kind = next((k for k in KINDS if k == data["kind"]), None)
        if kind is None:
            raise ClipError(f"{truth}: unknown clip kind {data['kind']!r}")
        return cls(
            path=truth.parent / data["video"],
            truth=truth,
            annexb=None if annexb is None else truth.parent / annexb,
            kind=kind,
            fps=int(data["fps"]),
            size=(int(data["size"][0]), int(data["size"][1])),
            seed=int(data["seed"]),
            boxes=boxes,
            whole=tuple(bool(w) for w in data["whole"]),
        )


@dataclass(frozen=True, slots=True, eq=False)
class SynthFrame:
    image: Image  # BGR
    box: BoxPx | None  # her (or the vehicle's) visible box, None when out of view
    whole: bool  # her head and both sides (all of the vehicle) are in view


@dataclass(frozen=True, slots=True, eq=False)
class Cutout:
    """A person (or a vehicle) cut out of a photo: colour and a soft matte, cropped to the matte."""

    bgr: FloatImage  # h x w x 3
    alpha: FloatImage  # h x w x 1, 0..1


def truth_path(video: Path) -> Path:
    """Where the ground truth of `video` goes: `walk.mp4` -> `walk.truth.json`."""
    return video.with_name(video.stem + ".truth.json")


def photo(name: str) -> Image:
    """A scikit-image photo (bundled with the wheel, no download) as a BGR image."""
    import skimage.data

    loaded = getattr(skimage.data, name)()
    if name == "stereo_motorcycle":  # (left, right, disparity): the left view
        loaded = loaded[0]
    rgb = np.asarray(loaded)
    if rgb.ndim == 2:
        rgb = np.stack([rgb] * 3, axis=-1)
    return np.ascontiguousarray(cv2.cvtColor(rgb[..., :3], cv2.COLOR_RGB2BGR))


def garage(size: tuple[int, int]) -> Image:
    """The garage photo cropped to the frame's aspect ratio (centred) and resized to `size`."""
    width, height = size
    img = photo("stereo_motorcycle")
    h, w = img.shape[:2]
    if w * height > h * width:  # photo is wider than the frame: crop the sides
        cw = round(h * width / height)
        x0 = (w - cw) // 2
        img = img[:, x0 : x0 + cw]
    else:
        ch = round(w * height / width)
        y0 = (h - ch) // 2
        img = img[y0 : y0 + ch]
    interp = cv2.INTER_AREA if width < img.shape[1] else cv2.INTER_CUBIC
    return np.ascontiguousarray(cv2.resize(img, (width, height), interpolation=interp))


def cut_out_astronaut() -> Cutout:
    """GrabCut the astronaut out of her portrait (~1.5 s; deterministic).

    GrabCut starts from a rectangle around her, told what is surely her (face, neck,
    collar ring, chest) and surely not (the helmet on the table beside her, the flag and
    shuttle outside the rectangle). The matte is then cleaned to one solid blob and its
    edge softened by a pixel or two.
    """
    img = photo("astronaut")  # 512 x 512
    mask = np.full(img.shape[:2], cv2.GC_BGD, np.uint8)
    cv2.rectangle(mask, (14, 8), (366, 511), cv2.GC_PR_FGD, -1)
    cv2.circle(mask, (395, 455), 112, cv2.GC_BGD, -1)  # the helmet on the table
    cv2.ellipse(mask, (226, 105), (40, 60), 0, 0, 360, cv2.GC_FGD, -1)  # face
    cv2.rectangle(mask, (190, 150), (260, 180), cv2.GC_FGD, -1)  # neck
    cv2.rectangle(mask, (150, 175), (290, 255), cv2.GC_FGD, -1)  # collar ring
    cv2.rectangle(mask, (60, 280), (260, 505), cv2.GC_FGD, -1)  # chest and arm
    return _grab_cut(img, mask, "no person in the astronaut photo")


def cut_out_motorcycle() -> Cutout:
    """GrabCut the red motorcycle out of the left view of `stereo_motorcycle` (~1.5 s; deterministic).

    The photo comes with its stereo disparity (pixels of shift between the two views, `inf`
    where unknown), and the bike is nearer the camera than anything behind it. The floor
    is a plane in disparity (fitted on the floor below and beside the bike, to ~0.5 px):
    whatever stands 2.5 px or more in front of that plane, and nearer than the wall and
    shelves (which are at 25 px or less), is probably the bike; the rest probably not.
    GrabCut starts from that, sure of both where they are 4 px or more from the boundary,
    inside a rectangle around the bike (x 95-690, y 85-460 of 741x500), and refines the
    edge in colour. The matte is then cleaned to one solid blob (the left mirror, on its
    thin stalk, falls off; the wheels are filled) and its edge softened by a pixel or two.
    """
    import skimage.data

    img = photo("stereo_motorcycle")  # the left view
    disp = np.asarray(getattr(skimage.data, "stereo_motorcycle")()[2], dtype=np.float32)  # noqa: B009 (typed Any)
    height, width = disp.shape
    known = np.isfinite(disp)
    ys, xs = np.mgrid[0:height, 0:width]
    floor = known & ((ys > 455) | ((ys > 330) & ((xs < 85) | (xs > 700))))
    design = np.stack([ys[floor], xs[floor], np.ones(int(floor.sum()))], axis=1).astype(np.float64)
    plane = np.linalg.lstsq(design, disp[floor].astype(np.float64), rcond=None)[0]
    floor_disp = (plane[0] * ys + plane[1] * xs + plane[2]).astype(np.float32)
    disp = np.where(known, disp, 0.0).astype(np.float32)
    near = known & (disp > floor_disp + 2.5) & (disp > 32.0)
    behind = known & ~near
    sure = np.ones((9, 9), np.uint8)
    mask = np.full((height, width), cv2.GC_PR_BGD, np.uint8)
    mask[near] = cv2.GC_PR_FGD
    mask[cv2.erode(near.astype(np.uint8), sure) > 0] = cv2.GC_FGD
    mask[cv2.erode(behind.astype(np.uint8), sure) > 0] = cv2.GC_BGD
    inside = np.zeros((height, width), bool)
    inside[85:461, 95:691] = True
    mask[~inside] = cv2.GC_BGD
    return _grab_cut(img, mask, "no motorcycle in the stereo_motorcycle photo")


def _grab_cut(img: Image, mask: npt.NDArray[np.uint8], nothing: str) -> Cutout:
    """Run GrabCut from `mask` (GC_* labels, changed in place) and clean the result to one solid blob."""
    bgd = np.zeros((1, 65), np.float64)
    fgd = np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)  # GrabCut seeds its colour models with k-means
    cv2.grabCut(img, mask, (0, 0, 0, 0), bgd, fgd, 4, cv2.GC_INIT_WITH_MASK)  # the rect is in the mask
    matte = np.where((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD), 255, 0).astype(np.uint8)
    matte = np.asarray(cv2.morphologyEx(matte, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8)), dtype=np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(matte)
    if count < 2:
        raise ClipError(f"GrabCut found {nothing}")
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    matte = np.where(labels == biggest, 255, 0).astype(np.uint8)
    contours, _ = cv2.findContours(matte, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    matte[:] = 0
    cv2.drawContours(matte, contours, -1, 255, -1)  # fill holes
    x, y, w, h = cv2.boundingRect(matte)
    soft = cv2.GaussianBlur(matte, (5, 5), 0)[y : y + h, x : x + w]
    return Cutout(
        bgr=img[y : y + h, x : x + w].astype(np.float32),
        alpha=(soft.astype(np.float32) / 255.0)[..., None],
    )


def _tile(img: FloatImage, width: int, height: int) -> FloatImage:
    """Repeat `img` (as it is: no mirroring) to cover width x height."""
    reps = (-(-height // img.shape[0]), -(-width // img.shape[1])) + (1,) * (img.ndim - 2)
    return np.tile(img, reps)[:height, :width]


def driveway(size: tuple[int, int]) -> Image:
    """A brick wall along the back of a gravel driveway, from two real photos, at `size` (~0.5 s).

    The wall is scikit-image's `brick` turned on its side (it is a wall seen at an angle,
    vanishing to the left): rectified by the homography that makes its mortar courses
    level and evenly spaced (the corners of courses -7 and +5 from the level one at
    y = 291, read off the photo), scaled to courses of 2.5% of the frame height and
    tiled. The ground is `gravel` tiled and laid in perspective: its stones are about 1%
    of the frame height at the bottom edge and half that at the foot of the wall, where
    a soft shadow runs. Both are tinted (brick red, warm grey) from the grey photos.
    """
    width, height = size
    base = round(WALL_BASE * height)
    brick = np.ascontiguousarray(np.rot90(photo("brick")[..., 0])).astype(np.float32)
    course = 36  # px, in the rectified photo
    rect_w, rect_h = 620, 12 * course  # 12 courses; 620 keeps a brick ~3x as long as its course
    corners = np.array([[5, 86], [506, 2], [506, 504], [5, 441]], np.float32)
    level = np.array([[0, 0], [rect_w, 0], [rect_w, rect_h], [0, rect_h]], np.float32)
    flat = cv2.warpPerspective(brick, cv2.getPerspectiveTransform(corners, level), (rect_w, rect_h))
    scale = BRICK_COURSE * height / course
    flat = cv2.resize(
        flat, (max(1, round(rect_w * scale)), max(1, round(rect_h * scale))), interpolation=cv2.INTER_AREA
    )
    wall = _tile(flat.astype(np.float32), width, base)[..., None] * np.array([0.55, 0.68, 1.0], np.float32)

    near = GRAVEL_NEAR * height
    gravel = cv2.resize(
        photo("gravel")[..., 0].astype(np.float32), None, fx=near, fy=near, interpolation=cv2.INTER_AREA
    )
    depth = height - base
    src_w = width / GRAVEL_FAR  # the far edge takes in this much of the tiled photo...
    src_h = depth * (1.0 + 1.0 / GRAVEL_FAR) / 2.0  # ...and the rows shrink with distance
    spread = _tile(gravel.astype(np.float32), math.ceil(src_w) + 2, math.ceil(src_h) + 2)
    trapezoid = np.array([[0, 0], [src_w, 0], [(src_w + width) / 2, src_h], [(src_w - width) / 2, src_h]], np.float32)
    ground_rect = np.array([[0, 0], [width, 0], [width, depth], [0, depth]], np.float32)
    laid = cv2.warpPerspective(spread, cv2.getPerspectiveTransform(trapezoid, ground_rect), (width, depth))
    ground = laid.astype(np.float32)[..., None] * np.array([0.90, 0.98, 1.04], np.float32)
    # The wall's shadow on the ground at its foot, fading over 3% of the frame height.
    fade = np.clip(np.arange(depth, dtype=np.float32) / (0.03 * height), 0.0, 1.0)
    ground *= (0.7 + 0.3 * fade)[:, None, None]
    scene = np.concatenate([wall, ground], axis=0)
    return np.asarray(np.clip(scene, 0.0, 255.0), dtype=np.uint8)


def _smoothstep(x: float) -> float:
    x = min(1.0, max(0.0, x))
    return x * x * (3.0 - 2.0 * x)


def _ease_out(x: float) -> float:
    """0..1 to 0..1 (clamped), fastest at 0 and slowing smoothly to a stop at 1 (a smoothstep's second half)."""
    return 2.0 * _smoothstep(0.5 + 0.5 * min(1.0, max(0.0, x))) - 1.0


def light_level(t: float) -> float:
    """How much of the light has faded at `t` (fraction of the clip, 0..1): 0 before, 1 after."""
    start, end = LIGHT_FADE
    return _smoothstep((t - start) / (end - start))


@dataclass(frozen=True, slots=True, eq=False)
class _Vehicle:
    """The motorcycle at its size in the frame, facing the way it rides, and its contact shadow."""

    bgr: FloatImage
    alpha: FloatImage
    shadow: FloatImage  # the shadow's strength, h x w x 1; its window starts `pad` left of the bike's
    shade: FloatImage  # black, the shadow's size (what `_paste` blends in)
    pad: int


def _vehicle(height: int, mirror: bool) -> _Vehicle:
    cut = cut_out_motorcycle()
    vh = round(VEHICLE_HEIGHT * height)
    vw = round(cut.bgr.shape[1] * vh / cut.bgr.shape[0])
    interp = cv2.INTER_AREA if vh < cut.bgr.shape[0] else cv2.INTER_LINEAR
    bgr = np.asarray(cv2.resize(cut.bgr, (vw, vh), interpolation=interp), dtype=np.float32)
    alpha = np.asarray(cv2.resize(cut.alpha, (vw, vh), interpolation=interp), dtype=np.float32)
    if mirror:  # it rides front first, whichever way it goes
        bgr, alpha = bgr[:, ::-1], alpha[:, ::-1]
    # The contact shadow: a soft dark band under the bike from one tyre's foot to the other's.
    pad = max(2, round(0.06 * vh))
    solid = alpha >= ALPHA_VISIBLE
    feet = []
    for half in (slice(0, vw // 2), slice(vw // 2, vw)):
        rows = np.flatnonzero(solid[:, half].any(axis=1))
        bottom = int(rows[-1])
        cols = np.flatnonzero(solid[bottom, half])
        feet.append((pad + (half.start or 0) + int(cols.mean()), bottom))
    shadow = np.zeros((vh + pad, vw + 2 * pad), np.float32)
    cv2.line(shadow, feet[0], feet[1], 1.0, max(1, round(0.05 * vh)))
    sigma = max(1.0, 0.025 * vh)
    shadow = np.asarray(cv2.GaussianBlur(shadow, (0, 0), sigma), dtype=np.float32)
    shadow *= np.float32(SHADOW_DEPTH / max(float(shadow.max()), 1e-6))
    return _Vehicle(
        bgr=np.ascontiguousarray(bgr),
        alpha=np.ascontiguousarray(alpha[..., None]),
        shadow=shadow[..., None],
        shade=np.zeros((*shadow.shape, 3), np.float32),
        pad=pad,
    )


def _drive(
    frame: FloatImage, vehicle: _Vehicle, t: float, direction: Literal["ltr", "rtl"]
) -> tuple[BoxPx | None, bool]:
    """Paint the vehicle where it is at `t` (fraction of the clip); return its box and whether all of it shows."""
    height, width = frame.shape[:2]
    vh, vw = vehicle.alpha.shape[:2]
    parked = round(VEHICLE_PARK * width - vw / 2)
    start = -vw - round(VEHICLE_RUN_UP * width)
    drive = (t - DRIVE_SPAN[0]) / (DRIVE_SPAN[1] - DRIVE_SPAN[0])
    x0 = start + round((parked - start) * _ease_out(drive))
    if direction == "rtl":
        x0 = width - vw - x0
    y0 = round(VEHICLE_BOTTOM * height) - vh
    _paste(frame, vehicle.shade, vehicle.shadow, x0 - vehicle.pad, y0)
    box = _paste(frame, vehicle.bgr, vehicle.alpha, x0, y0)
    return box, box is not None and x0 >= 0 and x0 + vw <= width and y0 >= 0


def synthesize(
    kind: Kind = "person",
    *,
    seconds: float | None = None,
    fps: int = 12,
    size: tuple[int, int] = (1280, 720),
    seed: int = 0,
    direction: Literal["ltr", "rtl"] = "ltr",
) -> Iterator[SynthFrame]:
    """Render the clip's frames (BGR, uint8) with her (or the vehicle's) box; nothing is written to disk.

    `seconds` defaults to 6 for a person or empty clip and to 10 for a vehicle's.
    """
    width, height = size
    count = round((DEFAULT_SECONDS[kind] if seconds is None else seconds) * fps)
    if count < 2 or fps < 1 or width < 64 or height < 64:
        raise ClipError(f"a clip needs at least 2 frames of 64x64 or more (got {count} of {width}x{height})")
    rng = np.random.default_rng(seed)
    background = (driveway(size) if kind == "vehicle" else garage(size)).astype(np.float32)
    # The fading light: darker towards the right, like a lamp on the left wall.
    ramp = np.linspace(0.75, 1.25, width, dtype=np.float32)[None, :, None]
    # Sensor noise: a random window of one of a few larger Gaussian fields per frame, which is
    # i.i.d. per pixel and independent between frames (unless a window repeats), and 20x faster
    # than drawing a fresh field each frame.
    noise = [
        rng.standard_normal((height + NOISE_SLACK, width + NOISE_SLACK, 3), dtype=np.float32) * np.float32(NOISE_SIGMA)
        for _ in range(NOISE_BANKS)
    ]

    person: tuple[FloatImage, FloatImage] | None = None
    if kind == "person":
        cut = cut_out_astronaut()
        ph = round(PERSON_HEIGHT * height)
        pw = round(cut.bgr.shape[1] * ph / cut.bgr.shape[0])
        interp = cv2.INTER_AREA if ph < cut.bgr.shape[0] else cv2.INTER_LINEAR
        sprite = cv2.resize(cut.bgr, (pw, ph), interpolation=interp)
        alpha = cv2.resize(cut.alpha, (pw, ph), interpolation=interp)[..., None]
        person = (sprite.astype(np.float32), alpha.astype(np.float32))
    vehicle = _vehicle(height, mirror=direction == "rtl") if kind == "vehicle" else None

    for i in range(count):
        t = i / (count - 1)
        frame = background.copy()
        box: BoxPx | None = None
        whole = False
        if person is not None:
            sprite, alpha = person
            ph, pw = alpha.shape[:2]
            walk = (t - WALK_SPAN[0]) / (WALK_SPAN[1] - WALK_SPAN[0])
            x0 = round(-pw + walk * (width + pw))
            if direction == "rtl":
                x0 = width - pw - x0
            bob = BOB_PX * height * 0.5 * (1.0 - math.cos(2.0 * math.pi * 1.8 * i / fps))
            y0 = round(PERSON_BOTTOM * height) - ph + round(bob)
            box = _paste(frame, sprite, alpha, x0, y0)
            whole = box is not None and x0 >= 0 and x0 + pw <= width and y0 >= 0
        elif vehicle is not None:
            box, whole = _drive(frame, vehicle, t, direction)
        gain = 1.0 - LIGHT_DROP * light_level(t) * ramp
        frame *= gain
        bank = noise[int(rng.integers(len(noise)))]
        dy, dx = (int(v) for v in rng.integers(0, NOISE_SLACK + 1, 2))
        frame += bank[dy : dy + height, dx : dx + width]
        np.clip(frame, 0.0, 255.0, out=frame)
        yield SynthFrame(image=frame.astype(np.uint8), box=box, whole=whole)


def _paste(frame: FloatImage, sprite: FloatImage, alpha: FloatImage, x0: int, y0: int) -> BoxPx | None:
    """Alpha-blend the sprite at (x0, y0) in place; return the box of its visible pixels."""
    height, width = frame.shape[:2]
    ph, pw = alpha.shape[:2]
    fx1, fy1 = max(0, x0), max(0, y0)
    fx2, fy2 = min(width, x0 + pw), min(height, y0 + ph)
    if fx1 >= fx2 or fy1 >= fy2:
        return None
    sx1, sy1 = fx1 - x0, fy1 - y0
    sx2, sy2 = sx1 + (fx2 - fx1), sy1 + (fy2 - fy1)
    a = alpha[sy1:sy2, sx1:sx2]
    roi = frame[fy1:fy2, fx1:fx2]
    roi *= 1.0 - a
    roi += sprite[sy1:sy2, sx1:sx2] * a
    visible = a[..., 0] >= ALPHA_VISIBLE
    cols = np.flatnonzero(visible.any(axis=0))
    rows = np.flatnonzero(visible.any(axis=1))
    if cols.size == 0 or rows.size == 0:
        return None
    return (fx1 + int(cols[0]), fy1 + int(rows[0]), fx1 + int(cols[-1]) + 1, fy1 + int(rows[-1]) + 1)


def encode_mp4(frames: Iterable[Image], path: Path, fps: int, size: tuple[int, int]) -> int:
    """Encode BGR frames to H.264 in MP4 (keyframe every second, no B-frames). Returns the frame count."""
    import av

    width, height = size
    count = 0
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width = width
        stream.height = height
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, fps)
        stream.codec_context.gop_size = fps
        stream.codec_context.options = {
            "preset": "veryfast",
            # zerolatency: no B-frames, no lookahead. grain: keep the sensor noise (zerolatency
            # alone smooths it away in P-frames and lets it pulse back at every keyframe).
            "tune": "grain,zerolatency",
            "profile": "main",
            "crf": "23",
            # One slice per frame: zerolatency's sliced threads cut each frame into one slice
            # per core, and over GStreamer's RTSP server to OpenCV/FFmpeg the first slice of
            # every frame was lost (the top of the picture smeared). Frame threads instead.
            "x264-params": f"keyint={fps}:min-keyint={fps}:scenecut=0:sliced-threads=0",
        }
        for image in frames:
            if image.shape[:2] != (height, width):
                raise ClipError(f"frame {count} is {image.shape[1]}x{image.shape[0]}, the clip is {width}x{height}")
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts = count
            frame.time_base = Fraction(1, fps)
            out.mux(stream.encode(frame))
            count += 1
        out.mux(stream.encode(None))
    return count


def mp4_to_annexb(mp4: Path, out: Path) -> None:
    """Copy an MP4's H.264 stream to a raw Annex-B file (SPS/PPS before every keyframe).

    The same as `ffmpeg -i clip.mp4 -c copy -bsf:v h264_mp4toannexb -f h264 clip.h264`:
    the raw `h264` muxer inserts the `h264_mp4toannexb` filter itself.
    """
    import av

    with av.open(str(mp4), "r") as src, av.open(str(out), "w", format="h264") as dst:
        video = src.streams.video[0]
        if video.codec_context.name != "h264":
            raise ClipError(f"{mp4}: the video is {video.codec_context.name}, not H.264")
        copy = dst.add_stream_from_template(video)
        for packet in src.demux(video):
            if packet.dts is None:  # the demuxer's end-of-stream flush
                continue
            packet.stream = copy
            dst.mux(packet)


def make_clip(
    path: Path,
    kind: Kind = "person",
    *,
    seconds: float | None = None,
    fps: int = 12,
    size: tuple[int, int] = (1280, 720),
    annexb: Path | None = None,
    seed: int = 0,
    direction: Literal["ltr", "rtl"] = "ltr",
) -> ClipInfo:
    """Write the clip to `path` (MP4), its ground truth beside it, and optionally an Annex-B copy.

    `seconds` defaults to 6 for a person or empty clip and to 10 for a vehicle's.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    boxes: list[BoxPx | None] = []
    whole: list[bool] = []

    def images() -> Iterator[Image]:
        for frame in synthesize(kind, seconds=seconds, fps=fps, size=size, seed=seed, direction=direction):
            boxes.append(frame.box)
            whole.append(frame.whole)
            yield frame.image

    encode_mp4(images(), path, fps, size)
    if annexb is not None:
        annexb = Path(annexb)
        annexb.parent.mkdir(parents=True, exist_ok=True)
        mp4_to_annexb(path, annexb)
    info = ClipInfo(
        path=path,
        truth=truth_path(path),
        annexb=annexb,
        kind=kind,
        fps=fps,
        size=size,
        seed=seed,
        boxes=tuple(boxes),
        whole=tuple(whole),
    )
    _write_truth(info)
    return info


def _write_truth(info: ClipInfo) -> None:
    annexb: str | None = None
    if info.annexb is not None:
        try:
            annexb = str(info.annexb.resolve().relative_to(info.truth.parent.resolve()))
        except ValueError:
            annexb = str(info.annexb.resolve())
    data: dict[str, Any] = {
        "version": TRUTH_VERSION,
        "video": info.path.name,
        "annexb": annexb,
        "kind": info.kind,
        "fps": info.fps,
        "size": list(info.size),
        "seed": info.seed,
        "frames": info.frames,
        "box_format": "x1,y1,x2,y2 pixels, x2/y2 exclusive; null: nobody (no vehicle) in view",
        "boxes": [None if b is None else list(b) for b in info.boxes],
        "whole": list(info.whole),
    }
    tmp = info.truth.with_name(info.truth.name + ".tmp")
    tmp.write_text(json.dumps(data, separators=(",", ":")) + "\n")
    tmp.replace(info.truth)


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = text.lower().split("x")
        return int(w), int(h)
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be WIDTHxHEIGHT, e.g. 1280x720 (got {text!r})") from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m app.demo.clip", description="Synthesize a camera clip from real photos, with ground truth."
    )
    parser.add_argument("out", type=Path, help="the MP4 to write; NAME.truth.json goes beside it")
    parser.add_argument("--kind", choices=KINDS, default="person")
    parser.add_argument("--seconds", type=float, default=None, help="default 6 (10 for a vehicle)")
    parser.add_argument("--fps", type=int, default=12)
    parser.add_argument("--size", type=_size, default=(1280, 720), help="WIDTHxHEIGHT (default 1280x720)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--direction", choices=["ltr", "rtl"], default="ltr")
    parser.add_argument("--annexb", type=Path, default=None, help="also write the raw Annex-B H.264 stream here")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        info = make_clip(
            args.out,
            kind=args.kind,
            seconds=args.seconds,
            fps=args.fps,
            size=args.size,
            annexb=args.annexb,
            seed=args.seed,
            direction=args.direction,
        )
    except (ClipError, OSError) as exc:
        print(f"clip: {exc}", file=sys.stderr)
        return 2
    took = time.perf_counter() - started
    print(
        f"{info.path}: {info.kind}, {info.frames} frames at {info.fps} fps, {info.size[0]}x{info.size[1]}, "
        f"{'vehicle' if info.kind == 'vehicle' else 'person'} in {sum(b is not None for b in info.boxes)} frames, "
        f"truth {info.truth.name}, {took:.1f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
