"""Scenes of several objects with per-frame ground truth: the identity benchmark's clips.

Where `app.demo.clip` makes clips of one object, a scene holds a cast: people and a
motorcycle cut out of real photos (the same cut-outs as clip.py's), walking, standing,
crossing, riding in or parked, and things that are not objects (a hedge in the wind, a
wheelie bin, a bin bag). The truth is known by construction: which objects there are
(`SceneObject`: an `arrival` comes into view and should give one alert; a `parked` one is
in view from the first frame, never moves and should give none), and in every frame each
object's whole box and how much of it is visible (`Seen`), computed from the mattes the
frame was painted with, nearer objects hiding farther ones.

    visits       26 s  she walks through three times (l→r, r→l, l→r), ~3 s apart: 3 arrivals
    linger       18 s  she walks in, stands at the middle for 8 s, walks off: 1 arrival
    crossing     12 s  A (near) l→r, B (farther, blue) r→l; A hides B at the crossing: 2 arrivals
    garage       20 s  clip.py's demo clip: she walks past the garage's parked motorcycle
    arrival      12 s  clip.py's vehicle clip: a motorcycle rides in and parks: 1 arrival
    edge_parked  20 s  a motorcycle parked at the right edge, 35% out of view; she walks past
    distant      14 s  a small person (22% of the frame height) along the foot of the wall
    wind         20 s  nobody: a hedge and a shrub in gusts, light fading and stepping, a bin, a bag
    bin_day      20 s  the wind scene with two passers-by, who make the bin and the bag be looked at

The frames get clip.py's sensor noise and are encoded as clip.py's (H.264, `app.demo.video`);
`NAME.scene.json` goes beside `NAME.mp4`. Frames and truth depend only on the arguments.

    python -m app.demo.scenes OUT_DIR [--scene NAME ...] [--fps 12] [--size 1280x720] [--seed 0] [--annexb]

Development only: scikit-image and PyAV are imported only when a scene is made.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.demo.compose import ClipError, Image, SensorNoise, beside, frame_size, write_truth
from app.demo.scripts import SCRIPTS, Script, script
from app.demo.stage import Distractor, Role, SceneObject, Seen, play
from app.demo.video import write_video

__all__ = [
    "SCENES",
    "SCENE_VERSION",
    "Distractor",
    "Role",
    "SceneInfo",
    "SceneObject",
    "Seen",
    "main",
    "make_scene",
    "synthesize_scene",
    "truth_path",
]

SCENES: tuple[str, ...] = tuple(SCRIPTS)  # see the table above
SCENE_VERSION = 1
ROLES: tuple[Role, ...] = ("arrival", "parked")


@dataclass(frozen=True, slots=True)
class SceneInfo:
    """A scene on disk and its ground truth."""

    name: str
    path: Path  # the MP4
    truth: Path  # NAME.scene.json beside it
    annexb: Path | None  # the same stream as raw Annex-B H.264, when asked for
    fps: int
    size: tuple[int, int]  # width, height
    seed: int
    objects: tuple[SceneObject, ...]
    distractors: tuple[Distractor, ...]
    frames: tuple[tuple[Seen, ...], ...]  # per frame, the objects with any part inside it, by id

    @property
    def seconds(self) -> float:
        return len(self.frames) / self.fps

    @classmethod
    def load(cls, truth: Path) -> SceneInfo:
        """Read the ground truth written beside a scene (`NAME.scene.json`)."""
        data = json.loads(Path(truth).read_text())
        if data.get("version") != SCENE_VERSION or data.get("format") != "edgewatch-scene":
            raise ClipError(f"{truth}: not a scene truth file of version {SCENE_VERSION}")
        objects = []
        for o in data["objects"]:
            role = next((r for r in ROLES if r == o["role"]), None)
            if role is None:
                raise ClipError(f"{truth}: object {o['id']} has an unknown role {o['role']!r}")
            objects.append(SceneObject(id=int(o["id"]), label=str(o["label"]), role=role))
        annexb = data.get("annexb")
        return cls(
            name=str(data["name"]),
            path=Path(truth).parent / data["video"],
            truth=Path(truth),
            annexb=None if annexb is None else Path(truth).parent / annexb,
            fps=int(data["fps"]),
            size=(int(data["size"][0]), int(data["size"][1])),
            seed=int(data["seed"]),
            objects=tuple(objects),
            distractors=tuple(Distractor(what=str(d["what"]), box=_box(d["box"])) for d in data["distractors"]),
            frames=tuple(
                tuple(Seen(id=int(s["id"]), box=_box(s["box"]), visible=float(s["visible"])) for s in frame)
                for frame in data["frames"]
            ),
        )


def _box(values: Sequence[Any]) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = (int(v) for v in values)
    return x1, y1, x2, y2


def truth_path(video: Path) -> Path:
    """Where the ground truth of `video` goes: `visits.mp4` -> `visits.scene.json`."""
    return video.with_name(video.stem + ".scene.json")


def _check(name: str, fps: int, size: tuple[int, int]) -> None:
    if name not in SCENES:
        raise ClipError(f"no scene {name!r} (the scenes: {', '.join(SCENES)})")
    if fps < 1 or size[0] < 64 or size[1] < 64:
        raise ClipError(f"a scene needs 1 fps or more and 64x64 or more (got {fps} fps, {size[0]}x{size[1]})")


def _frames(plan: Script, size: tuple[int, int], seed: int) -> Iterator[tuple[Image, tuple[Seen, ...]]]:
    # The noise is drawn as clip.py draws it (same generator, same order), so the `garage` and
    # `arrival` scenes are its clips frame for frame.
    rng = np.random.default_rng(seed)
    noise = SensorNoise(rng, size)
    for i in range(plan.count):
        frame = plan.background.copy()
        seen = play(frame, plan.layers(i))
        frame *= plan.light(i)
        noise.add(frame, rng)
        np.clip(frame, 0.0, 255.0, out=frame)
        yield frame.astype(np.uint8), seen


def synthesize_scene(
    name: str, *, fps: int = 12, size: tuple[int, int] = (1280, 720), seed: int = 0
) -> Iterator[tuple[Image, tuple[Seen, ...]]]:
    """Render the scene's frames (BGR, uint8) with the objects seen in each; nothing is written to disk."""
    _check(name, fps, size)
    return _frames(script(name, fps, size, seed), size, seed)


def make_scene(
    name: str,
    path: Path,
    *,
    fps: int = 12,
    size: tuple[int, int] = (1280, 720),
    seed: int = 0,
    annexb: Path | None = None,
) -> SceneInfo:
    """Write the scene to `path` (MP4), its truth beside it (`NAME.scene.json`) and optionally an Annex-B copy."""
    _check(name, fps, size)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    plan = script(name, fps, size, seed)
    frames: list[tuple[Seen, ...]] = []

    def images() -> Iterator[Image]:
        for image, seen in _frames(plan, size, seed):
            frames.append(seen)
            yield image

    annexb = write_video(images(), path, fps, size, annexb)
    info = SceneInfo(
        name=name,
        path=path,
        truth=truth_path(path),
        annexb=annexb,
        fps=fps,
        size=size,
        seed=seed,
        objects=plan.objects,
        distractors=plan.distractors,
        frames=tuple(frames),
    )
    _write_truth(info)
    return info


def _write_truth(info: SceneInfo) -> None:
    annexb = None if info.annexb is None else beside(info.annexb, info.truth)
    data: dict[str, Any] = {
        "format": "edgewatch-scene",
        "version": SCENE_VERSION,
        "name": info.name,
        "video": info.path.name,
        "annexb": annexb,
        "fps": info.fps,
        "size": list(info.size),
        "seed": info.seed,
        "frame_count": len(info.frames),
        "box_format": "x1,y1,x2,y2 pixels, x2/y2 exclusive: the whole object (as if nothing hid it) in the frame",
        "visible": "fraction of the object's whole matte (alpha >= 0.5) in the frame and not hidden by a nearer one",
        "objects": [{"id": o.id, "label": o.label, "role": o.role} for o in info.objects],
        "distractors": [{"what": d.what, "box": list(d.box)} for d in info.distractors],
        "frames": [[{"id": s.id, "box": list(s.box), "visible": s.visible} for s in seen] for seen in info.frames],
    }
    write_truth(info.truth, data)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m app.demo.scenes", description="Synthesize the identity benchmark's scenes, with ground truth."
    )
    parser.add_argument("out", type=Path, help="the directory for NAME.mp4 and NAME.scene.json")
    parser.add_argument("--scene", action="append", choices=SCENES, help="a scene to make (repeatable; default all)")
    parser.add_argument("--fps", type=int, default=12)
    parser.add_argument("--size", type=frame_size, default=(1280, 720), help="WIDTHxHEIGHT (default 1280x720)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--annexb", action="store_true", help="also write NAME.h264 (raw Annex-B) for an RTSP server")
    args = parser.parse_args(argv)
    for name in args.scene or SCENES:
        started = time.perf_counter()
        out = args.out / f"{name}.mp4"
        try:
            info = make_scene(
                name,
                out,
                fps=args.fps,
                size=args.size,
                seed=args.seed,
                annexb=out.with_suffix(".h264") if args.annexb else None,
            )
        except (ClipError, OSError) as exc:
            print(f"scenes: {name}: {exc}", file=sys.stderr)
            return 2
        roles = ", ".join(f"{o.id} {o.label} ({o.role})" for o in info.objects) or "no objects"
        print(
            f"{info.path}: {name}, {len(info.frames)} frames at {info.fps} fps, {info.size[0]}x{info.size[1]}, "
            f"{roles}, {len(info.distractors)} distractors, truth {info.truth.name}, "
            f"{time.perf_counter() - started:.1f} s"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
