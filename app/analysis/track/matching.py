"""Candidate pairs (track × detection) for each matching pass, and the greedy assignment.

A pair is (cost, unconfirmed, track index, detection index): it sorts best first, then
confirmed, then older tracks, then detection order, so equal costs resolve deterministically.
"""

from __future__ import annotations

import math

from app.analysis.geometry import EPS, Geom, iou, part_of
from app.analysis.track.state import Det, State

_AREA_RATIO = 2.0  # centre-distance matches need roughly the same size
_WEAK_IOU = 0.3  # a weak detection continues a track only by this much overlap with its prediction

Pair = tuple[float, bool, int, int]


def overlap_pairs(live: list[State], preds: list[Geom], dets: list[Det], threshold: float, now: float) -> list[Pair]:
    """IoU pairs; and for a track that has stood still a while, a detection inside where it
    stands (it is partly hidden) or around it (it shows again), ranked after any IoU pair."""
    pairs: list[Pair] = []
    for ti, (state, p) in enumerate(zip(live, preds, strict=True)):
        still = state.still.settled(now)
        for di, det in enumerate(dets):
            if det.key == state.key:
                overlap = iou(p, det.geom)
                if overlap >= threshold:
                    pairs.append((-overlap, not state.confirmed, ti, di))
                elif still and (part_of(det.geom, p) or part_of(p, det.geom)):
                    pairs.append((0.0, not state.confirmed, ti, di))
    return pairs


def centre_pairs(
    live: list[State], preds: list[Geom], dets: list[Det], track_taken: list[bool], det_taken: list[bool]
) -> list[Pair]:
    """Free tracks × free detections whose centre lies within one box size of the prediction
    and whose area is within ×½..×2 of it, nearest (relative to box size) first."""
    pairs: list[Pair] = []
    for ti, (state, p) in enumerate(zip(live, preds, strict=True)):
        if track_taken[ti]:
            continue
        size = max(p[6], p[7], EPS)
        area = max(p[6] * p[7], EPS)
        for di, det in enumerate(dets):
            if det_taken[di] or det.key != state.key:
                continue
            g = det.geom
            rel = math.hypot(g[4] - p[4], g[5] - p[5]) / size
            if rel < 1.0 and 1 / _AREA_RATIO <= g[6] * g[7] / area <= _AREA_RATIO:
                pairs.append((rel, not state.confirmed, ti, di))
    return pairs


def weak_pairs(live: list[State], preds: list[Geom], dets: list[Det], track_taken: list[bool]) -> list[Pair]:
    """Confirmed tracks nothing matched × weak detections overlapping their prediction."""
    pairs: list[Pair] = []
    for ti, (state, p) in enumerate(zip(live, preds, strict=True)):
        if track_taken[ti] or not state.confirmed:
            continue
        for di, det in enumerate(dets):
            if det.key == state.key:
                overlap = iou(p, det.geom)
                if overlap >= _WEAK_IOU:
                    pairs.append((-overlap, False, ti, di))
    return pairs


def part_pairs(
    live: list[State], preds: list[Geom], dets: list[Det], track_taken: list[bool], det_taken: list[bool]
) -> list[Pair]:
    """Confirmed tracks nothing matched × detections lying inside their prediction, largest first."""
    pairs: list[Pair] = []
    for ti, (state, p) in enumerate(zip(live, preds, strict=True)):
        if track_taken[ti] or not state.confirmed:
            continue
        for di, det in enumerate(dets):
            if not det_taken[di] and det.key == state.key and part_of(det.geom, p):
                pairs.append((-det.geom[6] * det.geom[7] / max(p[6] * p[7], EPS), False, ti, di))
    return pairs


def assign(pairs: list[Pair], track_taken: list[bool], det_taken: list[bool]) -> list[tuple[int, int]]:
    """Greedy: take the best remaining pair whose track and detection are both still free."""
    out: list[tuple[int, int]] = []
    for _, _, ti, di in sorted(pairs):
        if not (track_taken[ti] or det_taken[di]):
            track_taken[ti] = det_taken[di] = True
            out.append((ti, di))
    return out
