"""Per-camera object tracker: successive frames' detections → tracks with stable ids.

Pure logic: time comes in as `now` (seconds on the pipeline's monotonic clock), there is
no clock, thread or I/O here, and only frozen `Track` values leave the package.

Matching rules, applied on every `update(detections, now)`:

1. Age out first: a track not matched for longer than `max_age` seconds ends before
   matching, so a stale track can never be revived by a lookalike that appears later.
   A stationary track is given `stationary_max_age` instead (30 s by default): a parked
   car hidden for a while behind someone walking past comes back as the same track, still
   stationary, rather than as a new arrival that a vehicle rule would alert on. Its
   prediction is its last box, so it matches again by overlap when it reappears.
2. Each live track predicts its box at `now`: the centre moves with its smoothed velocity,
   damped (v·τ·(1 − e^(−dt/τ)), τ = 2 s: ≈ v·dt over a missed frame or two, bounded over
   long gaps) and capped at two box sizes; the size follows its smoothed growth rate but
   is clamped to ×0.8..×1.25. A stationary track predicts exactly its last box.
3. A detection may only match a track with the same label, or a label of the same group
   in `app.labels.GROUPS` (car/truck/bus flicker); the track's label is the majority
   vote of everything it matched (ties keep the current label).
4. Pass 1, overlap: pairs with IoU(predicted box, detection) ≥ `iou_threshold`, assigned
   greedily highest IoU first (ties: confirmed tracks, then older tracks, first).
5. Pass 2, centre distance, for what pass 1 left: a detection whose centre lies less than
   one box size (the longer side of the predicted box) from the predicted centre and whose
   area is within ×½..×2 of it matches, nearest (relative to box size) first. This keeps
   small or fast objects whose boxes no longer overlap — e.g. a new track that has no
   velocity yet, or a person moving more than their own width between detections.
6. Weak detections (below their class's `min_score`, handed in separately as `weak`) may
   only continue a confirmed track that nothing else matched, by overlap (ByteTrack's second
   stage): a person whose score dips to 0.3-0.5 for a second keeps their id, and a weak
   detection never starts a track.
7. A detection inside the predicted box of a confirmed track that nothing else matched is a
   part of that object (a crop or a passer-by cut it): it keeps the track alive at its
   predicted box, and never becomes a second object. Nor does a detection inside a track
   matched on this frame, or inside where a still object stands.
8. Every detection left over starts a new, unconfirmed track.
9. A moving track that was last seen at the frame's edge, heading out, and is not matched
   has left the frame: it ends at once (it would otherwise linger as a count and could
   swallow the next visitor coming in there).

Confirmation: after `min_hits` matches, once the median of the track's recent scores
reaches the threshold of its current (majority) label — `confirm_score`, one number or a
function of the label (app.objects: small, false-positive-prone classes need more). A
moving track is judged on its latest `min_hits` scores, and when it is coming in over the
frame's edge (cut by it on the first of those looks, 1.3x larger on the last), on the best of
them: a half-visible person's score says how much of them shows, not whether they are real.
A box that only jitters at the edge (a coat on a hook) is judged on the median.
Something that does not park (a person, an animal), seen at one spot since it first
appeared, that never moved and never had motion of its own under it (a boulder, a bin bag,
a shadow) needs stronger evidence: `STATIC_EVIDENCE` seconds of it, at a median of
`STATIC_MARGIN` above its threshold. Anything alive moves, and motion confirms it at once.

Still periods, stationary and parked (and which smaller box inside where a still thing stands
is it partly hidden) are `app.analysis.parking.Stillness`'s to decide.

Confirmed tracks live `confirmed_max_age` unseen (a person hidden behind a passer-by or a
post for a few seconds keeps their id); unconfirmed ones `max_age`.

Greedy is not always the optimal assignment, but with a prediction in front of it the
ambiguous cases are rare, and it is O(n² log n) with tiny constants for ≤ 20 objects.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from app.analysis.geometry import Geom, box_geom, part_of
from app.analysis.track.matching import assign, centre_pairs, overlap_pairs, part_pairs, weak_pairs
from app.analysis.track.state import Det, Rules, State, stirs
from app.domain import Box, Detection, Track
from app.labels import kind

# A detector often makes a part of a still object reach a little past it (a wheel, a shadow):
# inside where it stands by this much, it is still that object, never a new one.
_STANDING_INSIDE = 0.6
# Motion over this share of a stationary object's box: it may be moving itself (a car that
# drives off moves over most of its box), look at it now. A person walking past in front of a
# parked car covers a little of it, and the crop around them shows the part of it they hide.
_STIRRED = 0.25
# A box this close to the frame's edge (fraction of the frame's shorter side) is cut by it.
_EDGE = 0.01


@dataclass(frozen=True, slots=True)
class TrackerUpdate:
    tracks: tuple[Track, ...]  # every live track after this update (confirmed or not)
    ended: tuple[Track, ...]  # tracks that ended in this update (last state), confirmed ones only


@dataclass(frozen=True, slots=True)
class Watch:
    """Where the live tracks are expected: the boxes to look at on this frame."""

    moving: tuple[Box, ...]  # moving tracks, and stationary ones that motion covers a quarter of
    due: tuple[Box, ...]  # stationary tracks due for their periodic re-check


class Tracker:
    """Tracks the objects of one camera; call `update` once per detected frame, in time order."""

    def __init__(
        self,
        camera: str,
        *,
        min_hits: int = 3,
        confirm_score: float | Callable[[str], float] = 0.0,
        max_age: float = 2.0,
        confirmed_max_age: float = 4.0,
        stationary_max_age: float = 30.0,
        iou_threshold: float = 0.2,
        stationary_after: float = 10.0,
        stationary_tolerance: float = 0.05,
    ) -> None:
        """`confirm_score`: one threshold for every label, or a function label → threshold.
        `confirmed_max_age` and `stationary_max_age` below `max_age` count as `max_age`."""
        if min_hits < 1:
            raise ValueError(f"min_hits must be >= 1, got {min_hits}")
        if not max_age > 0:
            raise ValueError(f"max_age must be > 0 s, got {max_age}")
        if not stationary_max_age > 0:
            raise ValueError(f"stationary_max_age must be > 0 s, got {stationary_max_age}")
        if not 0 < iou_threshold <= 1:
            raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold}")
        if not stationary_after >= 0:
            raise ValueError(f"stationary_after must be >= 0 s, got {stationary_after}")
        if not stationary_tolerance >= 0:
            raise ValueError(f"stationary_tolerance must be >= 0, got {stationary_tolerance}")
        self._camera = camera
        self._max_age = max_age
        self._confirmed_max_age = max(confirmed_max_age, max_age)
        self._stationary_max_age = max(stationary_max_age, self._confirmed_max_age)
        self._iou_threshold = iou_threshold
        confirm = confirm_score if callable(confirm_score) else _constant(confirm_score)
        self._rules = Rules(min_hits, confirm, stationary_after, stationary_tolerance)
        self._next_id = 1
        self._live: list[State] = []  # creation order
        self._now = -math.inf

    def update(
        self,
        detections: Sequence[Detection],
        now: float,
        *,
        weak: Sequence[Detection] = (),
        frame_size: tuple[int, int] | None = None,
        motion: Sequence[Box] | None = None,
    ) -> TrackerUpdate:
        """`detections`: what the detector is sure enough of; `weak`: what it saw below its
        class's `min_score` (only ever continues a confirmed track); `frame_size`: to see tracks
        leave; `motion`: the frame's moving areas, evidence that a still thing is alive (None:
        not known, so nothing is held back for want of it)."""
        if now < self._now:  # velocities and ages would go wrong silently
            raise ValueError(f"time went backwards: {now} < {self._now}")
        self._now = now
        ended: list[Track] = []
        live = self._age_out(now, ended)  # rule 1
        moving = None if motion is None else [box_geom(b) for b in motion]
        dets = [Det(d, box_geom(d.box), kind(d.label), _cut(d.box, frame_size)) for d in detections]
        det_taken = self._match(live, dets, weak, now, moving)  # rules 2-7
        self._start(live, dets, det_taken, now, moving)  # rules 7-8
        live = _drop_parked_pieces(live, now)
        if frame_size is not None:  # rule 9
            live = _see_off(live, now, frame_size, ended)
        self._live = live
        return TrackerUpdate(tracks=tuple(s.track() for s in live), ended=tuple(ended))

    def predicted_boxes(self, now: float) -> tuple[Box, ...]:
        """Where each live track (confirmed or not, creation order) is expected at `now`."""
        return tuple(box for box, _ in self._expected(now))

    def watch(self, now: float, motion: Sequence[Box], recheck: float) -> Watch:
        """Where to look for the live tracks at `now`. A moving track is looked for on every
        frame; a stationary one when motion covers enough of it that it may be moving itself,
        or once `recheck` seconds have passed since it was last seen (and on every frame from
        then until it is seen again or ages out). A parked car would otherwise cost an invoke
        on every frame while it stands, and a passer-by in front of it a second crop on every
        frame they walk. `recheck` must stay well under `stationary_max_age`."""
        moving: list[Box] = []
        due: list[Box] = []
        for box, state in self._expected(now):
            if not state.still.stationary:
                moving.append(box)
            elif now - state.last_seen >= recheck:
                due.append(box)
            elif sum(_overlap(box, m) for m in motion) >= _STIRRED * box.area:
                moving.append(box)
        return Watch(tuple(moving), tuple(due))

    def _expected(self, now: float) -> list[tuple[Box, State]]:
        out: list[tuple[Box, State]] = []
        for state in self._live:
            if now - state.last_seen <= self._age_limit(state):  # the next update would end the others
                x1, y1, x2, y2, *_ = state.predict(now)
                out.append((Box(x1, y1, x2, y2), state))
        return out

    def _age_out(self, now: float, ended: list[Track]) -> list[State]:
        """The tracks still alive at `now`; the confirmed ones that aged out go to `ended`
        (unconfirmed ones were never announced: they vanish silently)."""
        live: list[State] = []
        for state in self._live:
            if now - state.last_seen <= self._age_limit(state):
                live.append(state)
            elif state.confirmed:
                ended.append(state.track())
        return live

    def _match(
        self, live: list[State], dets: list[Det], weak: Sequence[Detection], now: float, moving: list[Geom] | None
    ) -> list[bool]:
        """Matches the detections (and the weak ones) to the live tracks and updates those;
        returns which detections were taken."""
        rules = self._rules
        preds = [s.predict(now) for s in live]
        track_taken = [False] * len(live)
        det_taken = [False] * len(dets)
        matches = assign(overlap_pairs(live, preds, dets, self._iou_threshold, now), track_taken, det_taken)
        if not all(track_taken) and not all(det_taken):
            matches += assign(centre_pairs(live, preds, dets, track_taken, det_taken), track_taken, det_taken)
        for ti, di in matches:
            live[ti].take(dets[di], now, rules, moving)

        if weak and not all(track_taken):
            weak_dets = [Det(d, box_geom(d.box), kind(d.label)) for d in weak]  # continue confirmed tracks only
            weak_taken = [False] * len(weak_dets)
            pairs = weak_pairs(live, preds, weak_dets, track_taken)
            for ti, di in assign(pairs, track_taken, weak_taken):
                live[ti].take(weak_dets[di], now, rules, moving)

        # A part of a confirmed object that nothing else matched keeps it alive where expected.
        if not all(track_taken) and not all(det_taken):
            for ti, di in assign(part_pairs(live, preds, dets, track_taken, det_taken), track_taken, det_taken):
                live[ti].glimpse(dets[di], now, rules, preds[ti])
        return det_taken

    def _start(
        self, live: list[State], dets: list[Det], det_taken: list[bool], now: float, moving: list[Geom] | None
    ) -> None:
        """What is left starts new tracks, except parts of what is already there: a part of an
        object seen on this frame, or the other visible part of a still object that a
        passer-by cuts in two (the parked car on both sides of them): not a second object."""
        wholes = [(s.key, box_geom(s.box)) for s in live if s.last_seen == now]
        standing = [(s.key, s.still.anchor) for s in live if s.last_seen == now and s.still.settled(now)]
        for di, det in enumerate(dets):
            if det_taken[di]:
                continue
            if any(k == det.key and part_of(det.geom, a) for k, a in wholes) or any(
                k == det.key and part_of(det.geom, a, _STANDING_INSIDE) for k, a in standing
            ):
                continue
            live.append(State(f"{self._camera}-{self._next_id}", det, now, self._rules, stirs(det.geom, moving)))
            self._next_id += 1

    def _age_limit(self, state: State) -> float:
        """How long a track may go unmatched: a parked object may be hidden for a while, and a
        confirmed one behind a passer-by for a few seconds."""
        if state.still.stationary:
            return self._stationary_max_age
        return self._confirmed_max_age if state.confirmed else self._max_age


def _drop_parked_pieces(live: list[State], now: float) -> list[State]:
    """An unconfirmed track lying inside where a parked thing of its kind stands is a piece of
    it (a passer-by cut it up, the detector boxed a wheel): it never becomes an object."""
    parked = [(s.key, s.still.anchor) for s in live if s.parked(now)]
    if not parked:
        return live
    return [
        s
        for s in live
        if s.confirmed
        or not any(
            k == s.key and a is not s.still.anchor and part_of(box_geom(s.box), a, _STANDING_INSIDE) for k, a in parked
        )
    ]


def _overlap(a: Box, b: Box) -> float:
    return max(0.0, min(a.x2, b.x2) - max(a.x1, b.x1)) * max(0.0, min(a.y2, b.y2) - max(a.y1, b.y1))


def _cut(box: Box, frame: tuple[int, int] | None) -> bool:
    """Does the frame's edge cut this box (only part of its object in view)?"""
    if frame is None:
        return False
    width, height = frame
    margin = _EDGE * min(width, height)
    return box.x1 <= margin or box.y1 <= margin or box.x2 >= width - margin or box.y2 >= height - margin


def _see_off(live: list[State], now: float, frame: tuple[int, int], ended: list[Track]) -> list[State]:
    """Tracks that walked out of the frame end now (the confirmed ones go to `ended`)."""
    staying = []
    for state in live:
        if state.last_seen < now and state.leaving(now, frame):
            if state.confirmed:
                ended.append(state.track())
        else:
            staying.append(state)
    return staying


def _constant(score: float) -> Callable[[str], float]:
    def confirm_score(_label: str) -> float:
        return score

    return confirm_score
