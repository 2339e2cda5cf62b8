"""The per-frame path on its own: a camera that changes resolution keeps working; the object
filter decides what reaches the tracker and how sure each class must be."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import pytest

from app.analysis.pipeline import CameraPipeline, _crop, object_counts
from app.analysis.regions import to_frame, whole_frame
from app.config import CameraConfig
from app.detect.base import Image
from app.detect.engine import TfliteDetector
from app.domain import Box, Detection, Detections, Frame
from app.objects import WEAK_MARGIN, ObjectFilter
from tests.conftest import photo


def test_a_camera_that_comes_back_at_another_resolution_keeps_being_analysed(detector: TfliteDetector) -> None:
    def detect(images: Sequence[Image], min_score: float) -> list[Detections]:
        return [detector.detect(image, min_score) for image in images]

    pipeline = CameraPipeline("gate", CameraConfig(source="x.mp4"), detect, 300)
    scene = photo("astronaut")
    found_after = []
    for i, size in enumerate([(640, 360)] * 3 + [(1280, 720)] * 3):
        image = np.ascontiguousarray(cv2.resize(scene, size), dtype=np.uint8)
        result = pipeline.process(Frame("gate", i + 1, image, float(i), i * 0.2))
        assert result.detector_ok
        if size == (1280, 720):
            # in the new frame's pixels: inside it, or a square padded past its top and bottom
            assert all(0 <= r.x1 < r.x2 <= 1280 and -280 <= r.y1 < r.y2 <= 1000 for r in result.regions)
            found_after += [d for d in result.detections if d.label == "person"]
    # The first frame at the new size is looked at whole, and she is found in it.
    assert found_after
    assert max(d.box.x2 for d in found_after) > 640


def test_the_object_filter_decides_what_is_asked_for_kept_and_confirmed() -> None:
    """A scripted detector: the pipeline asks it for the lowest class floor less the weak margin,
    keeps tracked classes at their own min_score (those a little under it apart, as weak), and
    confirms each track at its own class's threshold. The person walks (something that never
    moves needs more, see test_track); the rest stands."""
    objects = ObjectFilter.build(["person", "bird", "car"], {"person": (0.3, 0.55)})
    asked: list[float] = []
    calls = 0
    rest = (
        Detection("bird", 0.6, Box(200, 20, 230, 40)),  # over bird's floor (0.5), under its threshold (0.7)
        Detection("bird", 0.45, Box(150, 250, 170, 270)),  # under bird's floor: dropped
        Detection("chair", 0.95, Box(100, 200, 160, 290)),  # not tracked
        Detection("car", 0.35, Box(10, 230, 90, 290)),  # under the car's floor (0.4)
        Detection("car", 0.5, Box(200, 200, 290, 260)),
        # The same van called a truck, more surely: trucks are not tracked here, so it must not
        # suppress the car (duplicates merge within the vehicle group).
        Detection("truck", 0.7, Box(201, 200, 290, 261)),
    )

    def detect(images: Sequence[Image], min_score: float) -> list[Detections]:
        nonlocal calls
        asked.append(min_score)
        calls += 1
        walker = Detection("person", 0.6, Box(20 + 12 * calls, 40, 80 + 12 * calls, 200))
        return [Detections((walker, *rest), 1.0) for _ in images]

    pipeline = CameraPipeline("yard", CameraConfig(source="x.mp4"), detect, 300, objects=objects, full_frame_every=0)
    image = np.zeros((300, 300, 3), np.uint8)
    for i in range(5):
        result = pipeline.process(Frame("yard", i + 1, image, float(i), i * 0.2))
    assert asked
    assert all(a == pytest.approx(0.3 - WEAK_MARGIN) for a in asked)  # the lowest floor less the margin
    assert sorted((d.label, d.score) for d in result.detections) == [("bird", 0.6), ("car", 0.5), ("person", 0.6)]
    assert sorted((d.label, d.score) for d in result.weak) == [("bird", 0.45), ("car", 0.35)]
    # person: 0.6 >= 0.55; bird: 0.6 < 0.7; car: 0.5 < 0.55
    assert {t.label: t.confirmed for t in result.tracks} == {"person": True, "bird": False, "car": False}


def test_the_default_filter_tracks_the_home_classes_only() -> None:
    def detect(images: Sequence[Image], _min_score: float) -> list[Detections]:
        dets = (Detection("dog", 0.8, Box(10, 10, 60, 60)), Detection("cup", 0.8, Box(100, 100, 120, 120)))
        return [Detections(dets, 1.0) for _ in images]

    pipeline = CameraPipeline("yard", CameraConfig(source="x.mp4"), detect, 300)
    result = pipeline.process(Frame("yard", 1, np.zeros((300, 300, 3), np.uint8), 0.0, 0.0))
    assert [d.label for d in result.detections] == ["dog"]


def test_a_crop_past_the_frame_is_shrunk_then_padded_and_its_boxes_map_back() -> None:
    frame = np.full((720, 1280, 3), 200, np.uint8)
    frame[100:200, 300:500] = 10
    (region,) = whole_frame((1280, 720))
    crop = _crop(frame, region, 416)
    assert crop.shape == (416, 416, 3)
    # padding, frame
    assert tuple(crop[0, 0]) == (114, 114, 114)
    assert tuple(crop[208, 208]) == (200, 200, 200)
    scale = region.width / crop.shape[1]
    # the dark patch as the detector would report it in the crop's pixels
    found = Detection("car", 0.9, Box(300 / scale, 380 / scale, 500 / scale, 480 / scale))
    (back,) = to_frame([found], region, (1280, 720), scale=scale)
    assert (back.box.x1, back.box.y1, back.box.x2, back.box.y2) == pytest.approx((300, 100, 500, 200))
    assert tuple(crop[round((150 + 280) / scale), round(400 / scale)]) == (10, 10, 10)  # the patch's centre


def test_a_parked_car_is_looked_at_now_and_then_and_at_once_when_it_drives_off() -> None:
    """A scripted detector that finds the dark car wherever a crop shows it. Re-detecting a
    car that stands still on every frame would cost an invoke a frame for nothing."""
    calls: list[int] = []

    def detect(images: Sequence[Image], _min_score: float) -> list[Detections]:
        calls[-1] += len(images)
        out = []
        for image in images:
            ys, xs = np.nonzero(image[:, :, 0] < 50)
            found = () if not len(xs) else (Detection("car", 0.8, Box(xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)),)
            out.append(Detections(found, 1.0))
        return out

    pipeline = CameraPipeline("drive", CameraConfig(source="x.mp4"), detect, 300)
    body = np.random.default_rng(7).integers(0, 45, (150, 300, 3), dtype=np.uint8)  # dark, with texture
    ids: set[str] = set()
    counted: list[int] = []
    looked: list[bool] = []
    for i in range(300):  # 60 s at 5 fps
        t = i * 0.2
        image = np.full((720, 1280, 3), 120, np.uint8)
        x = 300 + int(100 * min(max(t - 50.0, 0.0), 5.0))  # parked; at 50 s it drives 500 px to the right
        image[400:550, x : x + 300] = body
        if 30.0 <= t < 34.0:  # someone walks past in front of it
            px = 100 + int(150 * (t - 30.0))
            image[350:600, px : px + 60] = 230
        calls.append(0)
        result = pipeline.process(Frame("drive", i + 1, image, 1_764_000_000.0 + t, t))
        counted.append(dict(object_counts(result)).get("car", 0))
        ids |= {tr.id for tr in result.tracks if tr.confirmed}
        if 50.1 < t < 50.5:  # within two frames of moving off, it is looked at
            looked.append(any(r.x1 <= x and r.x2 >= x + 300 and r.y1 <= 400 and r.y2 >= 550 for r in result.regions))
        if 50.5 < t < 50.7:  # and followed as it leaves its spot
            (car,) = result.tracks
            assert car.box.x1 > 305, car
            assert not car.stationary, car
    assert len(looked) == 2, looked
    assert any(looked), looked
    assert len(ids) == 1  # one car, never lost, the same when it drives off
    first = counted.index(1)
    assert first <= 10, counted
    assert set(counted[first:]) == {1}, counted  # counted from its confirmation on, all along
    assert sum(calls[:50]) >= 45  # looked at on every frame while it may still be moving (first 10 s)
    # Stationary from 10 s on: the whole-frame look every 10 s sees it, nothing more while nothing moves.
    assert sum(calls[75:150]) <= 3, calls[75:150]
    assert sum(calls[150:170]) <= 20 + 3, calls[150:170]  # the passer-by's crop, not the car's as well
    assert all(calls[251:276]), calls[251:276]  # driving: on every frame
