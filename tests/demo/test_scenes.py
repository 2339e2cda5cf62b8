"""The identity benchmark's scenes (app.demo.scenes): their truth is right by construction and
stable, and the garage and arrival scenes are clip.py's clips, frame for frame."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from app.demo import clip
from app.demo.scenes import SCENES, SceneInfo, Seen, make_scene, synthesize_scene, truth_path
from app.demo.stage import Layer, Sprite, play
from app.demo.stage import Path as Motion
from tests.support.clips import decode

ROOT = Path(__file__).resolve().parents[2]
SMALL = (320, 180)
Image = npt.NDArray[np.uint8]


def scene(name: str, fps: int, seed: int = 0) -> list[tuple[Image, tuple[Seen, ...]]]:
    return list(synthesize_scene(name, fps=fps, size=SMALL, seed=seed))


def of(seen: tuple[Seen, ...], oid: int) -> Seen | None:
    return next((s for s in seen if s.id == oid), None)


# -- clip.py after the split ------------------------------------------------------------------


@pytest.mark.parametrize(("name", "kind", "seconds"), [("garage", "person", 20.0), ("arrival", "vehicle", 12.0)])
def test_the_garage_and_arrival_scenes_are_clip_pys_clips(name: str, kind: clip.Kind, seconds: float) -> None:
    frames = scene(name, fps=2, seed=4)
    reference = list(clip.synthesize(kind, seconds=seconds, fps=2, size=SMALL, seed=4))
    assert len(frames) == len(reference)
    for (image, seen), ref in zip(frames, reference, strict=True):
        assert np.array_equal(image, ref.image)
        boxes = [s.box for s in seen if s.id == (2 if name == "garage" else 1)]
        assert boxes == ([] if ref.box is None else [ref.box])


# -- the stage ----------------------------------------------------------------------------------


def square(side: int) -> Sprite:
    return Sprite.of(np.full((side, side, 3), 200.0, np.float32), np.ones((side, side, 1), np.float32))


def test_nearer_layers_hide_farther_ones_and_the_frame_edge_cuts() -> None:
    frame = np.zeros((100, 100, 3), np.float32)
    far = Layer(square(20), 10, 10, depth=2.0, id=1)
    near = Layer(square(20), 20, 10, depth=1.0, id=2)  # covers the right half of `far`
    edge = Layer(square(20), 90, 50, depth=3.0, id=3)  # half of it outside the frame
    seen = play(frame, [near, edge, far])  # in any order: painted by depth
    assert seen == (
        Seen(1, (10, 10, 30, 30), 0.5),
        Seen(2, (20, 10, 40, 30), 1.0),
        Seen(3, (90, 50, 100, 70), 0.5),
    )
    assert play(np.zeros((100, 100, 3), np.float32), [Layer(square(20), 100, 0, 1.0, id=4)]) == ()


def test_a_path_keeps_its_pace_between_corners_and_eases_into_a_stop() -> None:
    path = Motion([(0.0, 0.0), (4.0, 400.0), (8.0, 400.0)], ease=1.0)
    assert path.at(2.0) == pytest.approx(200.0)
    assert path.speed(2.0) == pytest.approx(100.0)
    assert path.at(6.0) == pytest.approx(400.0)
    assert path.speed(6.0) == 0.0
    steps = [path.at(3.4 + k * 0.1) for k in range(13)]  # through the stop at 4 s
    speeds = [b - a for a, b in itertools.pairwise(steps)]
    assert all(s >= 0 for s in speeds)
    assert all(b <= a + 1e-9 for a, b in itertools.pairwise(speeds))


# -- the scenes ---------------------------------------------------------------------------------


def test_scenes_are_deterministic_and_the_seed_varies_noise_and_leaves_not_where_objects_are() -> None:
    first, again, other = scene("crossing", fps=3), scene("crossing", fps=3), scene("crossing", fps=3, seed=1)
    assert all(np.array_equal(a[0], b[0]) and a[1] == b[1] for a, b in zip(first, again, strict=True))
    assert [[(s.id, s.box) for s in seen] for _, seen in first] == [[(s.id, s.box) for s in seen] for _, seen in other]
    assert not np.array_equal(first[10][0], other[10][0])
    # Without seeded props (hedges), the truth does not depend on the seed at all.
    assert [seen for _, seen in scene("visits", fps=1)] == [seen for _, seen in scene("visits", fps=1, seed=9)]


def test_the_crossing_hides_b_behind_a_for_about_a_second() -> None:
    fps = 12
    frames = [seen for _, seen in scene("crossing", fps=fps)]
    middle = round(6.1 * fps)
    a, b = of(frames[middle], 1), of(frames[middle], 2)
    assert a is not None
    assert b is not None
    assert a.visible >= 0.95
    assert b.visible < 0.1
    hidden = [i for i, seen in enumerate(frames) if (s := of(seen, 2)) is not None and s.visible < 0.1]
    around = [i for i in hidden if abs(i - middle) <= 2 * fps]
    assert 0.75 * fps <= len(around) <= 1.5 * fps
    assert around == list(range(around[0], around[-1] + 1))  # one spell
    # Apart, each shows (nearly) whole: B loses only the strip the low hedge hides of her waist.
    assert all(s.visible >= 0.9 for s in frames[round(2.5 * fps)])
    assert a.box[3] == SMALL[1]
    assert abs(b.box[3] - 0.92 * SMALL[1]) <= 3


def test_the_garage_motorcycle_is_parked_and_dips_while_she_passes() -> None:
    frames = [seen for _, seen in scene("garage", fps=3)]
    bikes = [of(seen, 1) for seen in frames]
    assert all(b is not None for b in bikes)
    boxes = {b.box for b in bikes if b is not None}
    assert len(boxes) == 1  # it never moves
    visible = [b.visible for b in bikes if b is not None]
    # nobody in front of it at the start and end
    assert visible[0] == 1.0
    assert visible[-1] == 1.0
    assert min(visible) < 0.85
    passing = [i for i, seen in enumerate(frames) if of(seen, 2) is not None]
    assert visible.index(min(visible)) in passing
    (x1, y1, x2, y2), (w, h) = boxes.pop(), SMALL
    assert 0.1 * w <= x1
    assert x2 <= 0.95 * w
    assert (x2 - x1) >= 0.7 * w
    assert (y2 - y1) >= 0.8 * h


def test_visits_are_three_separate_passes_with_an_empty_driveway_between() -> None:
    fps = 4
    frames = [seen for _, seen in scene("visits", fps=fps)]
    runs = [[i for i, seen in enumerate(frames) if of(seen, oid) is not None] for oid in (1, 2, 3)]
    for run in runs:
        assert run == list(range(run[0], run[-1] + 1))
        assert 5 * fps <= len(run) <= 6.5 * fps
    for before, after in itertools.pairwise(runs):
        assert 2.5 * fps <= after[0] - before[-1] - 1 <= 3.5 * fps
    assert all(len(seen) <= 1 for seen in frames)
    centres = [(s.box[0] + s.box[2]) / 2 for seen in frames if (s := of(seen, 2)) is not None]
    assert centres[0] > centres[-1]  # the second pass is right to left


def test_linger_stands_at_the_middle_for_eight_seconds() -> None:
    fps = 4
    frames = [seen for _, seen in scene("linger", fps=fps)]
    w = SMALL[0]
    centres = [((s.box[0] + s.box[2]) / 2 if (s := of(seen, 1)) else None) for seen in frames]
    standing = [i for i, c in enumerate(centres) if c is not None and abs(c - w / 2) <= 0.01 * w]
    assert len(standing) >= 7.5 * fps
    # in from off-screen, and gone again
    assert centres[0] is None
    assert centres[-1] is None


def test_edge_parked_motorcycle_stays_cut_by_the_edge() -> None:
    frames = [seen for _, seen in scene("edge_parked", fps=3)]
    bikes = [of(seen, 1) for seen in frames]
    boxes = {b.box for b in bikes if b is not None}
    assert len(boxes) == 1
    assert len(bikes) == len(frames)
    assert boxes.pop()[2] == SMALL[0]
    visible = [b.visible for b in bikes if b is not None]
    assert 0.55 <= visible[0] <= 0.8  # ~35% of it is outside the frame
    assert min(visible) < visible[0] - 0.1  # she passes in front of it


def test_distant_person_is_small_at_the_foot_of_the_wall() -> None:
    frames = [seen for _, seen in scene("distant", fps=2)]
    her = [s for seen in frames if (s := of(seen, 1)) is not None]
    whole = [s for s in her if s.box[0] > 0 and s.box[2] < SMALL[0]]
    assert whole
    for s in whole:
        assert abs((s.box[3] - s.box[1]) - 0.22 * SMALL[1]) <= 3
        assert abs(s.box[3] - 0.47 * SMALL[1]) <= 3
        assert s.visible >= 0.8  # a low hedge hides her waist


def test_wind_has_no_objects_but_moving_leaves_and_changing_light() -> None:
    fps = 4
    frames = scene("wind", fps=fps)
    assert all(seen == () for _, seen in frames)
    ground = [float(image[int(0.6 * SMALL[1]) :, : SMALL[0] // 2].mean()) for image, _ in frames]
    assert ground[12 * fps] < 0.8 * ground[1 * fps]  # the slow fade (~30%)
    assert ground[14 * fps] < 0.88 * ground[12 * fps]  # the sudden step (~20%)
    assert ground[17 * fps] > ground[15 * fps]  # ...and back
    top = [image[: int(0.15 * SMALL[1])].astype(np.float32) for image, _ in frames]
    moved = [float(np.abs(b - a).mean()) for a, b in itertools.pairwise(top[: 3 * fps])]
    assert max(moved) > 4.0  # more than the noise (σ 4 gives ~3.2 between two frames)


def test_make_scene_writes_the_video_annexb_and_truth_that_loads_back(tmp_path: Path) -> None:
    info = make_scene("edge_parked", tmp_path / "e.mp4", fps=2, size=SMALL, annexb=tmp_path / "e.h264")
    assert info.truth == truth_path(info.path) == tmp_path / "e.scene.json"
    assert SceneInfo.load(info.truth) == info
    assert [(o.id, o.label, o.role) for o in info.objects] == [(1, "motorcycle", "parked"), (2, "person", "arrival")]
    assert len(info.frames) == 40
    assert info.seconds == 20.0
    assert info.annexb is not None
    assert info.annexb.read_bytes().startswith(b"\x00\x00\x00\x01")
    assert len(decode(info.path)) == 40
    assert len(decode(info.annexb)) == 40


def test_the_command_line_makes_the_scenes_asked_for(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "app.demo.scenes", str(tmp_path), "--scene", "wind", "--fps", "2", "--size", "160x96"],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("\n") == 1
    assert "wind" in done.stdout
    info = SceneInfo.load(tmp_path / "wind.scene.json")
    assert info.objects == ()
    assert {d.what for d in info.distractors} >= {"wheelie bin", "bin bag"}
    assert len(decode(tmp_path / "wind.mp4")) == len(info.frames) == 40
    assert SCENES == ("visits", "linger", "crossing", "garage", "arrival", "edge_parked", "distant", "wind", "bin_day")
