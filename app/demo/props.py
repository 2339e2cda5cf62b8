"""Things in a scene that are not objects: foliage that sways in the wind, a wheelie bin, a bin bag.

The foliage is scikit-image's real `grass` photo, tinted and given a ragged matte; the bin
and the bag are drawn with OpenCV at 4x and shrunk, so their edges are smooth. Each is a
`Sprite` (colour and matte) at its size in the frame; where it stands is the scene's business.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from app.demo.compose import FloatImage, smoothstep
from app.demo.photos import photo, tile
from app.demo.stage import Sprite

SWAY_PX = 8 / 720  # the most a leaf moves in a gust, as a fraction of the frame height
LEAF_SCALE = 0.6  # the grass photo's scale per 720 px of frame height: its blades are leaves at this size
SUPER = 4  # the bin and the bag are drawn this much larger, then shrunk (smooth edges)


def recolour(bgr: FloatImage, degrees: float) -> FloatImage:
    """Turn the hue of the orange suit (strongly saturated, hue under ~25°; not skin or hair) by `degrees`."""
    hsv = cv2.cvtColor(np.clip(bgr, 0.0, 255.0) / 255.0, cv2.COLOR_BGR2HSV)  # float: H in degrees, S and V 0..1
    hue = hsv[..., 0]
    orange = np.clip((30.0 - np.where(hue > 180.0, hue - 360.0, hue)) / 5.0, 0.0, 1.0)
    weight = (np.clip((hsv[..., 1] - 0.5) / 0.15, 0.0, 1.0) * orange)[..., None]
    turned = hsv.copy()
    turned[..., 0] = (hue + degrees) % 360.0
    out = cv2.cvtColor(turned, cv2.COLOR_HSV2BGR) * 255.0
    return np.asarray(bgr * (1.0 - weight) + out * weight, dtype=np.float32)


def _f32(a: object) -> FloatImage:
    return np.asarray(a, dtype=np.float32)


def _smooth_noise(rng: np.random.Generator, n: int, scale: float) -> np.ndarray:
    """n values of smooth random wiggle in -1..1, with features about `scale` samples apart."""
    knots = rng.uniform(-1.0, 1.0, max(2, math.ceil(n / scale) + 2))
    return np.interp(np.arange(n) / scale, np.arange(knots.size), knots)


def _leaves(width: int, height: int, frame_height: int, rng: np.random.Generator) -> tuple[FloatImage, FloatImage]:
    """Tinted grass at leaf size, width x height: colour and the texture (0..1) for ragged edges."""
    grass = photo("grass")[..., 0].astype(np.float32)
    scale = LEAF_SCALE * frame_height / 720
    grass = _f32(cv2.resize(grass, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA))
    x0, y0 = (int(v) for v in rng.integers(0, grass.shape[:2]))
    texture = tile(np.roll(grass, (y0, x0), axis=(0, 1)), width, height) / 255.0
    # Clumps of light and shade a few leaves across.
    clumps = cv2.GaussianBlur(rng.uniform(0.0, 1.0, (height, width)).astype(np.float32), (0, 0), 0.03 * frame_height)
    clumps = (clumps - clumps.mean()) / max(float(clumps.std()), 1e-6)
    light = np.clip(0.35 + 0.9 * texture + 0.12 * clumps, 0.1, 1.4)[..., None]
    bgr = light * np.array([38.0, 105.0, 52.0], np.float32)  # a mid green (BGR)
    return bgr.astype(np.float32), texture.astype(np.float32)


class Foliage:
    """Leaves that sway: a sprite and how freely each of its pixels moves (0: held, 1: free)."""

    def __init__(self, bgr: FloatImage, alpha: FloatImage, freedom: FloatImage, frame_height: int) -> None:
        self.sprite = Sprite.of(bgr, alpha)
        self._freedom = freedom.astype(np.float32)
        self._reach = SWAY_PX * frame_height
        h, w = freedom.shape
        self._gx, self._gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))

    def at(self, s: float, wind: float) -> Sprite:
        """The leaves at time `s` (seconds) in a wind of strength `wind` (0..1: 1 moves the freest by SWAY_PX)."""
        gx, gy = self._gx, self._gy
        # Two travelling waves (the whole bush leaning, single twigs fluttering) and a little heave.
        lean = 0.65 * np.sin(2 * math.pi * 0.8 * s + gx / 95.0) + 0.35 * np.sin(
            2 * math.pi * 2.3 * s + gx / 31 + gy / 23
        )
        reach = np.float32(self._reach * wind) * self._freedom
        map_x = gx + reach * lean.astype(np.float32)
        map_y = gy + 0.35 * reach * np.sin(2 * math.pi * 1.3 * s + gx / 70.0).astype(np.float32)
        bgr = cv2.remap(self.sprite.bgr, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        alpha = cv2.remap(self.sprite.alpha, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        return Sprite.of(np.asarray(bgr, np.float32), np.asarray(alpha, np.float32))


def hedge(width: int, frame_height: int, rng: np.random.Generator) -> Foliage:
    """A hedge growing along the top of the wall, hanging into the top ~15% of the frame."""
    height = round(0.17 * frame_height)
    bgr, texture = _leaves(width, height, frame_height, rng)
    ys = np.arange(height, dtype=np.float32)[:, None]
    # Its lower edge wanders (0.11-0.16 of the frame height) and is ragged leaf by leaf.
    edge = (0.135 + 0.025 * _smooth_noise(rng, width, 0.06 * width))[None, :] * frame_height
    alpha = np.clip((edge - ys) / (0.02 * frame_height) + 1.8 * (texture - 0.5), 0.0, 1.0)
    bgr *= (1.05 - 0.35 * ys / height)[..., None]  # shade under the leaves
    freedom = (0.3 + 0.7 * ys / height) * np.ones((1, width), np.float32)  # the hanging ends move most
    return Foliage(bgr, _f32(cv2.GaussianBlur(alpha, (3, 3), 0))[..., None], _f32(freedom), frame_height)


def border(width: int, height: int, frame_height: int, rng: np.random.Generator) -> Sprite:
    """A low clipped hedge, width x height, its top ragged within its upper ~15%: for someone to walk behind."""
    bgr, texture = _leaves(width, height, frame_height, rng)
    ys = np.arange(height, dtype=np.float32)[:, None]
    edge = (0.12 + 0.10 * _smooth_noise(rng, width, 0.04 * width))[None, :] * height
    alpha = np.clip((ys - edge) / (0.01 * frame_height) + 1.8 * (texture - 0.5), 0.0, 1.0)
    bgr *= (1.15 - 0.5 * ys / height)[..., None]  # lit from above, dark at the root
    return Sprite.of(bgr, _f32(cv2.GaussianBlur(alpha, (3, 3), 0))[..., None])


def shrub(width: int, height: int, frame_height: int, rng: np.random.Generator) -> Foliage:
    """A round shrub, width x height, rooted at its bottom middle."""
    bgr, texture = _leaves(width, height, frame_height, rng)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = np.arctan2(ys - height * 0.55, xs - width / 2)
    phases = rng.uniform(0.0, 2 * math.pi, 3)
    wobble = 1.0 - 0.05 * sum(np.sin(k * angle + p) for k, p in zip((3, 5, 8), phases, strict=True))
    r = np.hypot((xs - width / 2) / (width / 2), (ys - height * 0.55) / (height * 0.55))
    alpha = np.clip((0.88 * wobble - r) / 0.06 + 1.5 * (texture - 0.5), 0.0, 1.0)
    alpha[ys > 0.97 * height] = 0.0  # it stands on the ground
    bgr *= (1.15 - 0.45 * ys / height)[..., None]  # lit from above
    freedom = np.clip(1.0 - ys / height, 0.0, 1.0) ** 1.2  # rooted at the bottom
    return Foliage(bgr, _f32(cv2.GaussianBlur(alpha, (3, 3), 0))[..., None], _f32(freedom), frame_height)


def _shrink(canvas: FloatImage, matte: FloatImage) -> Sprite:
    h, w = matte.shape[:2]
    size = (max(1, round(w / SUPER)), max(1, round(h / SUPER)))
    bgr = cv2.resize(canvas, size, interpolation=cv2.INTER_AREA)
    alpha = cv2.resize(matte, size, interpolation=cv2.INTER_AREA)
    return Sprite.of(np.asarray(bgr, np.float32), np.asarray(alpha, np.float32))


def wheelie_bin(height: int) -> Sprite:
    """A dark-green wheelie bin seen from the front, `height` pixels tall: lid, body, comb bar, wheels."""
    h = height * SUPER
    w = round(0.62 * h)
    canvas = np.zeros((h, w, 3), np.float32)
    matte = np.zeros((h, w), np.float32)
    green = np.array([42.0, 74.0, 30.0], np.float32)  # BGR
    lid_h, wheel_r = round(0.075 * h), round(0.085 * h)
    body_w = round(0.92 * w)
    top, bottom = lid_h, h - round(0.35 * wheel_r)
    for cx in (round(0.12 * w), w - round(0.12 * w)):  # the wheels, behind the body's lower corners
        cv2.circle(canvas, (cx, h - wheel_r - 1), wheel_r, (14.0, 14.0, 16.0), -1, cv2.LINE_AA)
        cv2.circle(canvas, (cx, h - wheel_r - 1), wheel_r // 3, (55.0, 55.0, 58.0), -1, cv2.LINE_AA)
        cv2.circle(matte, (cx, h - wheel_r - 1), wheel_r, 1.0, -1, cv2.LINE_AA)
    # The body narrows towards the bottom, like every wheelie bin.
    inset = (w - body_w) // 2
    taper = round(0.07 * w)
    body = np.array([[inset, top], [w - inset, top], [w - inset - taper, bottom], [inset + taper, bottom]], np.int32)
    body_mask = np.zeros((h, w), np.float32)
    cv2.fillPoly(body_mask, [body], 1.0, cv2.LINE_AA)
    xs = np.linspace(0.0, 1.0, w, dtype=np.float32)[None, :]
    ys = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None]
    # Lit from the upper left: bright on the left third, falling off to the right and downwards.
    shade = (0.65 + 0.55 * np.exp(-(((xs - 0.3) / 0.35) ** 2))) * (1.05 - 0.3 * ys)
    ribs = 1.0 - 0.10 * (np.abs(np.sin(xs * math.pi * 5)) < 0.08)  # moulded vertical ribs
    body_rgb = green * (shade * ribs)[..., None]
    comb = (ys > 0.17) & (ys < 0.21)  # the comb bar the lorry lifts it by: a ridge with a lit top
    body_rgb[np.broadcast_to(comb, (h, w))] *= 0.55
    body_rgb[np.broadcast_to((ys > 0.16) & (ys <= 0.17), (h, w))] *= 1.45
    a = body_mask[..., None]
    canvas[:] = canvas * (1 - a) + body_rgb * a
    matte = np.maximum(matte, body_mask)
    # The lid, a little wider than the body, with a dark lip along its front and the handle behind it.
    cv2.rectangle(canvas, (round(0.30 * w), 0), (round(0.70 * w), lid_h // 2), (20.0, 30.0, 16.0), -1)
    cv2.rectangle(matte, (round(0.30 * w), 0), (round(0.70 * w), lid_h // 2), 1.0, -1)
    lid = (0, lid_h // 3, w - 1, top + lid_h // 2)
    cv2.rectangle(canvas, lid[:2], lid[2:], (green * 1.25).tolist(), -1, cv2.LINE_AA)
    cv2.rectangle(matte, lid[:2], lid[2:], 1.0, -1, cv2.LINE_AA)
    cv2.rectangle(canvas, (0, lid[3] - lid_h // 4), (w - 1, lid[3]), (green * 0.45).tolist(), -1)
    return _shrink(canvas, matte)


def bin_bag(height: int, rng: np.random.Generator) -> Sprite:
    """A black bin bag, `height` pixels tall: lumpy, flat where it sits, knotted at the top, with folds
    running up to the knot and the dull sheen of plastic."""
    h = height * SUPER
    w = round(1.2 * h)
    matte = np.zeros((h, w), np.float32)
    # The belly, slumped wide on the ground; shoulders; smaller lumps; the neck.
    lumps = [
        (0.50, 0.70, 0.47, 0.30),
        (0.34, 0.50, 0.26, 0.26),
        (0.64, 0.46, 0.27, 0.28),
        (0.20, 0.72, 0.18, 0.20),
        (0.80, 0.70, 0.17, 0.22),
        (0.50, 0.25, 0.10, 0.14),
    ]
    for cx, cy, rx, ry in lumps:
        jitter = rng.uniform(0.92, 1.06, 3)
        centre = (round(cx * w * jitter[2]), round(cy * h))
        axes = (round(rx * w * jitter[0]), round(ry * h * jitter[1]))
        cv2.ellipse(matte, centre, axes, 0.0, 0.0, 360.0, 1.0, -1, cv2.LINE_AA)
    ears = np.array([[0.46, 0.14], [0.38, 0.0], [0.49, 0.08], [0.58, 0.02], [0.55, 0.14]]) * [w, h]
    cv2.fillPoly(matte, [ears.astype(np.int32)], 1.0, cv2.LINE_AA)
    matte[round(0.97 * h) :] = 0.0  # it sits flat on the ground
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    inner = np.clip(cv2.GaussianBlur(matte, (0, 0), 0.07 * h), 0.0, 1.0)  # low towards the rim: it curves away
    sheen = np.exp(-(((xs - 0.36 * w) ** 2 + (ys - 0.45 * h) ** 2) / (0.05 * h * h)))  # light from the upper left
    level = 9.0 + 20.0 * inner + 22.0 * sheen
    # Folds: from the knot down over the bag, each a thin highlight beside a thin crease.
    folds = np.zeros((h, w), np.float32)
    creases = np.zeros((h, w), np.float32)
    knot = np.array([0.5 * w, 0.2 * h])
    for end in rng.uniform([0.12, 0.55], [0.88, 0.92], (6, 2)) * [w, h]:
        bend = (knot + end) / 2 + rng.uniform(-0.12, 0.12, 2) * [w, h]
        u = np.linspace(0.0, 1.0, 24)[:, None]
        curve = (1 - u) ** 2 * knot + 2 * (1 - u) * u * bend + u**2 * end
        thick = max(1, round(0.012 * h))
        cv2.polylines(folds, [curve.astype(np.int32)], False, 1.0, thick, cv2.LINE_AA)
        shifted = curve + np.array([2.5 * thick, 0.0])
        cv2.polylines(creases, [shifted.astype(np.int32)], False, 1.0, thick, cv2.LINE_AA)
    folds = _f32(cv2.GaussianBlur(folds, (0, 0), 0.01 * h))
    creases = _f32(cv2.GaussianBlur(creases, (0, 0), 0.01 * h))
    level = np.clip(level + (38.0 * folds - 10.0 * creases) * inner, 3.0, 255.0)
    canvas = level[..., None] * np.array([1.0, 1.0, 1.05], np.float32)
    return _shrink(canvas.astype(np.float32), matte)


def contact_shadow(width: int, height: int) -> Sprite:
    """A soft dark ellipse, width x height, to lay on the ground under something standing there."""
    matte = np.zeros((height, width), np.float32)
    cv2.ellipse(matte, (width // 2, height // 2), (width * 2 // 5, height * 3 // 10), 0.0, 0.0, 360.0, 0.6, -1)
    matte = _f32(cv2.GaussianBlur(matte, (0, 0), max(1.0, height / 6)))
    return Sprite.of(np.zeros((height, width, 3), np.float32), matte)


def gust(s: float, times: list[float]) -> float:
    """The wind's strength at `s` seconds (0..1): a breeze, and gusts that rise in ~0.6 s and die down over ~2 s."""
    strength = 0.15
    for start in times:
        if s >= start:
            strength += 0.85 * smoothstep((s - start) / 0.6) * math.exp(-max(0.0, s - start - 0.6) / 1.2)
    return min(1.0, strength)
