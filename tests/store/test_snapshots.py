"""Best snapshots: real JPEG files with the box drawn, replaced atomically, private."""

from __future__ import annotations

import sqlite3
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from app.domain import Box, Event
from app.store import Store
from app.store.db import DB_NAME
from app.store.snapshots import BOX_BGR, line_thickness, snapshot_name

Image = npt.NDArray[np.uint8]
NOW = 1_764_025_200.0
GREY = 128


def event(event_id: str) -> Event:
    return Event(event_id, "porch", "person", 0.7, 0.8, (0.1, 0.2, 0.5, 0.9), (), NOW, None, False)


def grey(width: int = 640, height: int = 480) -> Image:
    return np.full((height, width, 3), GREY, np.uint8)


def read(path: Path) -> Image:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert image is not None, f"{path} does not decode as an image"
    return np.asarray(image, dtype=np.uint8)


def is_box_colour(pixel: Image) -> bool:
    b, g, r = (int(v) for v in pixel)
    eb, eg, er = BOX_BGR
    return abs(b - eb) < 60 and abs(g - eg) < 60 and abs(r - er) < 60


def is_grey(pixel: Image) -> bool:
    return all(abs(int(v) - GREY) < 12 for v in pixel)


@pytest.fixture
def ev_store(tmp_path: Path) -> Iterator[Store]:
    store = Store(tmp_path / "store", retain_days=14, max_mb=64)
    store.save_event(event("e1"))
    yield store
    store.close()


def test_snapshot_is_a_private_jpeg_with_the_box_drawn(ev_store: Store) -> None:
    frame = grey()
    box = Box(100, 120, 300, 400)
    path = ev_store.save_snapshot("e1", frame, box, "person", 0.87)
    assert path is not None
    assert path.parent == ev_store.root / "snapshots"
    assert path.read_bytes()[:3] == b"\xff\xd8\xff"  # JPEG, whatever the extension
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ev_store.snapshot_path("e1") == path
    assert np.all(frame == GREY), "the caller's frame was drawn on"

    image = read(path)
    assert image.shape == (480, 640, 3)
    mid_y = (120 + 400) // 2
    mid_x = (100 + 300) // 2
    for x, y in ((100, mid_y), (300, mid_y), (mid_x, 400)):  # left, right, bottom edges
        assert is_box_colour(image[y, x]), (x, y, image[y, x])
    t = line_thickness(640, 480)
    for x, y in ((100 - t - 4, mid_y), (100 + t + 4, mid_y), (mid_x, mid_y), (mid_x, 400 + t + 4)):
        assert is_grey(image[y, x]), (x, y, image[y, x])
    # the label sits on a filled band in the box colour just above the box
    band = image[120 - 2 * t - 12 : 120 - t, 100:160]
    assert np.mean([is_box_colour(p) for p in band.reshape(-1, 3)]) > 0.5

    with sqlite3.connect(ev_store.root / DB_NAME) as conn:
        size = conn.execute("SELECT size FROM snapshots WHERE event_id = 'e1'").fetchone()[0]
    assert size == path.stat().st_size


def test_a_new_best_snapshot_replaces_the_old_one(ev_store: Store) -> None:
    first = ev_store.save_snapshot("e1", grey(), Box(50, 50, 150, 150), "person", 0.6)
    second = ev_store.save_snapshot("e1", grey(), Box(400, 200, 600, 450), "person", 0.9)
    assert first is not None
    assert first == second
    assert sorted(p.name for p in (ev_store.root / "snapshots").iterdir()) == [first.name]  # no temporary left
    image = read(first)
    assert is_box_colour(image[(200 + 450) // 2, 400])  # the new box
    assert is_grey(image[100, 50])  # the old box is gone


def test_replacement_is_atomic_for_a_reader(ev_store: Store) -> None:
    rng = np.random.default_rng(5)
    frames = [rng.integers(0, 256, (360, 480, 3), dtype=np.uint8) for _ in range(4)]
    path = ev_store.save_snapshot("e1", frames[0], Box(10, 10, 100, 100), "person", 0.5)
    assert path is not None
    sizes = {path.stat().st_size}
    stop = threading.Event()
    torn: list[int] = []
    reads = [0]

    def reader() -> None:
        while not stop.is_set():
            data = path.read_bytes()
            reads[0] += 1
            decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
            if decoded is None or not data.endswith(b"\xff\xd9"):
                torn.append(len(data))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(60):
            saved = ev_store.save_snapshot("e1", frames[i % 4], Box(10 + i, 10, 100 + i, 100), "person", 0.5)
            assert saved == path
            sizes.add(path.stat().st_size)
    finally:
        stop.set()
        thread.join()
    assert reads[0] > 10
    assert torn == [], f"a reader saw {len(torn)} partial files"
    assert len(sizes) > 1  # the files did change under the reader


def test_snapshot_for_an_unknown_event_is_not_kept(ev_store: Store) -> None:
    assert ev_store.save_snapshot("nope", grey(), Box(1, 1, 20, 20), "person", 0.5) is None
    assert ev_store.failures() == {"save_snapshot:unknown_event": 1}
    assert list((ev_store.root / "snapshots").iterdir()) == []
    assert ev_store.snapshot_path("nope") is None


def test_event_ids_cannot_escape_the_snapshot_folder(ev_store: Store) -> None:
    evil = "../../../etc/cron.d/x"
    ev_store.save_event(event(evil))
    path = ev_store.save_snapshot(evil, grey(), Box(1, 1, 20, 20), "person", 0.5)
    assert path is not None
    assert path.parent == ev_store.root / "snapshots"
    assert "/" not in path.name
    assert not path.name.startswith(".")
    assert snapshot_name(evil) != snapshot_name("______etc_cron_d_x")  # a hash keeps look-alikes apart
    assert snapshot_name("1764025200123-porch-7") == "1764025200123-porch-7.jpg"


def test_grey_frames_and_odd_boxes(ev_store: Store) -> None:
    mono = np.full((100, 120), GREY, np.uint8)
    path = ev_store.save_snapshot("e1", mono, Box(-50, -50, 500, 500), "persön", 0.5)  # clipped, non-ASCII
    assert path is not None
    assert read(path).shape == (100, 120, 3)


def test_a_bad_image_is_a_caller_error(ev_store: Store) -> None:
    with pytest.raises(ValueError, match="uint8"):
        ev_store.save_snapshot("e1", np.zeros((10, 10, 3), np.float32), Box(1, 1, 5, 5), "person", 0.5)
    with pytest.raises(ValueError, match="shape"):
        ev_store.save_snapshot("e1", np.zeros((10, 10, 4), np.uint8), Box(1, 1, 5, 5), "person", 0.5)
    assert ev_store.snapshot_path("e1") is None
