"""The real photos behind the synthesized clips, and what is cut out of them or built from them.

All from scikit-image's wheel (no download): the astronaut (NASA's public-domain portrait of
Eileen Collins), the garage with a red motorcycle (`stereo_motorcycle`, with its stereo
disparity), and the `brick` and `gravel` textures the driveway is built from. scikit-image is
imported only when a photo is loaded: it is a development and set-up dependency.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TypeVar, cast

import cv2
import numpy as np
import numpy.typing as npt

from app.demo.compose import ALPHA_VISIBLE, ClipError, FloatImage, Image

WALL_BASE = 0.45  # where the wall meets the ground, as a fraction of the frame height
BRICK_COURSE = 0.025  # one course of the wall (brick and mortar), as a fraction of the frame height
GRAVEL_NEAR = 0.45 / 720  # the gravel photo's scale at the frame's bottom edge, per pixel of frame height
GRAVEL_FAR = 0.5  # the gravel at the wall's foot is this much smaller than at the bottom edge
SHADOW_DEPTH = 0.45  # how much of the light a vehicle's contact shadow takes, at the darkest

_Pixels = TypeVar("_Pixels", Image, FloatImage)


@dataclass(frozen=True, slots=True, eq=False)
class Cutout:
    """A person (or a vehicle) cut out of a photo: colour and a soft matte, cropped to the matte."""

    bgr: FloatImage  # h x w x 3
    alpha: FloatImage  # h x w x 1, 0..1
    origin: tuple[int, int]  # x, y of the crop's top-left corner in the source photo


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


def fit(img: _Pixels, size: tuple[int, int]) -> _Pixels:
    """Crop `img` to the aspect ratio of `size` (centred) and resize it to `size`, as `garage` does the photo."""
    width, height = size
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
    return cast(_Pixels, np.ascontiguousarray(cv2.resize(img, (width, height), interpolation=interp)))


def garage(size: tuple[int, int]) -> Image:
    """The garage photo cropped to the frame's aspect ratio (centred) and resized to `size`."""
    return fit(photo("stereo_motorcycle"), size)


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
        origin=(x, y),
    )


def tile(img: FloatImage, width: int, height: int) -> FloatImage:
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
    wall = tile(flat.astype(np.float32), width, base)[..., None] * np.array([0.55, 0.68, 1.0], np.float32)

    near = GRAVEL_NEAR * height
    gravel = cv2.resize(
        photo("gravel")[..., 0].astype(np.float32), None, fx=near, fy=near, interpolation=cv2.INTER_AREA
    )
    depth = height - base
    src_w = width / GRAVEL_FAR  # the far edge takes in this much of the tiled photo...
    src_h = depth * (1.0 + 1.0 / GRAVEL_FAR) / 2.0  # ...and the rows shrink with distance
    spread = tile(gravel.astype(np.float32), math.ceil(src_w) + 2, math.ceil(src_h) + 2)
    trapezoid = np.array([[0, 0], [src_w, 0], [(src_w + width) / 2, src_h], [(src_w - width) / 2, src_h]], np.float32)
    ground_rect = np.array([[0, 0], [width, 0], [width, depth], [0, depth]], np.float32)
    laid = cv2.warpPerspective(spread, cv2.getPerspectiveTransform(trapezoid, ground_rect), (width, depth))
    ground = laid.astype(np.float32)[..., None] * np.array([0.90, 0.98, 1.04], np.float32)
    # The wall's shadow on the ground at its foot, fading over 3% of the frame height.
    fade = np.clip(np.arange(depth, dtype=np.float32) / (0.03 * height), 0.0, 1.0)
    ground *= (0.7 + 0.3 * fade)[:, None, None]
    scene = np.concatenate([wall, ground], axis=0)
    return np.asarray(np.clip(scene, 0.0, 255.0), dtype=np.uint8)


def scaled(cut: Cutout, ph: int) -> tuple[FloatImage, FloatImage]:
    """A cut-out resized to `ph` pixels high (colour, matte h x w x 1)."""
    pw = round(cut.bgr.shape[1] * ph / cut.bgr.shape[0])
    interp = cv2.INTER_AREA if ph < cut.bgr.shape[0] else cv2.INTER_LINEAR
    sprite = cv2.resize(cut.bgr, (pw, ph), interpolation=interp)
    alpha = cv2.resize(cut.alpha, (pw, ph), interpolation=interp)[..., None]
    return sprite.astype(np.float32), alpha.astype(np.float32)


@dataclass(frozen=True, slots=True, eq=False)
class Vehicle:
    """The motorcycle at its size in the frame, facing the way it rides, and its contact shadow."""

    bgr: FloatImage
    alpha: FloatImage
    shadow: FloatImage  # the shadow's strength, h x w x 1; its window starts `pad` left of the bike's
    shade: FloatImage  # black, the shadow's size (what `paste` blends in)
    pad: int


def vehicle(vh: int, mirror: bool, cut: Cutout | None = None) -> Vehicle:
    """The motorcycle `vh` pixels high, mirrored to ride right to left, with its contact shadow."""
    cut = cut_out_motorcycle() if cut is None else cut
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
    return Vehicle(
        bgr=np.ascontiguousarray(bgr),
        alpha=np.ascontiguousarray(alpha[..., None]),
        shadow=shadow[..., None],
        shade=np.zeros((*shadow.shape, 3), np.float32),
        pad=pad,
    )
