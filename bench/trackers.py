"""Trackers side by side on the identity benchmark's recorded detections (issue 14, item 3).

Each recording (`.cache/bench/identity/<scene>.detections.json`, written by bench/identity.py)
holds, per processed frame (~5 fps), the truth boxes and every detection that reached the
tracker: tracked classes after duplicate suppression, down to the detector's floor, so below
each class's `min_score` too. Three trackers get the same frames:

- `ours`: `app.analysis.track.Tracker` as the pipeline builds it (`confirm_score` = the default
  `ObjectFilter.threshold`); detections under their class's `min_score` go in as `weak`,
  as the pipeline hands them, when this version of the tracker takes them (else they are
  dropped, as the pipeline then did);
- `bytetrack`: supervision's `ByteTrack` (two-stage association: detections under the
  activation threshold, set to the class's `min_score`, may still continue a known track;
  new tracks need 0.1 more). It ignores labels, so one instance runs per kind of object
  (`app.labels.kind`: car/truck/bus share one). Lost tracks are kept `LOST_S` seconds. It
  gets every recorded detection: the low ones are its point;
- `norfair`: configured as Frigate's tracker is (frigate/track/norfair_tracker.py): boxes
  as two points (top-left, bottom-right), a distance of the bottom centre's move relative
  to the predicted box's size plus the relative change of width and height, threshold 2.5;
  `OptimizedKalmanFilterFactory(R=3.4)`, with `Q=0.03` for vehicles (Frigate's `car`
  tracker; here the whole vehicle group); `initialization_delay` max(fps/2, 2) = 2 and
  `hit_counter_max` fps·5 = 25 frames. norfair matches labels exactly, so it is given the
  kind as its label. Like Frigate it sees only detections at or above `min_score`.

The libraries neither label nor confirm as we do, so both are wrapped in the same rule as
ours: a track is confirmed (sticky) once it has matched ≥ 3 detections and the median of its
last 10 scores reaches the threshold of its label, the majority vote of its detections'
labels (ties keep the current one). norfair's detections while it initialises count; for
ByteTrack the first detection of a track, which it does not report until the track's second
match, counts as a hit whose score is unknown.

Scored per scene and in total, on confirmed tracks matched on that frame: IDF1 and ID
switches (bench/mot.py, IoU ≥ 0.5; truth less than 25 % visible is not scored, nor a track
whose best overlap is such hidden truth), events per visit (confirmed track ids assigned to a
true object ÷ true objects; assigned = IoU ≥ 0.3 in most of its frames), ghosts (confirmed
tracks matching no true object) and the time of one update, conversion and the confirmation
wrapper included. Runs in the bench venv (bench/benchenv.py), re-executing itself there.

    .venv/bin/python bench/trackers.py [FILES...] [--tracker NAME ...]
"""

from __future__ import annotations

import argparse
import inspect
import json
import logging
import statistics
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import numpy as np
from benchenv import run_inside
from mot import Box4, assign_tracks, id_scores, iou

from app.analysis.track import Tracker
from app.domain import Box, Detection
from app.labels import kind
from app.objects import ObjectFilter

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".cache" / "bench" / "identity"
FPS = 5.0
LOST_S = 4.0  # ByteTrack keeps a lost track this long
SCORED_VISIBLE = 0.25  # truth less visible than this is not scored
MIN_HITS = 3  # the confirmation rule, as app.analysis.track applies it
SCORE_WINDOW = 10


# --- recordings ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TruthBox:
    id: int
    label: str
    box: Box4
    visible: float  # fraction of the object in view, 0..1


@dataclass(frozen=True, slots=True)
class RecFrame:
    t: float
    truth: tuple[TruthBox, ...]
    detections: tuple[Detection, ...]


@dataclass(frozen=True, slots=True)
class Recording:
    scene: str
    size: tuple[int, int]
    frames: tuple[RecFrame, ...]


def load(path: Path) -> Recording:
    data = json.loads(path.read_text())
    if data.get("version") != 1:
        raise SystemExit(f"{path}: unknown version {data.get('version')!r}")
    frames = tuple(
        RecFrame(
            t=float(f["t"]),
            truth=tuple(TruthBox(int(i), str(lab), _box4(b), float(v)) for i, lab, *b, v in f["truth"]),
            detections=tuple(Detection(str(lab), float(s), Box(*map(float, b))) for lab, s, *b in f["detections"]),
        )
        for f in data["frames"]
    )
    width, height = data["size"]
    return Recording(str(data["scene"]), (int(width), int(height)), frames)


def _box4(values: Sequence[Any]) -> Box4:
    x1, y1, x2, y2 = (float(v) for v in values)
    return (x1, y1, x2, y2)


# --- one interface for every tracker ----------------------------------------------------------


class Live(NamedTuple):
    """A live track after an update."""

    label: str
    box: Box4  # the box of its latest matched detection
    confirmed: bool
    seen: bool  # matched a detection on this frame


class Adapter(Protocol):
    def update(self, t: float, detections: Sequence[Detection]) -> dict[str, Live]: ...


Factory = Callable[[ObjectFilter, tuple[int, int]], Adapter]


def _b4(box: Box) -> Box4:
    return (box.x1, box.y1, box.x2, box.y2)


class Ours:
    def __init__(self, objects: ObjectFilter, size: tuple[int, int]) -> None:
        self._objects = objects
        self._tracker = Tracker("bench", confirm_score=objects.threshold)
        takes = inspect.signature(self._tracker.update).parameters
        self._weak = "weak" in takes
        self._extra: dict[str, Any] = {"frame_size": size} if "frame_size" in takes else {}

    def update(self, t: float, detections: Sequence[Detection]) -> dict[str, Live]:
        min_score = self._objects.min_score
        strong = [d for d in detections if d.score >= min_score(d.label)]
        extra = dict(self._extra)
        if self._weak:
            extra["weak"] = [d for d in detections if d.score < min_score(d.label)]
        result = self._tracker.update(strong, t, **extra)
        return {tr.id: Live(tr.label, _b4(tr.box), tr.confirmed, tr.last_seen == t) for tr in result.tracks}


class _Votes:
    """A library track's matched detections, for our confirmation rule and label vote."""

    __slots__ = ("confirmed", "counts", "hits", "label", "scores")

    def __init__(self, label: str, hits: int = 0) -> None:
        self.label = label
        self.counts: dict[str, int] = {label: 0}
        self.hits = hits
        self.scores: list[float] = []
        self.confirmed = False

    def add(self, det: Detection, threshold: Callable[[str], float]) -> None:
        self.hits += 1
        self.scores = [*self.scores[-(SCORE_WINDOW - 1) :], det.score]
        count = self.counts.get(det.label, 0) + 1
        self.counts[det.label] = count
        if count > self.counts[self.label]:
            self.label = det.label
        self.confirmed = self.confirmed or (
            self.hits >= MIN_HITS and statistics.median(self.scores) >= threshold(self.label)
        )


class ByteTrackAdapter:
    def __init__(self, objects: ObjectFilter, _size: tuple[int, int]) -> None:
        import supervision as sv

        self._sv = sv
        self._objects = objects
        self._per_kind: dict[str, Any] = {}  # kind → sv.ByteTrack
        self._votes: dict[str, _Votes] = {}

    def _tracker(self, key: str, label: str) -> Any:
        tracker = self._per_kind.get(key)
        if tracker is None:
            group = [x for x in self._objects.tracked if kind(x) == key] or [label]
            activation = min(self._objects.min_score(x) for x in group)
            with warnings.catch_warnings():  # deprecated in favour of `trackers`: see bench/benchenv.py
                warnings.simplefilter("ignore")
                tracker = self._sv.ByteTrack(
                    track_activation_threshold=activation,
                    lost_track_buffer=round(LOST_S * 30),  # frames at 30 fps; scaled by frame_rate/30
                    frame_rate=FPS,
                )
            self._per_kind[key] = tracker
        return tracker

    def update(self, _t: float, detections: Sequence[Detection]) -> dict[str, Live]:
        sv = self._sv
        by_kind: dict[str, list[Detection]] = {}
        for d in detections:
            by_kind.setdefault(kind(d.label), []).append(d)
        for key, dets in by_kind.items():
            self._tracker(key, dets[0].label)
        out: dict[str, Live] = {}
        alive: set[str] = set()
        for key, tracker in self._per_kind.items():
            dets = by_kind.get(key, [])
            found = sv.Detections(
                xyxy=np.array([_b4(d.box) for d in dets], dtype=np.float32).reshape(-1, 4),
                confidence=np.array([d.score for d in dets], dtype=np.float32),
                class_id=np.arange(len(dets)),  # carried through: which detection each track took
            )
            tracked = tracker.update_with_detections(found)
            if len(tracked) == 0:
                continue
            for index, track_id in zip(tracked.class_id.tolist(), tracked.tracker_id.tolist(), strict=True):
                det = dets[index]
                tid = f"bt-{key}-{track_id}"
                votes = self._votes.get(tid)
                if votes is None:  # its first detection was not reported (it is, on frame 1)
                    votes = self._votes[tid] = _Votes(det.label, hits=0 if tracker.frame_id == 1 else 1)
                votes.add(det, self._objects.threshold)
                out[tid] = Live(votes.label, _b4(det.box), votes.confirmed, True)
            alive.update(f"bt-{key}-{s.external_track_id}" for s in (*tracker.tracked_tracks, *tracker.lost_tracks))
        for tid in [tid for tid in self._votes if tid not in alive]:
            del self._votes[tid]
        return out


def frigate_like_distance(detection: Any, tracked: Any) -> float:
    """How far a detection is from a track's predicted box, after Frigate's distance: the move
    of the bottom centre in units of the predicted width and height, and how much the width and
    height changed (larger ÷ smaller − 1), as one Euclidean length. Boxes: [[x1, y1], [x2, y2]]."""
    (dx1, dy1), (dx2, dy2) = detection.points.tolist()
    (ex1, ey1), (ex2, ey2) = tracked.estimate.tolist()
    dw, dh, ew, eh = dx2 - dx1, dy2 - dy1, ex2 - ex1, ey2 - ey1
    if not (dw > 0 and dh > 0 and ew > 0 and eh > 0):  # also false for nan
        return float("inf")
    moved_x = ((dx1 + dx2) - (ex1 + ex2)) / 2 / ew
    moved_y = (max(dy1, dy2) - max(ey1, ey2)) / eh
    grew_w = max(dw, ew) / min(dw, ew) - 1.0
    grew_h = max(dh, eh) / min(dh, eh) - 1.0
    return float(np.sqrt(moved_x * moved_x + moved_y * moved_y + grew_w * grew_w + grew_h * grew_h))


class NorfairAdapter:
    def __init__(self, objects: ObjectFilter, _size: tuple[int, int]) -> None:
        from norfair import Detection as NfDetection
        from norfair import Tracker as NfTracker
        from norfair.filter import OptimizedKalmanFilterFactory

        self._nf_detection = NfDetection
        self._objects = objects
        common: dict[str, Any] = {
            "distance_function": frigate_like_distance,
            "distance_threshold": 2.5,
            "initialization_delay": max(int(FPS / 2), 2),
            "hit_counter_max": int(FPS * 5),
        }
        logging.disable(logging.WARNING)  # it suggests a vectorised distance: Frigate's is scalar too
        try:
            self._vehicles = NfTracker(filter_factory=OptimizedKalmanFilterFactory(R=3.4, Q=0.03), **common)
            self._others = NfTracker(filter_factory=OptimizedKalmanFilterFactory(R=3.4), **common)
        finally:
            logging.disable(logging.NOTSET)
        self._frame = 0
        self._votes: dict[Any, _Votes] = {}  # norfair TrackedObject → its votes

    def update(self, _t: float, detections: Sequence[Detection]) -> dict[str, Live]:
        self._frame += 1
        frame = self._frame
        min_score = self._objects.min_score
        vehicles: list[Any] = []
        others: list[Any] = []
        for d in detections:
            if d.score < min_score(d.label):
                continue
            key = kind(d.label)
            points = np.array([[d.box.x1, d.box.y1], [d.box.x2, d.box.y2]])
            (vehicles if key == "group:vehicle" else others).append(
                self._nf_detection(points=points, label=key, data=(frame, d))
            )
        out: dict[str, Live] = {}
        alive: set[Any] = set()
        for tracker, dets in ((self._vehicles, vehicles), (self._others, others)):
            active = tracker.update(detections=dets)
            for obj in tracker.tracked_objects:  # initialising ones too: their detections count
                alive.add(obj)
                seen_on, det = obj.last_detection.data
                if seen_on == frame:
                    votes = self._votes.get(obj)
                    if votes is None:
                        votes = self._votes[obj] = _Votes(det.label)
                    votes.add(det, self._objects.threshold)
            for obj in active:
                seen_on, det = obj.last_detection.data
                votes = self._votes[obj]
                out[f"nf-{obj.global_id}"] = Live(votes.label, _b4(det.box), votes.confirmed, seen_on == frame)
        for obj in [o for o in self._votes if o not in alive]:
            del self._votes[obj]
        return out


TRACKERS: dict[str, Factory] = {"ours": Ours, "bytetrack": ByteTrackAdapter, "norfair": NorfairAdapter}
LIBRARIES = ("norfair", "supervision")  # what the bench venv has and .venv has not


# --- running and scoring -----------------------------------------------------------------------


def run(factory: Factory, rec: Recording, objects: ObjectFilter) -> tuple[list[dict[str, Live]], list[float]]:
    """A fresh tracker over a recording: its output and the time of each update (ms)."""
    tracker = factory(objects, rec.size)
    outputs: list[dict[str, Live]] = []
    times: list[float] = []
    for frame in rec.frames:
        t0 = time.perf_counter_ns()
        outputs.append(tracker.update(frame.t, frame.detections))
        times.append((time.perf_counter_ns() - t0) / 1e6)
    return outputs, times


@dataclass(frozen=True, slots=True)
class Scored:
    truth: list[dict[int, Box4]]  # scored truth per frame (visible enough)
    hyps: list[dict[str, Box4]]  # confirmed tracks seen on the frame, not lying on hidden truth
    all_truth: list[dict[int, Box4]]
    all_hyps: list[dict[str, Box4]]
    visits: int


def scored(rec: Recording, outputs: Sequence[dict[str, Live]], pool: int | None = None) -> Scored:
    """Per frame, what is scored. `pool`: the scene's number when several are pooled, to keep
    their ids apart."""
    prefix = "" if pool is None else f"{rec.scene}/"
    offset = 0 if pool is None else (pool + 1) * 1_000_000
    truth: list[dict[int, Box4]] = []
    hyps: list[dict[str, Box4]] = []
    all_truth: list[dict[int, Box4]] = []
    all_hyps: list[dict[str, Box4]] = []
    visible: set[int] = set()
    for frame, out in zip(rec.frames, outputs, strict=True):
        boxes = {f"{prefix}{tid}": live.box for tid, live in out.items() if live.confirmed and live.seen}
        truth.append({offset + tb.id: tb.box for tb in frame.truth if tb.visible >= SCORED_VISIBLE})
        all_truth.append({offset + tb.id: tb.box for tb in frame.truth})
        visible.update(tb.id for tb in frame.truth if tb.visible >= SCORED_VISIBLE)
        all_hyps.append(boxes)
        hyps.append({hid: box for hid, box in boxes.items() if not _on_hidden(box, frame.truth)})
    return Scored(truth, hyps, all_truth, all_hyps, len(visible))


def _on_hidden(box: Box4, truth: Sequence[TruthBox]) -> bool:
    """Is the truth box this box overlaps most one too hidden to be scored?"""
    best, overlap = None, 0.0
    for tb in truth:
        o = iou(box, tb.box)
        if o > overlap:
            best, overlap = tb, o
    return best is not None and best.visible < SCORED_VISIBLE


@dataclass(frozen=True, slots=True)
class Row:
    scene: str
    tracker: str
    frames: int
    visits: int
    events: int  # confirmed track ids assigned to a true object
    ghosts: int  # confirmed track ids matching no true object
    idf1: float
    id_switches: int
    mean_ms: float
    p95_ms: float

    @property
    def events_per_visit(self) -> float:
        return self.events / self.visits if self.visits else float("nan")


def row(scene: str, tracker: str, parts: Sequence[Scored], times: Sequence[float]) -> Row:
    truth = [f for p in parts for f in p.truth]
    hyps = [f for p in parts for f in p.hyps]
    owners = assign_tracks([f for p in parts for f in p.all_truth], [f for p in parts for f in p.all_hyps])
    ids = id_scores(truth, hyps)
    ts = sorted(times)
    return Row(
        scene=scene,
        tracker=tracker,
        frames=len(truth),
        visits=sum(p.visits for p in parts),
        events=sum(owner is not None for owner in owners.values()),
        ghosts=sum(owner is None for owner in owners.values()),
        idf1=ids.idf1,
        id_switches=ids.id_switches,
        mean_ms=statistics.fmean(ts) if ts else 0.0,
        p95_ms=ts[int(0.95 * (len(ts) - 1))] if ts else 0.0,
    )


def table(rows: Sequence[Row]) -> str:
    head = f"{'scene':<14} {'tracker':<10} {'frames':>6} {'IDF1':>6} {'IDsw':>5} {'visits':>6} "
    head += f"{'events/visit':>12} {'ghosts':>6} {'ms mean':>8} {'ms p95':>7}"
    lines = [head]
    for r in rows:
        lines.append(
            f"{r.scene:<14} {r.tracker:<10} {r.frames:6d} {r.idf1:6.3f} {r.id_switches:5d} {r.visits:6d} "
            f"{r.events_per_visit:12.2f} {r.ghosts:6d} {r.mean_ms:8.3f} {r.p95_ms:7.3f}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("files", nargs="*", type=Path, help=f"default: {WORK}/*.detections.json")
    parser.add_argument("--tracker", action="append", choices=TRACKERS, help="default: all")
    args = parser.parse_args(argv)
    names: list[str] = args.tracker or list(TRACKERS)
    if names != ["ours"]:
        run_inside(LIBRARIES)
    files: list[Path] = args.files or sorted(WORK.glob("*.detections.json"))
    if not files:
        raise SystemExit(f"no recordings: run bench/identity.py first (it writes {WORK}/*.detections.json)")
    recordings = [load(f) for f in files]
    objects = ObjectFilter.default()
    for name in names:  # warm-up: first calls import and allocate
        run(TRACKERS[name], recordings[0], objects)
    rows: list[Row] = []
    pooled: dict[str, tuple[list[Scored], list[float]]] = {n: ([], []) for n in names}
    for k, rec in enumerate(recordings):
        for name in names:
            outputs, times = run(TRACKERS[name], rec, objects)
            rows.append(row(rec.scene, name, [scored(rec, outputs)], times))
            pooled[name][0].append(scored(rec, outputs, pool=k))
            pooled[name][1].extend(times)
    rows += [row("TOTAL", name, parts, times) for name, (parts, times) in pooled.items()]
    print(f"{len(recordings)} recording(s): {', '.join(str(f) for f in files)}")
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
