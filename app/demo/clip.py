"""Synthesize a realistic camera clip from real photos, with per-frame ground truth.

The person is scikit-image's `astronaut` (NASA's public-domain portrait of Eileen
Collins) cut out with OpenCV's GrabCut and walked across a real garage
(`stereo_motorcycle`), close to the camera: her figure is 70% of the frame height and
the frame's bottom edge cuts her at the waist. Every frame gets Gaussian sensor noise
(σ = 4) and, mid-clip, the light fades by ~25% over ~1.5 s (more on the right). An
`empty` clip has the same garage, noise and light, and nobody in it.

How the project's whole-frame 300x300 SSD sees this clip (measured, default clip):
she is found (score >= 0.5, IoU >= 0.5) in ~60% of the frames that show all of her,
every time near the frame's centre; it misses her for a few frames in a row when her
centre is near x = 1/3 or 2/3 of the width (the boundaries of the model's coarsest
3x3 anchor grid) and less often after the light has faded. At 62% height the hit rate
drops to ~35%, at 55% to under 10%: hence 70%, the top of the range a bust can have
while still being a person walking past a camera.

A `vehicle` clip is for vehicle rules: the red motorcycle of that garage photo, cut out
with GrabCut (its stereo disparity tells it from the wall, shelves and floor), rides into
a driveway from the left, brakes smoothly and parks right of centre by 55% of the clip,
then stands there to the end (default 10 s). The driveway is built from two other real
photos with no vehicle in them: scikit-image's `brick` (rectified and tinted: the wall
along the back) and `gravel` (tinted, in perspective: the ground). The bike is 55% of
the frame height with its front tyre at 90% of it, over a soft contact shadow; the same
noise and fading light (a passing cloud here) as the other clips. Riding right to left,
the bike is mirrored (it still rides front first) and parks left of centre.

How the COCO model (NanoDet, 416x416, whole frame) sees it (measured, default clip): no
vehicle at any score >= 0.3 on the empty driveway; while it comes in over the edge, the
front alone is a "car" (~0.4) or a "bicycle" (up to 0.6), then a "motorcycle" from about
half of it in view; once all of it shows, a "motorcycle" at 0.63-0.77 (IoU >= 0.93 with
the truth) in every frame, moving or parked, after the light has faded too. The score
follows the bike's size: ~0.75 at 55% of the frame height, ~0.6 at 50%, ~0.4 at 45%
(the whole frame is squashed to 416x416): hence 55%, the top of the range a motorcycle
parked in front of a driveway camera plausibly has.

The video is H.264 (libx264 through PyAV): yuv420p, main profile, one slice per
frame, `tune=grain,zerolatency` (no B-frames; the noise survives), crf 23 (~6.5 Mbit/s
at 720p12, the noise costs bits), a keyframe every second. Beside it go the ground truth
(`NAME.truth.json`) and, on request, the same stream as raw Annex-B (`.h264`) for an
RTSP server. The frames and the ground truth depend only on the arguments and `seed`.

    python -m app.demo.clip OUT.mp4 [--kind person|empty|vehicle] [--seconds S] [--fps 12]
                                    [--size 1280x720] [--seed 0] [--annexb OUT.h264]

The photos and what is cut out of them are in `app.demo.photos`, the encoders in
`app.demo.video`; clips with several objects (and their truth) in `app.demo.scenes`.
scikit-image and PyAV are imported only when a clip is made: they are development and
set-up dependencies, never the appliance's.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from app.demo.compose import (
    BoxPx,
    ClipError,
    FloatImage,
    Image,
    SensorNoise,
    beside,
    ease_out,
    frame_size,
    paste,
    smoothstep,
    write_truth,
)
from app.demo.photos import Cutout, Vehicle, cut_out_astronaut, driveway, garage, scaled, vehicle
from app.demo.video import write_video

Kind = Literal["person", "empty", "vehicle"]
KINDS: tuple[Kind, ...] = ("person", "empty", "vehicle")
Direction = Literal["ltr", "rtl"]

TRUTH_VERSION = 1
LIGHT_DROP = 0.25  # brightness lost at the middle of the frame once the light has faded
LIGHT_FADE = (0.40, 0.65)  # the fade runs between these fractions of the clip
PERSON_HEIGHT = 0.70  # her cut-out's height as a fraction of the frame height (see the module doc)
PERSON_BOTTOM = 1.0  # where the bottom of her cut-out (her waist) is, as a fraction of the frame height
WALK_SPAN = (0.10, 0.90)  # she enters at 10% of the clip and is gone by 90%
BOB_PX = 0.012  # walking bob, as a fraction of the frame height
BOB_HZ = 1.8  # steps per second
DEFAULT_SECONDS: dict[Kind, float] = {"person": 6.0, "empty": 6.0, "vehicle": 10.0}
# The vehicle clip (see the module doc).
VEHICLE_HEIGHT = 0.55  # the motorcycle's height as a fraction of the frame height
VEHICLE_BOTTOM = 0.90  # where its lowest point (the front tyre) is, as a fraction of the frame height
VEHICLE_PARK = 0.60  # where the middle of the parked motorcycle is, as a fraction of the frame width
VEHICLE_RUN_UP = 0.40  # how far off-screen it starts, as a fraction of the frame width
DRIVE_SPAN = (0.0, 0.55)  # it sets off (off-screen) at the start and is parked by 55% of the clip


@dataclass(frozen=True, slots=True)
class ClipInfo:
    """A clip on disk and its ground truth."""

    path: Path  # the MP4
    truth: Path  # the ground-truth JSON beside it
    annexb: Path | None  # the same stream as raw Annex-B H.264, when asked for
    kind: Kind
    fps: int
    size: tuple[int, int]  # width, height
    seed: int
    boxes: tuple[BoxPx | None, ...]  # her (or the vehicle's) visible box in each frame; None when out of view
    # person: her head and both sides are inside the frame (the waist always is cut);
    # vehicle: all of it is inside the frame
    whole: tuple[bool, ...]

    @property
    def frames(self) -> int:
        return len(self.boxes)

    @property
    def seconds(self) -> float:
        return self.frames / self.fps

    def whole_frames(self) -> list[int]:
        """Indices of the frames in which her whole figure (or the whole vehicle) is in view."""
        return [i for i, w in enumerate(self.whole) if w]

    def empty_frames(self) -> list[int]:
        """Indices of the frames in which nobody (and no vehicle) is in view."""
        return [i for i, b in enumerate(self.boxes) if b is None]

    @classmethod
    def load(cls, truth: Path) -> ClipInfo:
        """Read the ground truth written beside a clip (`NAME.truth.json`)."""
        data = json.loads(truth.read_text())
        if data.get("version") != TRUTH_VERSION:
            raise ClipError(f"{truth}: unknown ground-truth version {data.get('version')!r}")
        boxes = tuple(None if b is None else (int(b[0]), int(b[1]), int(b[2]), int(b[3])) for b in data["boxes"])
        annexb = data.get("annexb")
        kind = next((k for k in KINDS if k == data["kind"]), None)
        if kind is None:
            raise ClipError(f"{truth}: unknown clip kind {data['kind']!r}")
        return cls(
            path=truth.parent / data["video"],
            truth=truth,
            annexb=None if annexb is None else truth.parent / annexb,
            kind=kind,
            fps=int(data["fps"]),
            size=(int(data["size"][0]), int(data["size"][1])),
            seed=int(data["seed"]),
            boxes=boxes,
            whole=tuple(bool(w) for w in data["whole"]),
        )


@dataclass(frozen=True, slots=True, eq=False)
class SynthFrame:
    image: Image  # BGR
    box: BoxPx | None  # her (or the vehicle's) visible box, None when out of view
    whole: bool  # her head and both sides (all of the vehicle) are in view


def truth_path(video: Path) -> Path:
    """Where the ground truth of `video` goes: `walk.mp4` -> `walk.truth.json`."""
    return video.with_name(video.stem + ".truth.json")


def light_level(t: float) -> float:
    """How much of the light has faded at `t` (fraction of the clip, 0..1): 0 before, 1 after."""
    start, end = LIGHT_FADE
    return smoothstep((t - start) / (end - start))


def light_gain(t: float, width: int) -> FloatImage:
    """The light at `t` (fraction of the clip) across the frame, 1 x width x 1, to multiply the frame by.

    The light fades more on the right, like a lamp on the left wall.
    """
    ramp = np.linspace(0.75, 1.25, width, dtype=np.float32)[None, :, None]
    return np.asarray(1.0 - LIGHT_DROP * light_level(t) * ramp, dtype=np.float32)


def person(height: int, cut: Cutout | None = None) -> tuple[FloatImage, FloatImage]:
    """Her cut-out (colour, matte h x w x 1) at PERSON_HEIGHT of a frame `height` pixels high."""
    return scaled(cut_out_astronaut() if cut is None else cut, round(PERSON_HEIGHT * height))


def walk_origin(
    i: int, count: int, fps: int, size: tuple[int, int], shape: tuple[int, int], *, direction: Direction = "ltr"
) -> tuple[int, int]:
    """Where her cut-out's top-left corner is in frame `i` of `count` (`shape`: its height, width)."""
    width, height = size
    ph, pw = shape
    t = i / (count - 1)
    walk = (t - WALK_SPAN[0]) / (WALK_SPAN[1] - WALK_SPAN[0])
    x0 = round(-pw + walk * (width + pw))
    if direction == "rtl":
        x0 = width - pw - x0
    bob = BOB_PX * height * 0.5 * (1.0 - math.cos(2.0 * math.pi * BOB_HZ * i / fps))
    return x0, round(PERSON_BOTTOM * height) - ph + round(bob)


def drive_origin(t: float, vehicle: Vehicle, size: tuple[int, int], direction: Direction) -> tuple[int, int]:
    """Where the vehicle's top-left corner is at `t` (fraction of the clip)."""
    width, height = size
    vh, vw = vehicle.alpha.shape[:2]
    parked = round(VEHICLE_PARK * width - vw / 2)
    start = -vw - round(VEHICLE_RUN_UP * width)
    drive = (t - DRIVE_SPAN[0]) / (DRIVE_SPAN[1] - DRIVE_SPAN[0])
    x0 = start + round((parked - start) * ease_out(drive))
    if direction == "rtl":
        x0 = width - vw - x0
    return x0, round(VEHICLE_BOTTOM * height) - vh


def _drive(frame: FloatImage, vehicle: Vehicle, t: float, direction: Direction) -> tuple[BoxPx | None, bool]:
    """Paint the vehicle where it is at `t` (fraction of the clip); return its box and whether all of it shows."""
    height, width = frame.shape[:2]
    vw = vehicle.alpha.shape[1]
    x0, y0 = drive_origin(t, vehicle, (width, height), direction)
    paste(frame, vehicle.shade, vehicle.shadow, x0 - vehicle.pad, y0)
    box = paste(frame, vehicle.bgr, vehicle.alpha, x0, y0)
    return box, box is not None and x0 >= 0 and x0 + vw <= width and y0 >= 0


def synthesize(
    kind: Kind = "person",
    *,
    seconds: float | None = None,
    fps: int = 12,
    size: tuple[int, int] = (1280, 720),
    seed: int = 0,
    direction: Direction = "ltr",
) -> Iterator[SynthFrame]:
    """Render the clip's frames (BGR, uint8) with her (or the vehicle's) box; nothing is written to disk.

    `seconds` defaults to 6 for a person or empty clip and to 10 for a vehicle's.
    """
    width, height = size
    count = round((DEFAULT_SECONDS[kind] if seconds is None else seconds) * fps)
    if count < 2 or fps < 1 or width < 64 or height < 64:
        raise ClipError(f"a clip needs at least 2 frames of 64x64 or more (got {count} of {width}x{height})")
    rng = np.random.default_rng(seed)
    background = (driveway(size) if kind == "vehicle" else garage(size)).astype(np.float32)
    noise = SensorNoise(rng, size)
    walker = person(height) if kind == "person" else None
    bike = vehicle(round(VEHICLE_HEIGHT * height), mirror=direction == "rtl") if kind == "vehicle" else None

    for i in range(count):
        t = i / (count - 1)
        frame = background.copy()
        box: BoxPx | None = None
        whole = False
        if walker is not None:
            sprite, alpha = walker
            ph, pw = alpha.shape[:2]
            x0, y0 = walk_origin(i, count, fps, size, (ph, pw), direction=direction)
            box = paste(frame, sprite, alpha, x0, y0)
            whole = box is not None and x0 >= 0 and x0 + pw <= width and y0 >= 0
        elif bike is not None:
            box, whole = _drive(frame, bike, t, direction)
        frame *= light_gain(t, width)
        noise.add(frame, rng)
        np.clip(frame, 0.0, 255.0, out=frame)
        yield SynthFrame(image=frame.astype(np.uint8), box=box, whole=whole)


def make_clip(
    path: Path,
    kind: Kind = "person",
    *,
    seconds: float | None = None,
    fps: int = 12,
    size: tuple[int, int] = (1280, 720),
    annexb: Path | None = None,
    seed: int = 0,
    direction: Direction = "ltr",
) -> ClipInfo:
    """Write the clip to `path` (MP4), its ground truth beside it, and optionally an Annex-B copy.

    `seconds` defaults to 6 for a person or empty clip and to 10 for a vehicle's.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    boxes: list[BoxPx | None] = []
    whole: list[bool] = []

    def images() -> Iterator[Image]:
        for frame in synthesize(kind, seconds=seconds, fps=fps, size=size, seed=seed, direction=direction):
            boxes.append(frame.box)
            whole.append(frame.whole)
            yield frame.image

    annexb = write_video(images(), path, fps, size, annexb)
    info = ClipInfo(
        path=path,
        truth=truth_path(path),
        annexb=annexb,
        kind=kind,
        fps=fps,
        size=size,
        seed=seed,
        boxes=tuple(boxes),
        whole=tuple(whole),
    )
    _write_truth(info)
    return info


def _write_truth(info: ClipInfo) -> None:
    annexb = None if info.annexb is None else beside(info.annexb, info.truth)
    data: dict[str, Any] = {
        "version": TRUTH_VERSION,
        "video": info.path.name,
        "annexb": annexb,
        "kind": info.kind,
        "fps": info.fps,
        "size": list(info.size),
        "seed": info.seed,
        "frames": info.frames,
        "box_format": "x1,y1,x2,y2 pixels, x2/y2 exclusive; null: nobody (no vehicle) in view",
        "boxes": [None if b is None else list(b) for b in info.boxes],
        "whole": list(info.whole),
    }
    write_truth(info.truth, data)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m app.demo.clip", description="Synthesize a camera clip from real photos, with ground truth."
    )
    parser.add_argument("out", type=Path, help="the MP4 to write; NAME.truth.json goes beside it")
    parser.add_argument("--kind", choices=KINDS, default="person")
    parser.add_argument("--seconds", type=float, default=None, help="default 6 (10 for a vehicle)")
    parser.add_argument("--fps", type=int, default=12)
    parser.add_argument("--size", type=frame_size, default=(1280, 720), help="WIDTHxHEIGHT (default 1280x720)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--direction", choices=["ltr", "rtl"], default="ltr")
    parser.add_argument("--annexb", type=Path, default=None, help="also write the raw Annex-B H.264 stream here")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        info = make_clip(
            args.out,
            kind=args.kind,
            seconds=args.seconds,
            fps=args.fps,
            size=args.size,
            annexb=args.annexb,
            seed=args.seed,
            direction=args.direction,
        )
    except (ClipError, OSError) as exc:
        print(f"clip: {exc}", file=sys.stderr)
        return 2
    took = time.perf_counter() - started
    print(
        f"{info.path}: {info.kind}, {info.frames} frames at {info.fps} fps, {info.size[0]}x{info.size[1]}, "
        f"{'vehicle' if info.kind == 'vehicle' else 'person'} in {sum(b is not None for b in info.boxes)} frames, "
        f"truth {info.truth.name}, {took:.1f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
