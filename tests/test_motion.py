"""Motion prefilter on real photos: the astronaut walking through the garage, with sensor noise."""

from __future__ import annotations

import functools

import cv2
import numpy as np
import numpy.typing as npt
import pytest
import skimage.data

from app.analysis.motion import MotionDetector, MotionResult
from app.config.schema import MotionConfig
from app.domain import Box
from tests.conftest import photo

U8 = npt.NDArray[np.uint8]
SIZES = [(1280, 720), (640, 360)]
SIGMA = 4.0  # sensor noise, independent per channel


@functools.cache
def garage(width: int, height: int) -> U8:
    rgb = np.asarray(skimage.data.stereo_motorcycle()[0])  # type: ignore[no-untyped-call]
    return np.ascontiguousarray(cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), (width, height)))


@functools.cache
def astronaut(side: int) -> U8:
    return np.ascontiguousarray(cv2.resize(photo("astronaut"), (side, side), interpolation=cv2.INTER_AREA))


@functools.cache
def face(side: int) -> U8:
    """Her face only (a small, high-contrast patch)."""
    return np.ascontiguousarray(cv2.resize(photo("astronaut")[40:200, 150:310], (side, side)))


class Camera:
    """Makes noisy frames of the garage with pasted patches at known positions."""

    def __init__(self, width: int, height: int, seed: int = 0) -> None:
        self.width, self.height = width, height
        self.rng = np.random.default_rng(seed)

    def frame(self, *patches: tuple[U8, int, int], gain: float = 1.0) -> U8:
        image = garage(self.width, self.height).copy()
        for patch, x, y in patches:
            image[y : y + patch.shape[0], x : x + patch.shape[1]] = patch
        noisy = image * np.float32(gain) + self.rng.standard_normal(image.shape, np.float32) * np.float32(SIGMA)
        out: U8 = np.clip(noisy, 0, 255).astype(np.uint8)
        return out


def rect(patch: U8, x: int, y: int) -> Box:
    return Box(x, y, x + patch.shape[1], y + patch.shape[0])


def contained(inner: Box, outer: Box) -> float:
    """Fraction of `inner` that lies inside `outer`."""
    ix = max(0.0, min(inner.x2, outer.x2) - max(inner.x1, outer.x1))
    iy = max(0.0, min(inner.y2, outer.y2) - max(inner.y1, outer.y1))
    return ix * iy / inner.area


def settle(detector: MotionDetector, camera: Camera, frames: int = 10) -> None:
    for _ in range(frames):
        assert detector.update(camera.frame()).boxes == ()


def walk(
    detector: MotionDetector,
    camera: Camera,
    patch: U8,
    y: int,
    x_from: int,
    x_to: int,
    frames: int,
    gain: float = 1.0,
) -> list[tuple[MotionResult, Box]]:
    """The patch moves from x_from to x_to at height y: each frame's result and where the patch was."""
    out = []
    for i in range(frames):
        x = x_from + (x_to - x_from) * i // (frames - 1)
        out.append((detector.update(camera.frame((patch, x, y), gain=gain)), rect(patch, x, y)))
    return out


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_a_person_walking_across_is_boxed_where_she_is(width: int, height: int) -> None:
    camera = Camera(width, height)
    detector = MotionDetector(MotionConfig(), (width, height))
    settle(detector, camera)
    person = astronaut(height * 2 // 5)
    y = height - person.shape[0] - height // 20
    for result, truth in walk(detector, camera, person, y, 0, width - person.shape[1], 30):
        assert not result.recalibrated
        assert len(result.boxes) == 1, result.boxes  # one mover, one box: no ghost where she was
        box = result.boxes[0]
        assert contained(truth, box) > 0.97  # all of her, in full-frame pixels
        assert box.iou(truth) > 0.6  # and not much more
        assert 0 <= box.x1 < box.x2 <= width
        assert 0 <= box.y1 < box.y2 <= height
        # she covers 16 % of the frame; not all of her differs from the garage behind her
        assert 0.02 < result.changed < 0.16


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_first_frame_is_the_background(width: int, height: int) -> None:
    camera = Camera(width, height)
    detector = MotionDetector(MotionConfig(), (width, height))
    person = astronaut(height // 2)
    first = detector.update(camera.frame((person, 10, 10)))
    assert first == MotionResult((), 0.0, False)
    assert detector.update(camera.frame((person, 10, 10))).boxes == ()  # she was there all along
    assert detector.update(camera.frame()).boxes  # and leaving is motion


@pytest.mark.parametrize(("width", "height"), SIZES)
@pytest.mark.parametrize("threshold", [25, 12])
def test_a_still_scene_with_sensor_noise_is_not_motion(width: int, height: int, threshold: int) -> None:
    camera = Camera(width, height, seed=1)
    detector = MotionDetector(MotionConfig(threshold=threshold), (width, height))
    results = [detector.update(camera.frame()) for _ in range(40)]
    assert [r.boxes for r in results] == [()] * 40
    assert max(r.changed for r in results) < 0.0005
    assert not any(r.recalibrated for r in results)


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_lights_halved_recalibrate_then_the_dark_scene_is_still(width: int, height: int) -> None:
    camera = Camera(width, height, seed=2)
    detector = MotionDetector(MotionConfig(), (width, height))
    settle(detector, camera)
    switched = detector.update(camera.frame(gain=0.5))
    # Every pixel halved: the background is reset, or re-lit tile by tile (the same thing here).
    assert switched.boxes == (), switched
    assert switched.recalibrated or switched.changed < 0.01, switched
    after = [detector.update(camera.frame(gain=0.5)) for _ in range(20)]
    assert [(r.boxes, r.recalibrated) for r in after] == [((), False)] * 20
    # The background really is the dark garage now: someone walking in it is found.
    person = astronaut(height * 2 // 5)
    seen = walk(detector, camera, person, height // 3, width // 4, width // 2, 5, gain=0.5)
    assert all(any(contained(truth, b) > 0.9 for b in r.boxes) for r, truth in seen)


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_motion_under_a_mask_is_ignored_and_outside_it_is_found(width: int, height: int) -> None:
    left_half = ((0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0))
    person = astronaut(height * 2 // 5)
    y = height // 2
    inside = (width // 20, width // 2 - person.shape[1] - width // 20)  # x range fully under the mask
    outside = (width // 2 + width // 20, width - person.shape[1] - width // 20)

    def run(mask: tuple[tuple[tuple[float, float], ...], ...], xs: tuple[int, int]) -> list[tuple[MotionResult, Box]]:
        camera = Camera(width, height, seed=3)
        detector = MotionDetector(MotionConfig(mask=mask), (width, height))
        settle(detector, camera)
        return walk(detector, camera, person, y, xs[0], xs[1], 12)

    masked = run((left_half,), inside)
    assert all(r.boxes == () and r.changed == 0.0 for r, _ in masked)
    unmasked = run((), inside)  # the same walk without the mask
    assert all(any(contained(t, b) > 0.95 for b in r.boxes) for r, t in unmasked)
    beside = run((left_half,), outside)  # the mask leaves the right half watched
    assert all(any(contained(t, b) > 0.95 for b in r.boxes) for r, t in beside)
    assert all(b.x1 >= width / 2 - width / 40 for r, _ in beside for b in r.boxes)


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_blobs_smaller_than_min_area_are_ignored(width: int, height: int) -> None:
    small = face(round((0.0003 * width * height) ** 0.5))  # 0.03 % of the frame
    big = face(round((0.008 * width * height) ** 0.5))  # 0.8 % of the frame

    def boxes_seen(patch: U8, min_area: float) -> int:
        camera = Camera(width, height, seed=4)
        detector = MotionDetector(MotionConfig(min_area=min_area), (width, height))
        settle(detector, camera)
        # along a dark stretch of the garage, where the (bright) face stands out all the way
        walked = walk(detector, camera, patch, height * 2 // 5, width * 28 // 100, width * 45 // 100, 10)
        return sum(any(contained(t, b) > 0.9 for b in r.boxes) for r, t in walked)

    # Visible as motion (in most frames: a patch ~2 working pixels wide is sometimes sampled
    # where it matches the garage)...
    assert boxes_seen(small, 0.0) >= 8
    assert boxes_seen(small, 0.001) == 0  # ...but below the default 0.1 % of the frame
    assert boxes_seen(big, 0.001) == 10
    assert boxes_seen(big, 0.02) == 0  # 0.8 % < 2 %


def test_identical_input_gives_identical_output() -> None:
    frames = [Camera(640, 360, seed=5).frame((astronaut(100), 20 * i, 150)) for i in range(8)]
    a, b = MotionDetector(MotionConfig(), (640, 360)), MotionDetector(MotionConfig(), (640, 360))
    assert [a.update(f) for f in frames] == [b.update(f) for f in frames]


def test_frames_of_the_wrong_size_or_type_are_refused() -> None:
    detector = MotionDetector(MotionConfig(), (1280, 720))
    good = Camera(1280, 720).frame()
    for bad in (
        Camera(640, 360).frame(),  # another camera's size
        np.ascontiguousarray(good.transpose(1, 0, 2)),  # width and height swapped
        cv2.cvtColor(good, cv2.COLOR_BGR2GRAY),  # not BGR
        cv2.cvtColor(good, cv2.COLOR_BGR2BGRA),
        good.astype(np.float32),
    ):
        with pytest.raises(ValueError, match="1280x720"):
            detector.update(bad)  # type: ignore[arg-type]
    assert detector.update(good) == MotionResult((), 0.0, False)  # still usable
    with pytest.raises(ValueError, match="positive"):
        MotionDetector(MotionConfig(), (0, 720))


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_a_slow_fade_at_dusk_does_not_stick_as_motion(width: int, height: int) -> None:
    """25 % darker over 25 updates (5 s at 5 fps): too slow to trip the recalibration,
    fast enough that a plain running average lags behind in the bright areas."""
    camera = Camera(width, height, seed=4)
    detector = MotionDetector(MotionConfig(), (width, height))
    settle(detector, camera)
    during = [detector.update(camera.frame(gain=1.0 - 0.25 * i / 25)) for i in range(1, 26)]
    after = [detector.update(camera.frame(gain=0.75)) for _ in range(10)]
    assert sum(1 for r in during if r.boxes) <= 3, [r.changed for r in during]
    assert all(r.boxes == () for r in after), [r.changed for r in after]
    person = astronaut(height * 2 // 5)  # and motion is still found in the darker scene
    seen = walk(detector, camera, person, height // 3, width // 4, width // 2, 5, gain=0.75)
    assert all(any(contained(truth, b) > 0.9 for b in r.boxes) for r, truth in seen)


def shade(image: U8, light: npt.NDArray[np.float32]) -> U8:
    """The frame under a light field (one factor per column, 1 = unchanged)."""
    out: U8 = np.clip(image * light[None, :, None], 0, 255).astype(np.uint8)
    return out


def boxed_share(result: MotionResult, width: int, height: int) -> float:
    return sum(b.area for b in result.boxes) / (width * height)


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_a_clouds_shadow_over_half_the_scene_is_not_motion_and_a_person_in_it_is(width: int, height: int) -> None:
    """The left half 35 % darker within a second (5 updates): no global gain undoes that, and
    before the background was re-lit tile by tile, half the frame stayed "motion" for 3 s."""
    camera = Camera(width, height, seed=5)
    detector = MotionDetector(MotionConfig(), (width, height))
    settle(detector, camera)
    left = np.arange(width) < width // 2
    results = []
    for i in range(1, 26):
        light = np.where(left, 1.0 - 0.35 * min(1.0, i / 5), 1.0).astype(np.float32)
        results.append(detector.update(shade(camera.frame(), light)))
    shares = [boxed_share(r, width, height) for r in results]
    assert max(shares) <= 0.12, shares  # at most a band along the shadow's edge, never half the frame
    assert all(share <= 0.05 for share in shares[10:]), shares  # and little of it after 2 s
    person = astronaut(height * 2 // 5)  # someone walking in the shade is found
    shadow = np.where(left, 0.65, 1.0).astype(np.float32)
    for i in range(5):
        x = width // 10 + i * width // 40
        image = camera.frame((person, x, height // 3))
        result = detector.update(shade(image, shadow))
        truth = rect(person, x, height // 3)
        assert any(contained(truth, b) > 0.9 for b in result.boxes), (i, result.boxes)


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_a_lamp_on_one_side_dimming_is_not_motion(width: int, height: int) -> None:
    """40 % darker on the right, 0 % on the left, within a second: a gradient no single gain
    undoes (before: up to a fifth of the frame "moving", still some of it 7 s later)."""
    camera = Camera(width, height, seed=6)
    detector = MotionDetector(MotionConfig(), (width, height))
    settle(detector, camera)
    ramp = np.linspace(0.0, 1.0, width, dtype=np.float32)
    shares = []
    for i in range(1, 16):
        light = (1.0 - 0.4 * min(1.0, i / 5) * ramp).astype(np.float32)
        shares.append(boxed_share(detector.update(shade(camera.frame(), light)), width, height))
    assert max(shares) <= 0.08, shares
    assert all(share == 0.0 for share in shares[6:]), shares


def test_a_person_walking_by_does_not_relight_the_background() -> None:
    """Re-lighting is for light: the tiles a person covers change by no one factor, so her
    motion is reported whole while she walks (a large change, at 1280x720: 40 % of the height)."""
    width, height = 1280, 720
    camera = Camera(width, height, seed=7)
    detector = MotionDetector(MotionConfig(), (width, height))
    settle(detector, camera)
    person = astronaut(height * 3 // 5)
    seen = walk(detector, camera, person, height // 5, width // 8, width // 2, 8)
    assert all(any(contained(truth, b) > 0.9 for b in r.boxes) for r, truth in seen)
