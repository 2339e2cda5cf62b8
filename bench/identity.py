"""Identity benchmark: does the box tell the truth about what is in front of it?

Every scene of `app.demo.scenes` (real photos, truth known by construction: repeated visits, a
person who stops mid-frame, two people crossing with one hidden, a parked vehicle partly hidden
by a passer-by, an arrival that parks, a vehicle parked at the frame edge, a small distant
person, an empty scene with wind, light changes, a bin and a bag) is decoded from its H.264 file
and run through the product's real analysis (motion → regions → the default COCO detector on
the CPU → tracking → events → rules), frame by frame at 5 detect fps as live, with one rule per
group (people, vehicles, animals) at `cooldown: 0s`.

Measured per scene and in total:
- events per true visit (ideal 1.00): events assigned to a true object ÷ true objects; an event
  is assigned to the true object its boxes overlap (IoU ≥ 0.3) in most of its frames;
- ghost events: events matching no true object (ideal 0);
- alerts: arrivals with exactly one alert, parked objects with none, alerts for no true object;
- count MAE: per frame, Σ over labels |the camera's count − the truth|, averaged over frames.
  The truth counts an object while ≥ 30 % of it shows, or while it is hidden by another inside
  the frame (a person behind a passer-by is still there); one coming in or going out over the
  frame's edge with less showing may be counted or not (either is right);
- IDF1 and ID switches of the per-frame confirmed tracks (matched on the frame, or stationary
  where they stand) against the truth boxes (motmetrics,
  IoU ≥ 0.5; truth less than 25 % visible is not scored, nor tracks lying on it);
- detector calls per processed frame (crops), to keep re-detection's cost in view.

It also writes what reached the tracker on each frame, with the truth, to
`.cache/bench/identity/<scene>.detections.json` for bench/trackers.py (trackers compared on the
same detections).

    .venv/bin/python bench/identity.py [--scene NAME ...] [--fresh] [--json FILE] [--model NAME]
                                       [--recheck-still SECONDS]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mot import Box4, assign_tracks, id_scores, iou  # bench/mot.py (bench/ is on sys.path when run)

from app.analysis.build import build_analyses
from app.analysis.pipeline import RECHECK_STILL, object_counts
from app.capture import VideoSource
from app.config import Config, DetectorConfig, parse_config
from app.demo.scenes import SCENES, SceneInfo, Seen, make_scene
from app.detect import open_detector
from app.detect.base import Detector, Image
from app.domain import Alert, Detections, Frame

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".cache" / "bench" / "identity"
START = 1_764_000_000.0  # the scenes' wall time (any fixed epoch)
DETECT_FPS = 5.0
ASSIGN_IOU = 0.3  # an event belongs to the true object it overlaps this much in most frames
SCORED_VISIBLE = 0.25  # truth less visible than this is not scored for IDF1
COUNTED_VISIBLE = 0.3  # the truth counts an object this visible (or hidden inside the frame)

CONFIG = """
node_id: bench
cameras:
  cam:
    source: {video}
    detect_fps: 5
detector: {{type: cpu, model: {model}}}
mode: away
rules:
  - {{name: people, objects: [person], cooldown: 0s}}
  - {{name: vehicles, objects: [vehicle], cooldown: 0s}}
  - {{name: animals, objects: [animal], cooldown: 0s}}
"""


@dataclass(slots=True)
class SceneRun:
    """What the product did on one scene, frame by frame."""

    truth: list[tuple[Seen, ...]] = field(default_factory=list)
    tracks: list[dict[str, Box4]] = field(default_factory=list)  # confirmed tracks matched on this frame
    events: list[dict[str, Box4]] = field(default_factory=list)  # the same boxes keyed by their event
    counts: list[dict[str, int]] = field(default_factory=list)  # the camera's per-label counts
    alerts: list[Alert] = field(default_factory=list)
    stationary: set[str] = field(default_factory=set)  # events whose object was stationary on some frame
    calls: int = 0  # detector calls (crops)
    recorded: list[dict[str, Any]] = field(default_factory=list)  # for bench/trackers.py


@dataclass(frozen=True, slots=True)
class Row:
    scene: str
    frames: int
    visits: int
    events: int  # assigned to a true object
    ghosts: int  # events matching no true object
    arrivals: int
    arrivals_alerted_once: int
    parked: int
    parked_silent: int
    alerts: int
    ghost_alerts: int
    count_mae: float
    idf1: float
    id_switches: int
    calls_per_frame: float

    @property
    def events_per_visit(self) -> float:
        return self.events / self.visits if self.visits else 0.0


def config_for(video: Path, model: str) -> Config:
    return parse_config(CONFIG.format(video=video, model=model), "<identity>")


def run_scene(info: SceneInfo, config: Config, detector: Detector, recheck_still: float = RECHECK_STILL) -> SceneRun:
    """The product's analysis over the scene's video, at its detect fps, on the video's timeline."""
    cam = config.cameras["cam"]
    run = SceneRun()
    labels = {o.id: o.label for o in info.objects}

    def detect(images: Sequence[Image], min_score: float) -> list[Detections]:
        run.calls += len(images)
        return [detector.detect(image, min_score) for image in images]

    # The product's own wiring (app.analysis.build); detect is called directly, without the
    # worker's timeout: the bench measures what the box decides, not how fast.
    size = detector.info.input_size[0]
    analysis = build_analyses(config, lambda _name: detect, size, recheck_still=recheck_still).cameras["cam"]
    source = VideoSource(str(info.path), realtime=False)
    interval, next_due, seq = 1.0 / cam.detect_fps, 0.0, 0
    try:
        while (image := source.read()) is not None:
            t = seq / info.fps
            seq += 1
            if t + 1e-9 < next_due:
                continue
            next_due = max(next_due + interval, t)
            outcome = analysis.process(Frame("cam", seq, image, START + t, t))
            truth = info.frames[seq - 1]
            # What the box reports where it is: tracks matched on this frame, and stationary
            # ones where they stand (looked at only now and then: RECHECK_STILL).
            seen = [tr for tr in outcome.result.tracks if tr.confirmed and (tr.last_seen == t or tr.stationary)]
            event_of = analysis.event_ids()
            run.truth.append(truth)
            run.tracks.append({tr.id: _box4(tr.box) for tr in seen})
            run.events.append({event_of[tr.id]: _box4(tr.box) for tr in seen if tr.id in event_of})
            run.stationary |= {event_of[tr.id] for tr in outcome.result.tracks if tr.stationary and tr.id in event_of}
            run.counts.append(dict(object_counts(outcome.result)))
            run.alerts += outcome.alerts
            run.recorded.append(
                {
                    "t": round(t, 4),
                    "truth": [[s.id, labels[s.id], *s.box, round(s.visible, 3)] for s in truth],
                    "detections": [
                        [d.label, round(d.score, 4), *(round(v, 1) for v in _box4(d.box))]
                        for d in outcome.result.considered
                    ],
                }
            )
    finally:
        source.close()
    return run


def owners(run: SceneRun) -> dict[str, int | None]:
    """Each event → the true object it overlaps (IoU ≥ `ASSIGN_IOU`) in most of its frames, or None."""
    truth_boxes = [{s.id: _box4f(s.box) for s in frame} for frame in run.truth]
    return assign_tracks(truth_boxes, run.events, min_iou=ASSIGN_IOU)


def score(info: SceneInfo, run: SceneRun) -> Row:
    width = info.size[0]
    labels = {o.id: o.label for o in info.objects}
    owner = owners(run)
    per_object = Counter(v for v in owner.values() if v is not None)
    alerts_of: Counter[int | None] = Counter(owner.get(a.event_id) for a in run.alerts)
    arrivals = [o for o in info.objects if o.role == "arrival"]
    parked = [o for o in info.objects if o.role == "parked"]

    errors = 0
    for frame, counts in zip(run.truth, run.counts, strict=True):
        sure = Counter(labels[s.id] for s in frame if _counted(s, width))
        maybe = Counter(labels[s.id] for s in frame if not _counted(s, width))
        for label in set(counts) | set(sure) | set(maybe):
            n, low = counts.get(label, 0), sure.get(label, 0)
            errors += max(0, low - n) + max(0, n - low - maybe.get(label, 0))

    scored_truth, scored_tracks = _scored(run.truth, run.tracks)
    ids = id_scores(scored_truth, scored_tracks)
    frames = len(run.truth)
    return Row(
        scene=info.name,
        frames=frames,
        visits=len(info.objects),
        events=sum(per_object.values()),
        ghosts=sum(1 for v in owner.values() if v is None),
        arrivals=len(arrivals),
        arrivals_alerted_once=sum(1 for o in arrivals if alerts_of[o.id] == 1),
        parked=len(parked),
        parked_silent=sum(1 for o in parked if alerts_of[o.id] == 0),
        alerts=len(run.alerts),
        ghost_alerts=alerts_of[None],
        count_mae=errors / frames if frames else 0.0,
        idf1=ids.idf1,
        id_switches=ids.id_switches,
        calls_per_frame=run.calls / frames if frames else 0.0,
    )


def _counted(seen: Seen, width: int) -> bool:
    """Is this object in front of the camera as a person would count it: showing enough, or
    hidden by something nearer while inside the frame (not while entering or leaving)?"""
    x1, _, x2, _ = seen.box
    return seen.visible >= COUNTED_VISIBLE or (x1 > 1 and x2 < width - 1)


def _scored(
    truth: list[tuple[Seen, ...]], tracks: list[dict[str, Box4]]
) -> tuple[list[dict[int, Box4]], list[dict[str, Box4]]]:
    """Truth visible enough to be scored, and the tracks not lying on truth that is not."""
    out_truth: list[dict[int, Box4]] = []
    out_tracks: list[dict[str, Box4]] = []
    for frame, hyps in zip(truth, tracks, strict=True):
        out_truth.append({s.id: _box4f(s.box) for s in frame if s.visible >= SCORED_VISIBLE})
        hidden = [_box4f(s.box) for s in frame if s.visible < SCORED_VISIBLE]
        out_tracks.append(
            {
                k: b
                for k, b in hyps.items()
                if not any(iou(b, h) >= 0.5 for h in hidden)
                or any(iou(b, _box4f(s.box)) >= 0.5 for s in frame if s.visible >= SCORED_VISIBLE)
            }
        )
    return out_truth, out_tracks


def total(rows: Sequence[Row], all_ids: tuple[float, int]) -> Row:
    frames = sum(r.frames for r in rows)
    return Row(
        scene="total",
        frames=frames,
        visits=sum(r.visits for r in rows),
        events=sum(r.events for r in rows),
        ghosts=sum(r.ghosts for r in rows),
        arrivals=sum(r.arrivals for r in rows),
        arrivals_alerted_once=sum(r.arrivals_alerted_once for r in rows),
        parked=sum(r.parked for r in rows),
        parked_silent=sum(r.parked_silent for r in rows),
        alerts=sum(r.alerts for r in rows),
        ghost_alerts=sum(r.ghost_alerts for r in rows),
        count_mae=sum(r.count_mae * r.frames for r in rows) / frames if frames else 0.0,
        idf1=all_ids[0],
        id_switches=all_ids[1],
        calls_per_frame=sum(r.calls_per_frame * r.frames for r in rows) / frames if frames else 0.0,
    )


def table(rows: Sequence[Row]) -> str:
    head = (
        f"{'scene':<12} {'frames':>6} {'visits':>6} {'events':>6} {'ev/visit':>8} {'ghosts':>6} "
        f"{'arrive=1':>8} {'parked=0':>8} {'alerts':>6} {'ghost-al':>8} {'countMAE':>8} {'IDF1':>6} "
        f"{'IDsw':>4} {'calls/fr':>8}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r.scene:<12} {r.frames:>6} {r.visits:>6} {r.events:>6} {r.events_per_visit:>8.2f} {r.ghosts:>6} "
            f"{f'{r.arrivals_alerted_once}/{r.arrivals}':>8} {f'{r.parked_silent}/{r.parked}':>8} {r.alerts:>6} "
            f"{r.ghost_alerts:>8} {r.count_mae:>8.3f} {r.idf1:>6.3f} {r.id_switches:>4} {r.calls_per_frame:>8.2f}"
        )
    return "\n".join(lines)


def scene_file(name: str, fresh: bool) -> SceneInfo:
    video = WORK / "scenes" / f"{name}.mp4"
    truth = video.with_name(f"{name}.scene.json")
    if truth.exists() and video.exists() and not fresh:
        return SceneInfo.load(truth)
    started = time.perf_counter()
    info = make_scene(name, video)
    print(f"  made {name} in {time.perf_counter() - started:.1f} s", flush=True)
    return info


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--scene", action="append", choices=SCENES, help="default: every scene")
    parser.add_argument("--fresh", action="store_true", help="make the scenes again")
    parser.add_argument("--model", default="coco", help="detector model (default: coco)")
    parser.add_argument(
        "--recheck-still",
        type=float,
        default=RECHECK_STILL,
        help=f"seconds between looks at a stationary object (default {RECHECK_STILL:g}; 0: every frame)",
    )
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)
    names: list[str] = args.scene or list(SCENES)
    WORK.mkdir(parents=True, exist_ok=True)
    print(f"identity bench on {platform.machine()} {platform.processor() or ''}, model {args.model}", flush=True)
    infos = [scene_file(name, args.fresh) for name in names]
    detector = open_detector(DetectorConfig(type="cpu", model=args.model))
    rows: list[Row] = []
    pooled_truth: list[dict[int, Box4]] = []
    pooled_tracks: list[dict[str, Box4]] = []
    try:
        for k, info in enumerate(infos):
            started = time.perf_counter()
            run = run_scene(info, config_for(info.path, args.model), detector, args.recheck_still)
            rows.append(score(info, run))
            print(f"  {info.name}: {len(run.truth)} frames in {time.perf_counter() - started:.1f} s", flush=True)
            scored_truth, scored_tracks = _scored(run.truth, run.tracks)
            pooled_truth += [{k * 1000 + i: b for i, b in f.items()} for f in scored_truth]
            pooled_tracks += [{f"{info.name}/{i}": b for i, b in f.items()} for f in scored_tracks]
            record = {"version": 1, "scene": info.name, "size": list(info.size), "frames": run.recorded}
            (WORK / f"{info.name}.detections.json").write_text(json.dumps(record, separators=(",", ":")) + "\n")
            _print_alerts(run)
    finally:
        detector.close()
    ids = id_scores(pooled_truth, pooled_tracks)
    rows.append(total(rows, (ids.idf1, ids.id_switches)))
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=1) + "\n")
    return 0


def _print_alerts(run: SceneRun) -> None:
    for alert in run.alerts:
        print(f"    alert {alert.rule}: {alert.label} {alert.event_id} at {alert.fired_at - START:.1f} s", flush=True)


def _box4(box: Any) -> Box4:
    return (float(box.x1), float(box.y1), float(box.x2), float(box.y2))


def _box4f(box: tuple[int, int, int, int]) -> Box4:
    return (float(box[0]), float(box[1]), float(box[2]), float(box[3]))


if __name__ == "__main__":
    sys.exit(main())
