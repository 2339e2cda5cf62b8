"""latest.jpg rendering: boxes of confirmed tracks drawn, one encode per frame however many ask."""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import pytest

import app.api.frames as frames
from app.api.frames import LatestJpeg, render
from app.domain import Box, Frame, Track
from app.store.snapshots import BOX_BGR
from tests.conftest import photo


def frame(seq: int, image: np.ndarray | None = None) -> Frame:
    picture = photo("astronaut") if image is None else image
    return Frame("porch", seq, picture, 1000.0 + seq, 50.0 + seq)


def track(box: Box, *, confirmed: bool = True) -> Track:
    return Track("porch-1", "person", 0.9, 0.9, box, 0.0, 1.0, 5, confirmed, False)


def decode(jpeg: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return image


def near_box_colour(image: np.ndarray, x: int, y: int) -> bool:
    return bool(np.abs(image[y, x].astype(int) - np.array(BOX_BGR)).max() < 60)


def test_confirmed_tracks_are_drawn_and_unconfirmed_ones_are_not() -> None:
    box = Box(100, 150, 300, 450)
    drawn = decode(render(frame(1), (track(box),)))
    plain = decode(render(frame(1), (track(box, confirmed=False),)))
    assert drawn.shape == (512, 512, 3)
    # bottom and left edges
    assert near_box_colour(drawn, 200, 450)
    assert near_box_colour(drawn, 100, 300)
    assert not near_box_colour(plain, 200, 450)


def test_big_frames_are_scaled_down_with_their_boxes() -> None:
    wide = cv2.resize(photo("astronaut"), (2560, 1440))
    image = decode(render(frame(1, wide), (track(Box(1000, 400, 1600, 1400)),)))
    assert image.shape[1] == frames.MAX_WIDTH
    assert image.shape[0] == 720
    assert near_box_colour(image, 650, 700)  # the bottom edge: x 1300 * 0.5, y 1400 * 0.5


def count_renders(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The seq of every frame `render` encodes from now on (the real encoder still runs)."""
    calls: list[int] = []
    real_render = frames.render

    def counting(f: Frame, tracks: tuple[Track, ...]) -> bytes:
        calls.append(f.seq)
        return real_render(f, tracks)

    monkeypatch.setattr(frames, "render", counting)
    return calls


def test_one_encode_per_frame_for_many_concurrent_viewers(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = count_renders(monkeypatch)
    current = {"frame": frame(1)}
    latest = LatestJpeg(lambda camera: (current["frame"], ()) if camera == "porch" else None, min_interval_s=0)
    assert latest.cached("porch") is None
    results: list[bytes | None] = []
    threads = [threading.Thread(target=lambda: results.append(latest.get("porch"))) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [1]
    assert len({id(r) for r in results}) == 1
    assert results[0] is not None
    assert latest.cached("porch") is results[0]
    current["frame"] = frame(2, np.ascontiguousarray(photo("astronaut")[:, ::-1]))
    assert latest.cached("porch") is None  # a new frame is never answered from the old one
    assert latest.get("porch") != results[0]
    assert calls == [1, 2]
    assert latest.get("garage") is None


def test_encodes_are_rate_limited_per_camera(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = count_renders(monkeypatch)
    current = {"frame": frame(1)}
    latest = LatestJpeg(lambda _camera: (current["frame"], ()), min_interval_s=0.3)
    first = latest.get("porch")
    current["frame"] = frame(2, np.ascontiguousarray(photo("astronaut")[::-1]))
    # within 0.3 s: the last encode
    assert latest.cached("porch") is first
    assert latest.get("porch") is first
    time.sleep(0.35)  # scenario: waiting out the 0.3 s rate limit on purpose (LatestJpeg takes no clock)
    assert latest.cached("porch") is None
    assert latest.get("porch") != first
    assert calls == [1, 2]
