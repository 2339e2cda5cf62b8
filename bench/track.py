"""Tracker cost: median time of one `Tracker.update` for 1 / 5 / 10 / 20 moving objects.

Objects wander randomly over a 1280x720 frame at 5 fps: random acceleration, speed capped
at 60 % of the box width (and 5 % of the frame width) per update, steered away from the
edges, boxes jittering by a few pixels, 3 % of detections
missed, mixed labels with car/truck flicker). Detections are generated up front; only
`update()` is timed. The reference is Frigate's norfair tracker as quoted in
/work/shared/reference/anchors.md for this machine kind (norfair is not installed here,
so it is a quoted number, not measured in the same run). Also printed, so a fast but
broken tracker cannot pass unnoticed: id fragmentation (extra ids per simulated object).

    .venv/bin/python bench/track.py [--updates 2000] [--passes 5] [--seed 1]
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import time
from dataclasses import dataclass

from app.domain import Box, Detection
from app.track import Tracker

W, H = 1280.0, 720.0
DT = 0.2
NORFAIR_MS = {1: 0.11, 5: 0.69, 10: 2.2, 20: 7.0}  # Frigate's tracker, anchors.md
LABELS = ("person", "person", "car", "dog", "bicycle")


@dataclass(slots=True)
class Walker:
    label: str
    x: float
    y: float
    w: float
    h: float
    vx: float
    vy: float


def scene(n: int, updates: int, rng: random.Random) -> list[list[tuple[int, Detection]]]:
    """Per update, the (object index, detection) pairs the detector would report."""
    objs = []
    for _ in range(n):
        w, h = rng.uniform(40, 200), rng.uniform(60, 300)
        objs.append(Walker(rng.choice(LABELS), rng.uniform(0, W - w), rng.uniform(0, H - h), w, h, 0.0, 0.0))
    frames: list[list[tuple[int, Detection]]] = []
    for _ in range(updates):
        frame: list[tuple[int, Detection]] = []
        for i, o in enumerate(objs):
            # Random acceleration, steered back from the edges; the speed cap is a walking
            # person at 5 fps (~0.6 of their width per update), or 64 px for large boxes.
            o.vx += rng.uniform(-0.15, 0.15) * o.w + _push(o.x, 50, W - o.w - 50) * 0.05 * o.w
            o.vy += rng.uniform(-0.1, 0.1) * o.h + _push(o.y, 30, H - o.h - 30) * 0.03 * o.h
            cap_x, cap_y = min(0.6 * o.w, 64.0), min(0.3 * o.h, 36.0)
            o.vx = min(max(o.vx, -cap_x), cap_x)
            o.vy = min(max(o.vy, -cap_y), cap_y)
            o.x = min(max(o.x + o.vx, 0.0), W - o.w)
            o.y = min(max(o.y + o.vy, 0.0), H - o.h)
            if rng.random() < 0.03:  # missed detection
                continue
            label = o.label
            if label == "car" and rng.random() < 0.2:
                label = "truck"
            j = [rng.uniform(-3, 3) for _ in range(4)]
            box = Box(o.x + j[0], o.y + j[1], o.x + o.w + j[2], o.y + o.h + j[3])
            frame.append((i, Detection(label, rng.uniform(0.5, 0.95), box)))
        rng.shuffle(frame)  # the detector's order says nothing about identity
        frames.append(frame)
    return frames


def _push(pos: float, low: float, high: float) -> float:
    return 1.0 if pos < low else -1.0 if pos > high else 0.0


def run(frames: list[list[tuple[int, Detection]]], n: int, warmup: int) -> tuple[list[float], float]:
    """One pass of a fresh tracker over a scene: (update times in ms, extra ids per object)."""
    tracker = Tracker("bench")
    times: list[float] = []
    ids_of: list[set[str]] = [set() for _ in range(n)]
    for k, frame in enumerate(frames):
        dets = [d for _, d in frame]
        t0 = time.perf_counter_ns()
        result = tracker.update(dets, k * DT)
        t1 = time.perf_counter_ns()
        if k >= warmup:
            times.append((t1 - t0) / 1e6)
        by_box = {t.box: t.id for t in result.tracks if t.last_seen == k * DT}
        for i, d in frame:
            ids_of[i].add(by_box[d.box])
    return times, sum(len(s) - 1 for s in ids_of) / n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    counts = (1, 5, 10, 20)
    scenes = {n: scene(n, args.warmup + args.updates, random.Random(args.seed * 1000 + n)) for n in counts}
    times: dict[int, list[float]] = {n: [] for n in counts}
    extra: dict[int, float] = {}
    for _ in range(args.passes):  # interleaved, so a noisy neighbour hits every row alike
        for n in counts:
            pass_times, extra[n] = run(scenes[n], n, args.warmup)
            times[n] += pass_times

    print(f"machine: {platform.machine()} {platform.processor() or ''}, Python {platform.python_version()}")
    print(f"{args.passes} x {args.updates} timed updates per row, 5 fps timeline, {W:.0f}x{H:.0f} frame")
    print("objects  median ms   p95 ms   norfair ms   ours/norfair   extra ids/object")
    for n in counts:
        ts = sorted(times[n])
        med, p95, ref = statistics.median(ts), ts[int(0.95 * (len(ts) - 1))], NORFAIR_MS[n]
        print(f"{n:7d}  {med:9.3f}  {p95:7.3f}  {ref:11.2f}  {med / ref:13.3f}  {extra[n]:17.2f}")


if __name__ == "__main__":
    main()
