"""Multi-object tracking metrics against known truth, shared by the identity and tracker benchmarks.

Input is one entry per processed frame: truth object id → box and hypothesis (track or event)
id → box, boxes as `Box4` (x1, y1, x2, y2 in pixels). IDF1, ID switches, MOTA, precision and
recall come from `motmetrics` (py-motmetrics, the maintained implementation of the CLEAR-MOT
and identity metrics); this module only turns frames into its accumulator. Two details of
motmetrics 1.4 are handled here: its `distances.iou_matrix` calls `np.asfarray`, which numpy 2
removed, so the IoU distance matrix is computed here (same definition: 1 − IoU, no match past
`1 − min_iou`); and its event table stores ids as floats, so string hypothesis ids are
numbered before they go in.

`assign_tracks` answers the other question the benchmarks ask: which true object, if any, a
track (or event) stands for, so that events per visit and ghosts can be counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import motmetrics as mm
import numpy as np
import numpy.typing as npt

Box4 = tuple[float, float, float, float]  # x1, y1, x2, y2 pixels


@dataclass(frozen=True, slots=True)
class IdScores:
    idf1: float  # identity F1: 2·IDTP / (truth boxes + hypothesis boxes); nan with nothing to score
    id_switches: int  # a truth object's matched hypothesis changed (CLEAR-MOT IDSW)
    mota: float  # 1 − (misses + false positives + switches) / truth boxes
    precision: float  # matched hypothesis boxes / hypothesis boxes
    recall: float  # matched truth boxes / truth boxes
    frames: int


_METRICS = ("idf1", "num_switches", "mota", "precision", "recall", "num_frames")


def iou(a: Box4, b: Box4) -> float:
    ix = min(a[2], b[2]) - max(a[0], b[0])
    iy = min(a[3], b[3]) - max(a[1], b[1])
    if ix <= 0 or iy <= 0:
        return 0.0
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def iou_matrix(truth: Sequence[Box4], hyps: Sequence[Box4]) -> npt.NDArray[np.float64]:
    """IoU of every truth box (rows) with every hypothesis box (columns)."""
    if not truth or not hyps:
        return np.zeros((len(truth), len(hyps)))
    t = np.asarray(truth, dtype=np.float64)[:, None, :]
    h = np.asarray(hyps, dtype=np.float64)[None, :, :]
    ix = np.clip(np.minimum(t[..., 2], h[..., 2]) - np.maximum(t[..., 0], h[..., 0]), 0.0, None)
    iy = np.clip(np.minimum(t[..., 3], h[..., 3]) - np.maximum(t[..., 1], h[..., 1]), 0.0, None)
    inter = ix * iy
    area_t = np.clip(t[..., 2] - t[..., 0], 0.0, None) * np.clip(t[..., 3] - t[..., 1], 0.0, None)
    area_h = np.clip(h[..., 2] - h[..., 0], 0.0, None) * np.clip(h[..., 3] - h[..., 1], 0.0, None)
    union = area_t + area_h - inter
    out: npt.NDArray[np.float64] = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    return out


def id_scores(
    truth: Sequence[Mapping[int, Box4]], hypotheses: Sequence[Mapping[str, Box4]], *, min_iou: float = 0.5
) -> IdScores:
    """Per frame: truth object id → box, hypothesis (track) id → box; IDF1 etc. computed with
    motmetrics (IoU distance, max distance 1 - min_iou)."""
    if len(truth) != len(hypotheses):
        raise ValueError(f"{len(truth)} truth frames but {len(hypotheses)} hypothesis frames")
    if not 0 < min_iou <= 1:
        raise ValueError(f"min_iou must be in (0, 1], got {min_iou}")
    numbers: dict[str, int] = {}  # motmetrics stores ids as floats
    acc = mm.MOTAccumulator(auto_id=True)
    for t_frame, h_frame in zip(truth, hypotheses, strict=True):
        oids = list(t_frame)
        hids = [numbers.setdefault(h, len(numbers)) for h in h_frame]
        overlap = iou_matrix(list(t_frame.values()), list(h_frame.values()))
        dist = np.where(overlap >= min_iou, 1.0 - overlap, np.nan)
        acc.update(oids, hids, dist)
    summary = mm.metrics.create().compute(acc, metrics=list(_METRICS), name="all")
    row = summary.loc["all"]
    return IdScores(
        idf1=float(row["idf1"]),
        id_switches=int(row["num_switches"]),
        mota=float(row["mota"]),
        precision=float(row["precision"]),
        recall=float(row["recall"]),
        frames=int(row["num_frames"]),
    )


def assign_tracks(
    truth: Sequence[Mapping[int, Box4]], hypotheses: Sequence[Mapping[str, Box4]], *, min_iou: float = 0.3
) -> dict[str, int | None]:
    """Each hypothesis id → the truth id it overlaps (IoU >= min_iou) in most of its frames, or
    None (it matches no true object).

    On each frame a hypothesis box overlaps the truth box it has the highest IoU with, if that
    reaches `min_iou`. It is assigned the truth id it overlapped most often, provided that is at
    least half of the frames it appears in (ties between truth ids: the lower id)."""
    if len(truth) != len(hypotheses):
        raise ValueError(f"{len(truth)} truth frames but {len(hypotheses)} hypothesis frames")
    frames: Counter[str] = Counter()
    votes: dict[str, Counter[int]] = {}
    for t_frame, h_frame in zip(truth, hypotheses, strict=True):
        tids = list(t_frame)
        overlap = iou_matrix(list(t_frame.values()), list(h_frame.values()))
        for col, hid in enumerate(h_frame):
            frames[hid] += 1
            counter = votes.setdefault(hid, Counter())
            if tids:
                row = int(np.argmax(overlap[:, col]))
                if overlap[row, col] >= min_iou:
                    counter[tids[row]] += 1
    out: dict[str, int | None] = {}
    for hid, seen in frames.items():
        ranked = sorted(votes[hid].items(), key=lambda kv: (-kv[1], kv[0]))
        out[hid] = ranked[0][0] if ranked and 2 * ranked[0][1] >= seen else None
    return out
