"""The vehicle clip: a real motorcycle photo cut out, riding into a driveway built from real
photos and parking; the ground truth is right, and the real COCO detector sees it there."""

from __future__ import annotations

import itertools
import json
import statistics
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from app.config import DetectorConfig
from app.demo.clip import ClipInfo, synthesize, truth_path
from app.demo.photos import cut_out_motorcycle
from app.detect import Detector, ModelStore, open_detector
from app.domain import Box
from app.labels import GROUPS
from tests.support.clips import decode

ROOT = Path(__file__).resolve().parents[2]
Image = npt.NDArray[np.uint8]

VEHICLES = GROUPS["vehicle"]
FLOOR = 0.4  # the tracker's default floor for a vehicle class (app.objects): weaker ones are dropped
CONFIRM = 0.55  # the default median score that confirms a motorcycle track (app.objects)


def parked_frames(clip: ClipInfo) -> list[int]:
    """The frames at the end whose box is the final one: where it stands parked."""
    last = clip.boxes[-1]
    start = len(clip.boxes)
    while start > 0 and clip.boxes[start - 1] == last:
        start -= 1
    return list(range(start, clip.frames))


@pytest.fixture(scope="module")
def coco() -> Iterator[Detector]:
    store = ModelStore(ROOT / "models")
    if not store.is_present(store.spec("coco", "cpu")):
        pytest.fail("the coco model is not built: run `bash deploy/dev.sh setup`")
    det = open_detector(DetectorConfig(type="cpu", model="coco"), store)
    yield det
    det.close()


# -- the clip and its ground truth -----------------------------------------------------------


def test_the_vehicle_clip_decodes_with_its_ground_truth_beside_it(vehicle_clip: ClipInfo) -> None:
    assert vehicle_clip.kind == "vehicle"
    assert vehicle_clip.fps == 12
    assert vehicle_clip.size == (1280, 720)
    assert vehicle_clip.truth == truth_path(vehicle_clip.path)
    assert ClipInfo.load(vehicle_clip.truth) == vehicle_clip
    assert json.loads(vehicle_clip.truth.read_text())["kind"] == "vehicle"
    assert vehicle_clip.annexb is not None
    assert vehicle_clip.annexb.read_bytes().startswith(b"\x00\x00\x00\x01")
    frames = decode(vehicle_clip.path)
    assert len(frames) == vehicle_clip.frames == 120
    assert all(f.shape == (720, 1280, 3) for f in frames)


def test_it_rides_in_from_the_left_slows_down_and_parks(vehicle_clip: ClipInfo) -> None:
    boxes = vehicle_clip.boxes
    first = next(i for i, b in enumerate(boxes) if b is not None)
    assert first >= 6  # an empty driveway first (half a second or more)
    assert all(b is not None for b in boxes[first:])  # once in, it stays
    entering = [b for b in boxes[first:] if b is not None and b[0] == 0]
    assert len(entering) >= 5  # it comes in over the left edge...
    rights = [b[2] for b in entering]
    assert rights[0] < 0.1 * 1280
    assert all(b > a for a, b in itertools.pairwise(rights))  # ...growing in

    parked = parked_frames(vehicle_clip)
    assert parked[0] <= 0.56 * vehicle_clip.frames  # parked by ~55% of the clip...
    assert len(parked) >= 0.4 * vehicle_clip.frames  # ...and for the rest of it
    box = boxes[-1]
    assert box is not None
    x1, y1, x2, y2 = box
    assert 0.45 * 1280 <= (x1 + x2) / 2 <= 0.75 * 1280  # middle/right of the frame
    assert 0.45 <= (y2 - y1) / 720 <= 0.56  # about half the frame height
    assert abs(y2 - 0.9 * 720) <= 4  # standing on the ground at 90% of the height
    assert all(vehicle_clip.whole[i] for i in parked)

    # It brakes smoothly: the per-frame step never grows (±1 px of rounding) and fades to nothing.
    lefts = [b[0] for b in boxes[first:] if b is not None and b[0] > 0]
    steps = [b - a for a, b in itertools.pairwise(lefts)]
    assert all(s >= 0 for s in steps)
    assert all(b <= a + 1 for a, b in itertools.pairwise(steps))
    moving = [s for s in steps if s > 0]
    assert moving[0] >= 10 * moving[-1]


def test_the_cut_out_is_one_solid_blob_of_a_motorcycle() -> None:
    cut = cut_out_motorcycle()
    h, w = cut.alpha.shape[:2]
    assert cut.bgr.shape == (h, w, 3)
    # The bike spans roughly x 95-690, y 85-445 of the 741x500 photo.
    assert 540 <= w <= 600, (w, h)
    assert 340 <= h <= 380, (w, h)
    solid = (cut.alpha[..., 0] >= 0.5).astype(np.uint8)
    count, _ = cv2.connectedComponents(solid)
    assert count == 2  # one blob (and the background)
    # No holes: every patch of background reaches the edge of the cut-out's box.
    count, _, stats, _ = cv2.connectedComponentsWithStats(1 - solid, connectivity=4)
    for i in range(1, count):
        x, y, bw, bh = (int(v) for v in stats[i, :4])
        assert x == 0 or y == 0 or x + bw == w or y + bh == h, f"a hole at {x},{y} {bw}x{bh}"
    assert 0.4 <= float(solid.mean()) <= 0.65  # a side-on bike fills about half its box
    edge = (cut.alpha[..., 0] > 0.02) & (cut.alpha[..., 0] < 0.98)
    assert 0 < edge.sum() <= 0.1 * solid.sum()  # a soft edge, a pixel or two wide
    # And it is the red bike, not the wall: a good part of it is its red paint.
    b, g, r = (cut.bgr[..., c][solid > 0] for c in range(3))
    assert float(((r > 100) & (r > 1.5 * g) & (r > 1.5 * b)).mean()) >= 0.1


def test_frames_are_deterministic_and_right_to_left_mirrors_the_ride() -> None:
    def render(seed: int) -> list[tuple[Image, tuple[int, int, int, int] | None]]:
        frames = synthesize("vehicle", seconds=2.0, fps=6, size=(320, 180), seed=seed, direction="rtl")
        return [(f.image, f.box) for f in frames]

    first, again = render(3), render(3)
    assert len(first) == 12
    assert all(np.array_equal(a[0], b[0]) and a[1] == b[1] for a, b in zip(first, again, strict=True))
    boxes = [b for _, b in first]
    assert boxes[0] is None
    entering = next(b for b in boxes if b is not None)
    assert entering[2] == 320  # in over the right edge
    parked = boxes[-1]
    assert parked is not None
    assert (parked[0] + parked[2]) / 2 < 0.55 * 320  # parks left of centre


def test_clip_command_line_makes_a_vehicle_clip(tmp_path: Path) -> None:
    out = tmp_path / "v.mp4"
    done = subprocess.run(
        [sys.executable, "-m", "app.demo.clip", str(out), "--kind", "vehicle", "--seconds", "2", "--size", "320x180"],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "vehicle in" in done.stdout
    info = ClipInfo.load(truth_path(out))
    assert info.kind == "vehicle"
    assert info.frames == 24
    assert info.size == (320, 180)
    assert info.boxes[0] is None
    assert info.boxes[-1] is not None
    assert len(decode(out)) == 24


# -- the real detector -------------------------------------------------------------------------


def vehicles(detector: Detector, image: Image) -> list[tuple[str, float, Box]]:
    return [(d.label, d.score, d.box) for d in detector.detect(image, min_score=FLOOR).items if d.label in VEHICLES]


def test_the_coco_detector_sees_the_vehicle_parked_where_the_truth_says(vehicle_clip: ClipInfo, coco: Detector) -> None:
    frames = decode(vehicle_clip.path)
    parked = parked_frames(vehicle_clip)
    hits: list[int] = []
    best: list[float] = []
    for i in parked:
        box = vehicle_clip.boxes[i]
        assert box is not None
        truth = Box(*map(float, box))
        found = vehicles(coco, frames[i])
        for label, score, b in found:  # any vehicle it reports is this one
            assert truth.iou(b) >= 0.5, f"frame {i}: {label} {score:.2f} at {b}, it is at {box}"
        best.append(max((s for _, s, _ in found), default=0.0))
        if any(s >= CONFIRM and truth.iou(b) >= 0.5 for _, s, b in found):
            hits.append(i)
    assert len(hits) >= 0.8 * len(parked), (len(hits), len(parked), best)
    assert statistics.median(best) >= CONFIRM, best  # a track of it gets confirmed

    # The empty driveway before it arrives: no vehicle at all.
    for i in vehicle_clip.empty_frames():
        assert vehicles(coco, frames[i]) == [], f"frame {i}: the driveway is empty"
    # On its way in (all of it in view), wherever a vehicle is reported it is this one.
    for i in vehicle_clip.whole_frames():
        box = vehicle_clip.boxes[i]
        assert box is not None
        for label, score, b in vehicles(coco, frames[i]):
            assert Box(*map(float, box)).iou(b) >= 0.5, f"frame {i}: {label} {score:.2f} at {b}, it is at {box}"
