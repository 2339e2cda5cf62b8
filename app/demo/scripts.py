"""What happens in each scene: who walks or rides where and when, in front of what, in what light.

Every scene is a `Script`: a background, the objects and distractors it holds, and per frame
the layers to paint and the light to multiply by. Sizes and places are fractions of the
frame, times are seconds, so a scene looks the same at any size and frame rate.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from app.demo import clip, photos, props
from app.demo.compose import ClipError, FloatImage, smoothstep
from app.demo.photos import Vehicle, cut_out_astronaut, cut_out_motorcycle, driveway, fit, garage, photo, scaled
from app.demo.stage import Distractor, Layer, Path, SceneObject, Sprite, play

BREATH = 0.003  # a standing person's breathing, as a fraction of her height
SWAY = 0.003  # a standing person's sway, as a fraction of the frame width
EDGE_OUT = 0.35  # how much of the motorcycle parked at the edge is outside the frame
DISTANT_HEIGHT = 0.22  # the distant person's height, as a fraction of the frame height
DISTANT_BOTTOM = 0.47  # ...and where her bottom is: the wall's foot
B_HEIGHT, B_BOTTOM = 0.55, 0.92  # the farther person of the crossing
B_HUE = 200.0  # degrees her suit's hue is turned by: a blue suit, not the orange one
BORDER_TOP = 0.885  # the crossing's low hedge in the foreground: its top, as a fraction of the frame height
WALL_HEDGE = (0.44, 0.56)  # the distant scene's hedge along the foot of the wall: top and bottom


@dataclass(frozen=True, slots=True, eq=False)
class Script:
    count: int  # frames
    background: FloatImage
    objects: tuple[SceneObject, ...]
    distractors: tuple[Distractor, ...]
    layers: Callable[[int], list[Layer]]  # frame index -> what to paint on the background
    light: Callable[[int], FloatImage]  # frame index -> gain, broadcast over the frame


# GrabCut takes seconds; making every scene in one run cuts each photo once.
_astronaut = functools.cache(cut_out_astronaut)
_motorcycle = functools.cache(cut_out_motorcycle)


@dataclass(frozen=True, slots=True, eq=False)
class Walker:
    """A person walking along a path (her middle's x, pixels) with her bottom at `bottom`."""

    id: int
    sprite: Sprite
    path: Path
    bottom: float
    pace: float  # her walking speed (px/s): at it, her bob is full; standing, she sways and breathes
    depth: float
    frame_width: int

    def layer(self, s: float) -> Layer:
        ph = self.sprite.height
        walking = min(1.0, abs(self.path.speed(s)) / self.pace)
        still = 1.0 - walking
        # clip.py's bob, scaled to her height: BOB_PX of the frame for a figure PERSON_HEIGHT tall.
        bob = walking * clip.BOB_PX * ph / clip.PERSON_HEIGHT * 0.5 * (1.0 - math.cos(2 * math.pi * clip.BOB_HZ * s))
        breath = still * BREATH * ph * 0.5 * (1.0 - math.cos(2 * math.pi * s / 4.0))
        sway = still * SWAY * self.frame_width * math.sin(2 * math.pi * s / 5.0)
        x0 = round(self.path.at(s) + sway - self.sprite.width / 2)
        return Layer(self.sprite, x0, round(self.bottom - ph + bob + breath), self.depth, self.id)


def _person(height: float, frame_height: int) -> Sprite:
    bgr, alpha = scaled(_astronaut(), round(height * frame_height))
    return Sprite.of(bgr, alpha)


def _through(t0: float, t1: float, x0: float, x1: float, ease: float) -> Path:
    """A steady walk with her middle at x0 at t0 and at x1 at t1 (both off-screen): at full pace in between."""
    pace = (x1 - x0) / (t1 - t0)
    return Path([(t0 - ease / 2, x0 - pace * ease / 2), (t1 + ease / 2, x1 + pace * ease / 2)], ease)


def _pace(keys: list[tuple[float, float]]) -> float:
    """The walking speed of a path (px/s): its first leg's."""
    return abs(keys[1][1] - keys[0][1]) / (keys[1][0] - keys[0][0])


def _walk(oid: int, sprite: Sprite, t0: float, t1: float, size: tuple[int, int], *, rtl: bool = False) -> Walker:
    """Her whole way across the frame between t0 and t1 (s), bottom at the frame's bottom edge."""
    width, height = size
    left, right = -sprite.width / 2, width + sprite.width / 2
    ends = (right, left) if rtl else (left, right)
    path = _through(t0, t1, *ends, ease=0.4)
    return Walker(oid, sprite, path, clip.PERSON_BOTTOM * height, (right - left) / (t1 - t0), 1.0, width)


def _fading(count: int, width: int) -> Callable[[int], FloatImage]:
    """clip.py's light: it fades by ~25% between 40% and 65% of the clip, more on the right."""
    return lambda i: clip.light_gain(i / (count - 1), width)


def _in_view(walkers: list[Walker], s: float) -> list[Layer]:
    return [w.layer(s) for w in walkers if -2 * w.sprite.width < w.path.at(s) < w.frame_width + 2 * w.sprite.width]


def visits(fps: int, size: tuple[int, int], _seed: int) -> Script:
    """She walks through three times, each pass ~5.5 s, with ~3 s of empty driveway between."""
    count = round(26 * fps)
    sprite = _person(clip.PERSON_HEIGHT, size[1])
    walkers = [
        _walk(1, sprite, 1.0, 6.5, size),
        _walk(2, sprite, 9.5, 15.0, size, rtl=True),
        _walk(3, sprite, 18.0, 23.5, size),
    ]
    objects = tuple(SceneObject(w.id, "person", "arrival") for w in walkers)
    return Script(
        count,
        driveway(size).astype(np.float32),
        objects,
        (),
        lambda i: _in_view(walkers, i / fps),
        _fading(count, size[0]),
    )


def linger(fps: int, size: tuple[int, int], _seed: int) -> Script:
    """She walks in from the left, stands at the middle for 8 s (swaying, breathing), walks off right."""
    width, height = size
    count = round(18 * fps)
    sprite = _person(clip.PERSON_HEIGHT, height)
    left, right = -sprite.width / 2, width + sprite.width / 2
    path = Path([(1.0, left), (5.0, width / 2), (13.0, width / 2), (17.0, right)], ease=1.2)
    walker = Walker(1, sprite, path, clip.PERSON_BOTTOM * height, (width / 2 - left) / 4.0, 1.0, width)
    objects = (SceneObject(1, "person", "arrival"),)
    return Script(
        count,
        driveway(size).astype(np.float32),
        objects,
        (),
        lambda i: _in_view([walker], i / fps),
        _fading(count, width),
    )


def crossing(fps: int, size: tuple[int, int], seed: int) -> Script:
    """A (near) walks left to right; B (farther, in blue) right to left, slowing as A passes in front.

    B is not mirrored: the astronaut's head is right of her middle, and only unmirrored does
    A's head cover B's, so that B is (almost) wholly hidden at the crossing.
    """
    width, height = size
    count = round(12 * fps)
    near = _person(clip.PERSON_HEIGHT, height)
    # Both slow down as they pass (from ~160 px/s to ~60 and ~30 at 720p): A hides B (almost) wholly
    # for about a second, B's middle 10 px right of A's (where A's head covers B's) at 6.1 s.
    left, right = -near.width / 2, width + near.width / 2
    keys = [(0.5, left), (5.3, 0.5 * width - 50 * width / 1280), (6.9, 0.5 * width + 50 * width / 1280), (11.5, right)]
    a = Walker(1, near, Path(keys, ease=0.8), clip.PERSON_BOTTOM * height, _pace(keys), 1.0, width)
    far = _person(B_HEIGHT, height)
    far = Sprite.of(props.recolour(far.bgr, B_HUE), far.alpha)
    keys = [(0.5, width + far.width / 2), (5.3, (0.5 + 35 / 1280) * width), (6.9, (0.5 - 15 / 1280) * width)]
    keys.append((11.5, -far.width / 2))
    b = Walker(2, far, Path(keys, ease=0.8), B_BOTTOM * height, _pace(keys), 1.4, width)
    # B's cut-out ends at her waist: a low hedge across the foreground hides where it ends (A is in front of it).
    rng = np.random.default_rng([seed, 3])
    low = props.border(width, round((1.0 - BORDER_TOP) * height) + 1, height, rng)
    hedge = Layer(low, 0, round(BORDER_TOP * height), depth=1.2)
    objects = (SceneObject(1, "person", "arrival"), SceneObject(2, "person", "arrival"))
    return Script(
        count,
        driveway(size).astype(np.float32),
        objects,
        (Distractor("low hedge", _box(low, hedge.x0, hedge.y0, size)),),
        lambda i: [hedge, *_in_view([a, b], i / fps)],
        _fading(count, width),
    )


def garage_scene(fps: int, size: tuple[int, int], _seed: int) -> Script:
    """clip.py's 20 s person clip (the same frames), with the garage photo's own motorcycle in the truth."""
    width, height = size
    count = round(20 * fps)
    bgr, alpha = clip.person(height, _astronaut())
    her = Sprite.of(bgr, alpha)
    # Where the photo's motorcycle is in the frame: its cut-out's matte, put back where it was
    # cut from and cropped and resized as garage() does the photo.
    cut = _motorcycle()
    matte = np.zeros(photo("stereo_motorcycle").shape[:2], np.float32)
    mh, mw = cut.alpha.shape[:2]
    matte[cut.origin[1] : cut.origin[1] + mh, cut.origin[0] : cut.origin[0] + mw] = cut.alpha[..., 0]
    matte = np.clip(fit(matte, size), 0.0, 1.0)
    ys, xs = np.nonzero(matte > 0)
    x1, y1, x2, y2 = int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
    bike = Sprite.of(np.zeros((y2 - y1, x2 - x1, 3), np.float32), matte[y1:y2, x1:x2])
    parked = Layer(bike, x1, y1, depth=2.0, id=1, paint=False)

    def layers(i: int) -> list[Layer]:
        x0, y0 = clip.walk_origin(i, count, fps, size, (her.height, her.width))
        return [parked, Layer(her, x0, y0, depth=1.0, id=2)]

    objects = (SceneObject(1, "motorcycle", "parked"), SceneObject(2, "person", "arrival"))
    return Script(count, garage(size).astype(np.float32), objects, (), layers, _fading(count, width))


def _bike(height: int) -> tuple[Vehicle, Sprite, Sprite]:
    """clip.py's motorcycle (facing right), as a sprite, and its contact shadow (`pad` left of it)."""
    vehicle = photos.vehicle(round(clip.VEHICLE_HEIGHT * height), mirror=False, cut=_motorcycle())
    return vehicle, Sprite.of(vehicle.bgr, vehicle.alpha), Sprite.of(vehicle.shade, vehicle.shadow)


def arrival(fps: int, size: tuple[int, int], _seed: int) -> Script:
    """clip.py's vehicle clip, 12 s (the same frames): the motorcycle rides in and parks."""
    width, height = size
    count = round(12 * fps)
    vehicle, bike, shadow = _bike(height)

    def layers(i: int) -> list[Layer]:
        x0, y0 = clip.drive_origin(i / (count - 1), vehicle, size, "ltr")
        return [Layer(shadow, x0 - vehicle.pad, y0, depth=1.01, hides=False), Layer(bike, x0, y0, depth=1.0, id=1)]

    objects = (SceneObject(1, "motorcycle", "arrival"),)
    return Script(count, driveway(size).astype(np.float32), objects, (), layers, _fading(count, width))


def edge_parked(fps: int, size: tuple[int, int], _seed: int) -> Script:
    """A motorcycle parked at the right edge, 35% of it outside the frame; from 6 s she walks past in front."""
    width, height = size
    count = round(20 * fps)
    vehicle, bike, shadow = _bike(height)
    x0 = round(width - (1.0 - EDGE_OUT) * bike.width)
    y0 = round(clip.VEHICLE_BOTTOM * height) - bike.height
    parked = [Layer(shadow, x0 - vehicle.pad, y0, depth=1.31, hides=False), Layer(bike, x0, y0, depth=1.3, id=1)]
    her = _walk(2, _person(clip.PERSON_HEIGHT, height), 6.0, 12.0, size)
    objects = (SceneObject(1, "motorcycle", "parked"), SceneObject(2, "person", "arrival"))
    return Script(
        count,
        driveway(size).astype(np.float32),
        objects,
        (),
        lambda i: [*parked, *_in_view([her], i / fps)],
        _fading(count, width),
    )


def distant(fps: int, size: tuple[int, int], seed: int) -> Script:
    """A small, distant person walking slowly along the foot of the wall, all the way across."""
    width, height = size
    count = round(14 * fps)
    sprite = _person(DISTANT_HEIGHT, height)
    left, right = -sprite.width / 2, width + sprite.width / 2
    path = _through(0.5, 13.5, left, right, ease=0.4)
    her = Walker(1, sprite, path, DISTANT_BOTTOM * height, (right - left) / 13.0, 4.0, width)
    # Her cut-out ends at her waist: she walks behind a low hedge along the foot of the wall.
    rng = np.random.default_rng([seed, 5])
    top, bottom = (round(f * height) for f in WALL_HEDGE)
    low = props.border(width, bottom - top, height, rng)
    hedge = Layer(low, 0, top, depth=3.0)
    objects = (SceneObject(1, "person", "arrival"),)
    return Script(
        count,
        driveway(size).astype(np.float32),
        objects,
        (Distractor("low hedge", _box(low, 0, top, size)),),
        lambda i: [hedge, *_in_view([her], i / fps)],
        _fading(count, width),
    )


def wind(fps: int, size: tuple[int, int], seed: int) -> Script:
    """Nobody: a hedge and a shrub sway in gusts, the light fades and steps; a bin and a bag stand by."""
    width, height = size
    count = round(20 * fps)
    rng = np.random.default_rng([seed, 7])  # not the noise's generator: the noise stays clip.py's
    background = driveway(size).astype(np.float32)
    distractors = []
    for what, sprite, cx, bottom in (
        ("wheelie bin", props.wheelie_bin(round(0.20 * height)), 0.63, 0.80),
        ("bin bag", props.bin_bag(round(0.11 * height), rng), 0.745, 0.82),
    ):
        x0, y0 = round(cx * width - sprite.width / 2), round(bottom * height) - sprite.height
        shadow = props.contact_shadow(round(1.3 * sprite.width), max(4, round(0.12 * sprite.height)))
        sx, sy = x0 - (shadow.width - sprite.width) // 2, y0 + sprite.height - shadow.height // 2
        play(background, [Layer(shadow, sx, sy, depth=1.01, hides=False), Layer(sprite, x0, y0, depth=1.0)])
        distractors.append(Distractor(what, _box(sprite, x0, y0, size)))
    top = props.hedge(width, height, rng)
    bush = props.shrub(round(0.15 * width), round(0.30 * height), height, rng)
    bush_at = (round(0.01 * width), round(0.575 * height) - bush.sprite.height)
    under = props.contact_shadow(round(1.2 * bush.sprite.width), max(4, round(0.1 * bush.sprite.height)))
    play(
        background, [Layer(under, bush_at[0] - bush.sprite.width // 10, round(0.575 * height) - under.height // 2, 1.0)]
    )
    distractors += [
        Distractor("hedge", _box(top.sprite, 0, 0, size)),
        Distractor("shrub", _box(bush.sprite, *bush_at, size)),
    ]
    gusts = list(np.cumsum(rng.uniform(3.0, 5.5, 8)) - 1.5)

    def layers(i: int) -> list[Layer]:
        s = i / fps
        strength = props.gust(s, gusts)
        return [Layer(top.at(s, strength), 0, 0, depth=9.0), Layer(bush.at(s, strength), *bush_at, depth=5.0)]

    def light(i: int) -> FloatImage:
        s = i / fps
        fade = 1.0 - 0.30 * smoothstep((s - 3.0) / 8.0)  # a slow fade of 30% (dusk, a thick cloud)
        step = 0.80 if 13.0 <= s < 16.0 else 1.0  # a sudden 20% drop for 3 s (the IR cut filter, a cloud)
        return np.full((1, 1, 1), fade * step, np.float32)

    return Script(count, background, (), tuple(distractors), layers, light)


def bin_day(fps: int, size: tuple[int, int], seed: int) -> Script:
    """The wind scene with two passers-by: the crops around them take in the bin and the bag
    again and again, so the detector looks at them on every frame they pass (a bag scores
    as a handbag, a backpack or a cat there), not only on the rare whole-frame look."""
    still = wind(fps, size, seed)
    sprite = _person(clip.PERSON_HEIGHT, size[1])
    walkers = [_walk(1, sprite, 4.0, 9.5, size), _walk(2, sprite, 12.0, 17.5, size, rtl=True)]
    return replace(
        still,
        objects=tuple(SceneObject(w.id, "person", "arrival") for w in walkers),
        layers=lambda i: still.layers(i) + _in_view(walkers, i / fps),
    )


def _box(sprite: Sprite, x0: int, y0: int, size: tuple[int, int]) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(sprite.alpha[..., 0] >= 0.5)
    width, height = size
    x1, y1 = max(0, x0 + int(xs.min())), max(0, y0 + int(ys.min()))
    return x1, y1, min(width, x0 + int(xs.max()) + 1), min(height, y0 + int(ys.max()) + 1)


Maker = Callable[[int, tuple[int, int], int], Script]  # (fps, size, seed) -> the scene
SCRIPTS: dict[str, Maker] = {
    "visits": visits,
    "linger": linger,
    "crossing": crossing,
    "garage": garage_scene,
    "arrival": arrival,
    "edge_parked": edge_parked,
    "distant": distant,
    "wind": wind,
    "bin_day": bin_day,
}


def script(name: str, fps: int, size: tuple[int, int], seed: int) -> Script:
    """The scene `name` at this frame rate and size (`seed` varies what is random in it: noise, leaves, gusts)."""
    if name not in SCRIPTS:
        raise ClipError(f"no scene {name!r}")
    return SCRIPTS[name](fps, size, seed)
