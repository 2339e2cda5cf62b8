"""Tracker cost: median time of one update for 1 / 5 / 10 / 20 moving objects, ours against
norfair (Frigate's tracker) and ByteTrack measured in the same run.

Objects wander randomly over a 1280x720 frame at 5 fps: random acceleration, speed capped
at 60 % of the box width (and 5 % of the frame width) per update, steered away from the
edges, boxes jittering by a few pixels, 3 % of detections
missed, mixed labels with car/truck flicker). Detections are generated up front; only the
update is timed, each tracker behind bench/trackers.py's adapter (norfair configured as
Frigate does; the libraries wrapped in our confirmation rule), so the same work is asked of
all three. The passes interleave trackers and object counts, so a noisy neighbour hits every
row alike; ratios are against norfair in this run (the 2.2 ms at 10 objects quoted in
/work/shared/reference/anchors.md is from another machine). Also printed, so a fast but
broken tracker cannot pass unnoticed: id fragmentation (extra ids per simulated object).
Runs in the bench venv (bench/benchenv.py), re-executing itself there.

    .venv/bin/python bench/track.py [--updates 1000] [--passes 3] [--seed 1] [--tracker NAME ...]
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import time
from dataclasses import dataclass

from benchenv import run_inside
from trackers import LIBRARIES, TRACKERS, Factory

from app.domain import Box, Detection
from app.objects import ObjectFilter

W, H = 1280.0, 720.0
DT = 0.2
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


def run(
    factory: Factory, frames: list[list[tuple[int, Detection]]], n: int, warmup: int
) -> tuple[list[float], float, float]:
    """One pass of a fresh tracker over a scene: (update times in ms, extra ids per object,
    share of the detections that a reported track took)."""
    tracker = factory(ObjectFilter.default(), (int(W), int(H)))
    times: list[float] = []
    ids_of: list[set[str]] = [set() for _ in range(n)]
    taken = total = 0
    for k, frame in enumerate(frames):
        dets = [d for _, d in frame]
        t0 = time.perf_counter_ns()
        live = tracker.update(k * DT, dets)
        t1 = time.perf_counter_ns()
        if k >= warmup:
            times.append((t1 - t0) / 1e6)
        by_box = {t.box: tid for tid, t in live.items() if t.seen}
        for i, d in frame:  # a library reports a track only once it has initialised
            tid = by_box.get((d.box.x1, d.box.y1, d.box.x2, d.box.y2))
            total += 1
            if tid is not None:
                ids_of[i].add(tid)
                taken += 1
    return times, sum(max(len(s) - 1, 0) for s in ids_of) / n, taken / max(total, 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--updates", type=int, default=1000)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tracker", action="append", choices=TRACKERS, help="default: all")
    args = parser.parse_args()
    names: list[str] = args.tracker or list(TRACKERS)
    if names != ["ours"]:
        run_inside(LIBRARIES)

    counts = (1, 5, 10, 20)
    scenes = {n: scene(n, args.warmup + args.updates, random.Random(args.seed * 1000 + n)) for n in counts}
    times: dict[tuple[str, int], list[float]] = {(name, n): [] for name in names for n in counts}
    extra: dict[tuple[str, int], float] = {}
    tracked: dict[tuple[str, int], float] = {}
    for _ in range(args.passes):  # interleaved, so a noisy neighbour hits every row alike
        for n in counts:
            for name in names:
                pass_times, extra[name, n], tracked[name, n] = run(TRACKERS[name], scenes[n], n, args.warmup)
                times[name, n] += pass_times

    print(f"machine: {platform.machine()} {platform.processor() or ''}, Python {platform.python_version()}")
    print(f"{args.passes} x {args.updates} timed updates per row, 5 fps timeline, {W:.0f}x{H:.0f} frame")
    ref = "norfair" if "norfair" in names else names[0]
    print(f"per tracker: median ms per update (p95), ratio to {ref} in this run, extra ids per object,")
    print("share of the detections a reported track took (a lost object is reported by no track)")
    print(f"{'objects':>7}  " + "  ".join(f"{name:>28}" for name in names))
    for n in counts:
        base = statistics.median(times[ref, n])
        cells = []
        for name in names:
            ts = sorted(times[name, n])
            med, p95 = statistics.median(ts), ts[int(0.95 * (len(ts) - 1))]
            cells.append(f"{med:6.3f} ({p95:5.2f}) x{med / base:5.2f} {extra[name, n]:5.2f} {tracked[name, n]:4.0%}")
        print(f"{n:7d}  " + "  ".join(f"{c:>28}" for c in cells))


if __name__ == "__main__":
    main()
