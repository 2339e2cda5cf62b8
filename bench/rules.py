"""Rule engine cost: time of one `RuleEngine.evaluate` with 20 rules x 10 tracked objects.

One 1280x720 camera with six zones and a motion mask; 20 rules mixing labels (person,
groups, single classes), zones (none, one, several), schedules (always, one opening at
22:00 during the run, one that stays closed, multi-window), modes (some home-only, so
disarmed in `away`), dwell 0-5 s and cooldowns 0-60 s. Ten objects wander at 5 fps;
each lives 20-120 s and is then replaced by a new track id (arrivals, departures, state
pruning), three of them are parked cars (stationary) and a few frames of each track are
unconfirmed. The wall clock starts Tuesday 2026-11-24 21:58 Europe/London, so a schedule
window opens mid-run. Tracks are generated up front; only the calls are timed.

References measured in the same run, interleaved frame by frame:
- "bare loop": the same 200 rule x object pairs doing only the label check
  (`track.label in labels`), the least any per-pair rule evaluation in Python costs;
- "motion 720p": `app.analysis.motion.MotionDetector.update` on one 1280x720 frame (synthetic
  noisy scene with a moving block, copied into one buffer first, as a decoder would),
  the cheapest per-frame stage the engine runs next to.

    .venv/bin/python bench/rules.py [--evals 2000] [--passes 5] [--seed 1]
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from app.analysis.motion import MotionDetector
from app.config import CameraConfig, Mode, MotionConfig, RuleConfig
from app.domain import Alert, Box, Track
from app.labels import expand
from app.rules import RuleEngine

W, H = 1280, 720
DT = 0.2
TZ = ZoneInfo("Europe/London")
START = datetime(2026, 11, 24, 21, 58, tzinfo=TZ).timestamp()
N_OBJECTS = 10
TARGET_MS = 0.2

CAMERA = CameraConfig.model_validate(
    {
        "source": "rtsp://192.168.1.20/stream",
        "zones": {
            "porch": [[0.1, 0.55], [0.45, 0.55], [0.45, 1.0], [0.1, 1.0]],
            "drive": [[0.45, 0.5], [1.0, 0.5], [1.0, 1.0], [0.45, 1.0]],
            "path": [[0.3, 0.3], [0.5, 0.3], [0.55, 0.55], [0.25, 0.55]],
            "gate": [[0.0, 0.3], [0.15, 0.3], [0.15, 0.6], [0.0, 0.6]],
            "lawn": [[0.55, 0.25], [0.9, 0.2], [1.0, 0.5], [0.5, 0.5], [0.52, 0.4], [0.6, 0.35]],
            "street": [[0.0, 0.0], [1.0, 0.0], [1.0, 0.2], [0.0, 0.3]],
        },
        "motion": {"mask": [[[0.85, 0.0], [1.0, 0.0], [1.0, 0.15], [0.85, 0.15]]]},
    }
)
OTHER = CameraConfig.model_validate(
    {"source": "rtsp://192.168.1.21/stream", "zones": {"garden": [[0, 0], [1, 0], [1, 1]]}}
)

NIGHT = [{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "22:00", "to": "06:30"}]
MORNING = [{"from": "06:00", "to": "09:00"}]
SPLIT = [{"days": ["sat", "sun"], "from": "08:00", "to": "20:00"}, {"days": ["tue"], "from": "21:00", "to": "23:59"}]

RULES: list[dict[str, Any]] = [
    {"name": "person_porch", "zones": ["porch"], "cooldown": "60s"},
    {"name": "person_porch_night", "zones": ["porch"], "schedule": NIGHT, "modes": ["away", "night"]},
    {"name": "person_path", "zones": ["path"], "min_dwell": "2s", "cooldown": "30s"},
    {"name": "person_gate", "zones": ["gate", "path"], "min_dwell": "500ms"},
    {"name": "person_anywhere", "cooldown": "0s", "severity": "info"},
    {"name": "person_lawn_morning", "zones": ["lawn"], "schedule": MORNING},
    {"name": "vehicle_drive", "objects": ["vehicle"], "zones": ["drive"], "min_dwell": "3s"},
    {"name": "vehicle_drive_night", "objects": ["vehicle"], "zones": ["drive"], "schedule": NIGHT},
    {"name": "vehicle_street", "objects": ["vehicle"], "zones": ["street"], "cooldown": "0s", "severity": "info"},
    {"name": "truck_anywhere", "objects": ["truck"], "min_score": 0.7},
    {"name": "animal_lawn", "objects": ["animal"], "zones": ["lawn"], "cooldown": "10s"},
    {"name": "dog_porch", "objects": ["dog"], "zones": ["porch", "path"]},
    {"name": "cat_anywhere", "objects": ["cat"], "modes": ["home"]},
    {"name": "person_home_drive", "zones": ["drive"], "modes": ["home"]},
    {"name": "bike_path", "objects": ["bicycle", "motorcycle"], "zones": ["path", "drive"], "min_dwell": "1s"},
    {"name": "person_split", "zones": ["porch", "drive", "lawn"], "schedule": SPLIT, "min_dwell": "5s"},
    {"name": "many_front", "objects": ["person", "vehicle", "animal"], "cameras": ["front"], "cooldown": "5s"},
    {"name": "person_high", "min_score": 0.85, "zones": ["drive", "porch", "gate"], "min_dwell": "0s"},
    {"name": "vehicle_any_night", "objects": ["vehicle"], "modes": ["night"]},
    {"name": "package_porch", "objects": ["suitcase", "backpack", "handbag"], "zones": ["porch"], "min_dwell": "4s"},
]
LABELS = ("person", "person", "person", "car", "truck", "dog", "cat", "bicycle")


@dataclass(slots=True)
class Walker:
    tid: str
    label: str
    x: float
    y: float
    vx: float
    vy: float
    w: float
    h: float
    parked: bool
    age: int
    life: int
    top: float


def new_walker(n: int, rng: random.Random, parked: bool) -> Walker:
    label = "car" if parked else rng.choice(LABELS)
    w, h = (rng.uniform(150, 260), rng.uniform(90, 150)) if label in ("car", "truck") else (60.0, 160.0)
    return Walker(
        f"front-{n}",
        label,
        rng.uniform(0, W - w),
        rng.uniform(0, H - h),
        0.0 if parked else rng.uniform(-20, 20),
        0.0 if parked else rng.uniform(-8, 8),
        w,
        h,
        parked,
        0,
        rng.randint(100, 600),  # 20-120 s at 5 fps
        rng.uniform(0.55, 0.95),
    )


def scene(frames: int, rng: random.Random) -> list[list[Track]]:
    walkers = [new_walker(i, rng, parked=i < 3) for i in range(N_OBJECTS)]
    next_id = N_OBJECTS
    out: list[list[Track]] = []
    for _ in range(frames):
        tracks: list[Track] = []
        for i in range(len(walkers)):
            if walkers[i].age >= walkers[i].life:  # it leaves; someone new arrives
                walkers[i] = new_walker(next_id, rng, parked=walkers[i].parked)
                next_id += 1
            o = walkers[i]
            o.age += 1
            o.x = min(max(o.x + o.vx, 0.0), W - o.w)
            o.y = min(max(o.y + o.vy, 0.0), H - o.h)
            if o.x in (0.0, W - o.w):
                o.vx = -o.vx
            if o.y in (0.0, H - o.h):
                o.vy = -o.vy
            box = Box(o.x, o.y, o.x + o.w, o.y + o.h)
            t = o.age * DT
            tracks.append(Track(o.tid, o.label, o.top, o.top, box, t, t, o.age, o.age >= 3, o.parked and o.age > 1))
        out.append(tracks)
    return out


def motion_frames(count: int, rng: np.random.Generator) -> list[npt.NDArray[np.uint8]]:
    base = np.zeros((H, W, 3), np.uint8)
    base[:] = np.linspace(40, 200, W, dtype=np.uint8)[None, :, None]
    frames = []
    for k in range(count):
        frame = np.clip(base + rng.normal(0, 4, base.shape), 0, 255).astype(np.uint8)
        x = 100 + 30 * k
        frame[300:500, x : x + 80] = 230  # a mover
        frames.append(frame)
    return frames


def bare_loop(tracks: list[Track], labels: list[frozenset[str]]) -> int:
    hits = 0
    for track in tracks:
        for allowed in labels:
            if track.label in allowed:
                hits += 1
    return hits


def run_pass(
    frames: list[list[Track]], warmup: int, images: list[npt.NDArray[np.uint8]]
) -> tuple[list[float], list[float], list[float], list[Alert]]:
    rules = [RuleConfig.model_validate(r) for r in RULES]
    engine = RuleEngine(rules, {"front": CAMERA, "back": OTHER}, TZ, Mode.AWAY)
    labels = [expand(r.objects) for r in rules]
    motion = MotionDetector(MotionConfig(), (W, H))
    buffer = np.empty_like(images[0])
    motion.update(images[0])
    ours: list[float] = []
    bare: list[float] = []
    move: list[float] = []
    alerts: list[Alert] = []
    perf = time.perf_counter_ns
    for k, tracks in enumerate(frames):
        now = START + k * DT
        if k == len(frames) // 2:
            engine.set_mode(Mode.NIGHT, now)  # a mode change mid-run re-arms the night rules
        ids = {t.id: f"{round(now * 1000)}-{t.id}" for t in tracks}
        t0 = perf()
        fired = engine.evaluate("front", tracks, (W, H), now, ids)
        t1 = perf()
        bare_loop(tracks, labels)
        t2 = perf()
        buffer[:] = images[k % len(images)]
        t3 = perf()
        motion.update(buffer)
        t4 = perf()
        if k >= warmup:
            ours.append((t1 - t0) / 1e6)
            bare.append((t2 - t1) / 1e6)
            move.append((t4 - t3) / 1e6)
            alerts += fired
    return ours, bare, move, alerts


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[int(0.95 * (len(ordered) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--evals", type=int, default=2000)
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    frames = scene(args.warmup + args.evals, random.Random(args.seed))
    images = motion_frames(24, np.random.default_rng(args.seed))
    ours: list[float] = []
    bare: list[float] = []
    move: list[float] = []
    alerts: list[Alert] = []
    for _ in range(args.passes):
        o, b, m, alerts = run_pass(frames, args.warmup, images)
        ours += o
        bare += b
        move += m

    pairs = len(RULES) * N_OBJECTS
    by_rule = sorted({a.rule for a in alerts})
    print(f"machine: {platform.machine()} {platform.processor() or ''}, Python {platform.python_version()}")
    print(f"{len(RULES)} rules x {N_OBJECTS} objects ({pairs} pairs), {args.passes} x {args.evals} timed evaluations")
    ids = len({t.id for tracks in frames for t in tracks})
    print(f"per pass: {len(alerts)} alerts from {len(by_rule)} of {len(RULES)} rules, {ids} track ids")
    print("                     median ms    p95 ms")
    print(f"evaluate             {statistics.median(ours):9.4f}  {p95(ours):8.4f}   target <= {TARGET_MS} ms")
    print(f"bare label loop      {statistics.median(bare):9.4f}  {p95(bare):8.4f}")
    print(f"motion 720p update   {statistics.median(move):9.4f}  {p95(move):8.4f}")
    print(f"evaluate / bare loop      {statistics.median(ours) / statistics.median(bare):6.2f}")
    print(f"evaluate / motion 720p    {statistics.median(ours) / statistics.median(move):6.2f}")
    met = statistics.median(ours) <= TARGET_MS and p95(ours) <= TARGET_MS
    print(f"target (median and p95 <= {TARGET_MS} ms): {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
