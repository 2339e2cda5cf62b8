"""Per-camera object tracker: successive frames' detections → tracks with stable ids.

Pure logic: time comes in as `now` (seconds on the pipeline's monotonic clock), there is
no clock, thread or I/O here, and only frozen `Track` values leave the module.

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
function of the label (app.objects: small, false-positive-prone classes need more).
Something that does not park (a person, an animal), seen at one spot since it first
appeared, that never moved and never had motion of its own under it (a boulder, a bin bag,
a shadow) needs stronger evidence: `STATIC_EVIDENCE` seconds of it, at a median of
`STATIC_MARGIN` above its threshold. Anything alive moves, and motion confirms it at once.

Confirmed tracks live `confirmed_max_age` unseen (a person hidden behind a passer-by or a
post for a few seconds keeps their id); unconfirmed ones `max_age`.

Greedy is not always the optimal assignment, but with a prediction in front of it the
ambiguous cases are rare, and it is O(n² log n) with tiny constants for ≤ 20 objects.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from app.domain import Box, Detection, Track
from app.labels import PARKS, kind

_SMOOTHING = 0.5  # weight of the newest motion measurement in the velocity average
_TAU = 2.0  # s, damping time of the constant-velocity prediction
_MAX_JUMP = 2.0  # a prediction moves at most this many box sizes (one bad match cannot fling it)
_MIN_SCALE, _MAX_SCALE = 0.8, 1.25  # clamp of the predicted size change
_AREA_RATIO = 2.0  # centre-distance matches need roughly the same size
_EPS = 1e-6
# A box at most this much of a still object's, this much inside it, is that object partly hidden.
_HIDDEN_SMALLER = 0.8
_HIDDEN_INSIDE = 0.85
_HIDDEN_SHOWING = 0.95  # what shows of a partly hidden still object is at most this much of it
_STILL_FOR_HIDING = 1.0  # s still before a track may be matched that way
# A detector often makes a part of a still object reach a little past it (a wheel, a shadow):
# inside where it stands by this much, it is still that object, never a new one.
_STANDING_INSIDE = 0.6
_OUT_OF_FRAME = 0.4  # a moving track predicted this much outside the frame has left it
_SCORE_WINDOW = 10  # matches whose median decides confirmation
_WEAK_IOU = 0.3  # a weak detection continues a track only by this much overlap with its prediction
# Something that never moved and never stirred (not a thing that parks) needs this long, at
# this much above its threshold, before it is believed: a boulder is not a dog.
STATIC_EVIDENCE = 5.0
STATIC_MARGIN = 0.1
# Motion under a box is the object's own when the moving area is not much larger than the box
# (a light change or a gust moves half the frame at once, which proves nothing).
_OWN_MOTION_OVERLAP = 0.2
_OWN_MOTION_AREA = 4.0

# (x1, y1, x2, y2, cx, cy, w, h): plain floats, the inner loop builds no objects
_Geom = tuple[float, float, float, float, float, float, float, float]


def _geom(cx: float, cy: float, w: float, h: float) -> _Geom:
    return (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, cx, cy, w, h)


def _box_geom(box: Box) -> _Geom:
    return _geom((box.x1 + box.x2) / 2, (box.y1 + box.y2) / 2, box.width, box.height)


def _iou(a: _Geom, b: _Geom) -> float:
    ix = min(a[2], b[2]) - max(a[0], b[0])
    if ix <= 0:
        return 0.0
    iy = min(a[3], b[3]) - max(a[1], b[1])
    if iy <= 0:
        return 0.0
    inter = ix * iy
    union = a[6] * a[7] + b[6] * b[7] - inter
    return inter / union if union > 0 else 0.0


@dataclass(frozen=True, slots=True)
class _Det:
    det: Detection
    geom: _Geom
    key: str


@dataclass(frozen=True, slots=True)
class _Rules:
    """What a track needs to know of the tracker's settings to update itself."""

    min_hits: int
    confirm_score: Callable[[str], float]  # per label: median score of the recent matches needed to confirm
    still_after: float
    still_tolerance: float


@dataclass(frozen=True, slots=True)
class TrackerUpdate:
    tracks: tuple[Track, ...]  # every live track after this update (confirmed or not)
    ended: tuple[Track, ...]  # tracks that ended in this update (last state), confirmed ones only


class _State:
    """One track's mutable state; private to the Tracker."""

    __slots__ = (
        "anchor",
        "anchor_since",
        "box",
        "confirmed",
        "cx",
        "cy",
        "first_seen",
        "gh",
        "gw",
        "h",
        "hits",
        "id",
        "key",
        "label",
        "label_counts",
        "last_seen",
        "moves",
        "origin",
        "recent_scores",
        "score",
        "snapshot",
        "stationary",
        "stirred",
        "top_score",
        "vx",
        "vy",
        "w",
    )

    def __init__(self, track_id: str, d: _Det, now: float, rules: _Rules, stirred: bool) -> None:
        det = d.det
        self.id = track_id
        self.label = det.label
        self.key = d.key  # fixed for life: only compatible labels can join
        self.label_counts: dict[str, int] = {det.label: 1}
        self.score = det.score
        self.top_score = det.score
        self.box = det.box
        self.origin = det.box
        *_, self.cx, self.cy, self.w, self.h = d.geom
        self.first_seen = now
        self.last_seen = now
        self.hits = 1
        self.recent_scores: list[float] = [det.score]
        self.vx = self.vy = self.gw = self.gh = 0.0  # px/s and log-size/s
        self.moves = 0  # motion measurements so far (0: velocity unknown)
        self.anchor: _Geom = d.geom  # where the current still period began
        self.anchor_since = now
        self.stationary = rules.still_after <= 0
        self.stirred = stirred  # motion of its own was seen under it at least once
        self.confirmed = False
        self.snapshot: Track | None = None  # cached; unmatched tracks do not change
        self._confirm(now, rules)

    def predict(self, now: float) -> _Geom:
        dt = now - self.last_seen
        if self.stationary or dt <= 0 or self.moves == 0:
            return _geom(self.cx, self.cy, self.w, self.h)
        t = _TAU * (1.0 - math.exp(-dt / _TAU))
        dx, dy = self.vx * t, self.vy * t
        limit = _MAX_JUMP * max(self.w, self.h)
        dist = math.hypot(dx, dy)
        if dist > limit:
            dx, dy = dx * limit / dist, dy * limit / dist
        sw = min(max(math.exp(self.gw * t), _MIN_SCALE), _MAX_SCALE)
        sh = min(max(math.exp(self.gh * t), _MIN_SCALE), _MAX_SCALE)
        return _geom(self.cx + dx, self.cy + dy, self.w * sw, self.h * sh)

    def take(self, d: _Det, now: float, rules: _Rules, moving: list[_Geom] | None) -> None:
        """A detection matched this track."""
        if self.parked(now) and _within(d.geom, self.anchor) and _area(d.geom) <= _area(self.anchor):
            # Mostly inside where it stands and no larger: it is partly hidden, still all there.
            # (A detector's box of a partly hidden thing reaches out a little anywhere; one that
            # drives off leaves the spot by more than that within a second.)
            self.glimpse(d, now, rules, self.anchor)
        else:
            self.match(d, now, rules, _stirs(d.geom, moving))

    def match(self, d: _Det, now: float, rules: _Rules, stirred: bool) -> None:
        det, geom = d.det, d.geom
        *_, cx, cy, w, h = geom
        dt = now - self.last_seen
        if dt > 0:  # two detections at the same instant carry no motion information
            mvx, mvy = (cx - self.cx) / dt, (cy - self.cy) / dt
            mgw = math.log(max(w, _EPS) / max(self.w, _EPS)) / dt
            mgh = math.log(max(h, _EPS) / max(self.h, _EPS)) / dt
            a = 1.0 if self.moves == 0 else _SMOOTHING
            self.vx += a * (mvx - self.vx)
            self.vy += a * (mvy - self.vy)
            self.gw += a * (mgw - self.gw)
            self.gh += a * (mgh - self.gh)
            self.moves += 1
        self.cx, self.cy, self.w, self.h = cx, cy, w, h
        self.box = det.box
        self._seen(det, now, rules, stirred)

        # Still = centre within tolerance × diagonal of where the still period began, and
        # size within twice that (detector boxes breathe more in size than in position).
        # The anchor does not follow the box, so a slow creep eventually counts as moving.
        # Once it has stood a moment, a smaller box inside where it stands is the object
        # partly hidden (a person walking in front of a parked car), not the object moving:
        # the anchor stays.
        *_, acx, acy, aw, ah = self.anchor
        reach = rules.still_tolerance * math.hypot(aw, ah)
        moved = math.hypot(cx - acx, cy - acy) > reach or abs(w - aw) > 2 * reach or abs(h - ah) > 2 * reach
        if moved and now - self.anchor_since >= _STILL_FOR_HIDING:
            moved = not _hidden_in(geom, self.anchor)
        if moved:
            self.anchor = geom
            self.anchor_since = now
        self.stationary = now - self.anchor_since >= rules.still_after
        self._confirm(now, rules)

    def glimpse(self, d: _Det, now: float, rules: _Rules, predicted: _Geom) -> None:
        """A part of it was seen inside where it was expected: it is still there, at its
        predicted place and size (a part box says nothing reliable about either)."""
        *_, self.cx, self.cy, self.w, self.h = predicted
        self.box = Box(predicted[0], predicted[1], predicted[2], predicted[3])
        self._seen(d.det, now, rules, False)
        self.stationary = now - self.anchor_since >= rules.still_after
        self._confirm(now, rules)

    def _seen(self, det: Detection, now: float, rules: _Rules, stirred: bool) -> None:
        self.score = det.score
        self.top_score = max(self.top_score, det.score)
        self.last_seen = now
        self.hits += 1
        self.stirred = self.stirred or stirred
        self.recent_scores = [*self.recent_scores[-(_SCORE_WINDOW - 1) :], det.score]
        count = self.label_counts.get(det.label, 0) + 1
        self.label_counts[det.label] = count
        if count > self.label_counts[self.label]:  # strict: a tie keeps the current label
            self.label = det.label  # same match key: only compatible labels ever get here
        self.snapshot = None

    def _confirm(self, now: float, rules: _Rules) -> None:
        """Repeated weak matches (a cushion scoring 0.42 frame after frame) never confirm, and
        neither does something that never moved or stirred unless it is clearly and lastingly
        seen (see the module doc)."""
        if self.confirmed or self.hits < rules.min_hits:
            return
        need = rules.confirm_score(self.label)
        scores = self.recent_scores
        never_moved = self.anchor_since == self.first_seen
        if not never_moved:
            # Something on the move is judged on its latest looks: walking in over the edge of
            # the frame, a person scores low until most of them shows, and that says nothing
            # about whether they are real.
            scores = scores[-rules.min_hits :]
        elif self.label not in PARKS and not self.stirred:
            if now - self.first_seen < STATIC_EVIDENCE:
                return
            need += STATIC_MARGIN
        self.confirmed = statistics.median(scores) >= need

    def parked(self, now: float) -> bool:
        """Standing where it stands for a while: a thing that parks after a second, anything
        else once stationary (a person waiting at a door)."""
        still = now - self.anchor_since
        return still >= _STILL_FOR_HIDING and (self.label in PARKS or self.stationary)

    def leaving(self, now: float, frame: tuple[int, int]) -> bool:
        """A moving track predicted to be mostly out of the frame has walked out of it."""
        if self.moves == 0 or self.stationary:
            return False
        x1, y1, x2, y2, *_, w, h = self.predict(now)
        width, height = frame
        inside = max(0.0, min(x2, width) - max(x1, 0.0)) * max(0.0, min(y2, height) - max(y1, 0.0))
        return w * h > 0 and inside <= (1.0 - _OUT_OF_FRAME) * w * h

    def track(self) -> Track:
        if self.snapshot is None:
            self.snapshot = Track(
                id=self.id,
                label=self.label,
                score=self.score,
                top_score=self.top_score,
                box=self.box,
                first_seen=self.first_seen,
                last_seen=self.last_seen,
                hits=self.hits,
                confirmed=self.confirmed,
                stationary=self.stationary,
                origin=self.origin,
            )
        return self.snapshot


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
        self._rules = _Rules(min_hits, confirm, stationary_after, stationary_tolerance)
        self._next_id = 1
        self._live: list[_State] = []  # creation order
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
        rules = self._rules

        ended: list[Track] = []
        live: list[_State] = []
        for state in self._live:
            if now - state.last_seen <= self._age_limit(state):
                live.append(state)
            elif state.confirmed:  # unconfirmed ones were never announced: they vanish silently
                ended.append(state.track())

        moving = None if motion is None else [_box_geom(b) for b in motion]
        dets = [_Det(d, _box_geom(d.box), kind(d.label)) for d in detections]
        preds = [s.predict(now) for s in live]
        track_taken = [False] * len(live)
        det_taken = [False] * len(dets)
        matches = _assign(_overlap_pairs(live, preds, dets, self._iou_threshold, now), track_taken, det_taken)
        if not all(track_taken) and not all(det_taken):
            matches += _assign(_centre_pairs(live, preds, dets, track_taken, det_taken), track_taken, det_taken)
        for ti, di in matches:
            live[ti].take(dets[di], now, rules, moving)

        if weak and not all(track_taken):
            weak_dets = [_Det(d, _box_geom(d.box), kind(d.label)) for d in weak]
            weak_taken = [False] * len(weak_dets)
            pairs = _weak_pairs(live, preds, weak_dets, track_taken)
            for ti, di in _assign(pairs, track_taken, weak_taken):
                live[ti].take(weak_dets[di], now, rules, moving)

        # A part of a confirmed object that nothing else matched keeps it alive where expected.
        if not all(track_taken) and not all(det_taken):
            for ti, di in _assign(_part_pairs(live, preds, dets, track_taken, det_taken), track_taken, det_taken):
                live[ti].glimpse(dets[di], now, rules, preds[ti])

        # What is left starts new tracks, except parts of what is already there: a part of an
        # object seen on this frame, or the other visible part of a still object that a
        # passer-by cuts in two (the parked car on both sides of them): not a second object.
        wholes = [(s.key, _box_geom(s.box)) for s in live if s.last_seen == now]
        standing = [(s.key, s.anchor) for s in live if s.last_seen == now and now - s.anchor_since >= _STILL_FOR_HIDING]
        for di, det in enumerate(dets):
            if det_taken[di]:
                continue
            if any(k == det.key and _part_of(det.geom, a) for k, a in wholes) or any(
                k == det.key and _part_of(det.geom, a, _STANDING_INSIDE) for k, a in standing
            ):
                continue
            live.append(_State(f"{self._camera}-{self._next_id}", det, now, rules, _stirs(det.geom, moving)))
            self._next_id += 1

        # An unconfirmed track lying inside where a parked thing of its kind stands is a piece of
        # it (a passer-by cut it up, the detector boxed a wheel): it never becomes an object.
        parked = [(s.key, s.anchor) for s in live if s.parked(now)]
        if parked:
            live = [
                s
                for s in live
                if s.confirmed
                or not any(
                    k == s.key and a is not s.anchor and _part_of(_box_geom(s.box), a, _STANDING_INSIDE)
                    for k, a in parked
                )
            ]

        if frame_size is not None:  # tracks that walked out of the frame end now
            staying = []
            for state in live:
                if state.last_seen < now and state.leaving(now, frame_size):
                    if state.confirmed:
                        ended.append(state.track())
                else:
                    staying.append(state)
            live = staying

        self._live = live
        return TrackerUpdate(tracks=tuple(s.track() for s in live), ended=tuple(ended))

    def predicted_boxes(self, now: float) -> tuple[Box, ...]:
        """Where each live track (confirmed or not, creation order) is expected at `now`."""
        out: list[Box] = []
        for state in self._live:
            if now - state.last_seen <= self._age_limit(state):  # the next update would end the others
                x1, y1, x2, y2, *_ = state.predict(now)
                out.append(Box(x1, y1, x2, y2))
        return tuple(out)

    def _age_limit(self, state: _State) -> float:
        """How long a track may go unmatched: a parked object may be hidden for a while, and a
        confirmed one behind a passer-by for a few seconds."""
        if state.stationary:
            return self._stationary_max_age
        return self._confirmed_max_age if state.confirmed else self._max_age


def _constant(score: float) -> Callable[[str], float]:
    def confirm_score(label: str) -> float:
        return score

    return confirm_score


def _stirs(box: _Geom, moving: list[_Geom] | None) -> bool:
    """Did motion of its own show under this box (not a change across half the frame)?"""
    if moving is None:
        return True
    area = box[6] * box[7]
    if area <= 0:
        return False
    for m in moving:
        ix = min(box[2], m[2]) - max(box[0], m[0])
        iy = min(box[3], m[3]) - max(box[1], m[1])
        if ix > 0 and iy > 0 and ix * iy >= _OWN_MOTION_OVERLAP * area and m[6] * m[7] <= _OWN_MOTION_AREA * area:
            return True
    return False


# (cost, unconfirmed, track index, detection index): sorts best first, then confirmed,
# then older tracks, then detection order, so equal costs resolve deterministically.
_Pair = tuple[float, bool, int, int]


def _overlap_pairs(
    live: list[_State], preds: list[_Geom], dets: list[_Det], threshold: float, now: float
) -> list[_Pair]:
    """IoU pairs; and for a track that has stood still a while, a detection inside where it
    stands (it is partly hidden) or around it (it shows again), ranked after any IoU pair."""
    pairs: list[_Pair] = []
    for ti, (state, p) in enumerate(zip(live, preds, strict=True)):
        still = now - state.anchor_since >= _STILL_FOR_HIDING
        for di, det in enumerate(dets):
            if det.key == state.key:
                iou = _iou(p, det.geom)
                if iou >= threshold:
                    pairs.append((-iou, not state.confirmed, ti, di))
                elif still and (_part_of(det.geom, p) or _part_of(p, det.geom)):
                    pairs.append((0.0, not state.confirmed, ti, di))
    return pairs


def _weak_pairs(live: list[_State], preds: list[_Geom], dets: list[_Det], track_taken: list[bool]) -> list[_Pair]:
    """Confirmed tracks nothing matched × weak detections overlapping their prediction."""
    pairs: list[_Pair] = []
    for ti, (state, p) in enumerate(zip(live, preds, strict=True)):
        if track_taken[ti] or not state.confirmed:
            continue
        for di, det in enumerate(dets):
            if det.key == state.key:
                iou = _iou(p, det.geom)
                if iou >= _WEAK_IOU:
                    pairs.append((-iou, False, ti, di))
    return pairs


def _part_pairs(
    live: list[_State], preds: list[_Geom], dets: list[_Det], track_taken: list[bool], det_taken: list[bool]
) -> list[_Pair]:
    """Confirmed tracks nothing matched × detections lying inside their prediction, largest first."""
    pairs: list[_Pair] = []
    for ti, (state, p) in enumerate(zip(live, preds, strict=True)):
        if track_taken[ti] or not state.confirmed:
            continue
        for di, det in enumerate(dets):
            if not det_taken[di] and det.key == state.key and _part_of(det.geom, p):
                pairs.append((-det.geom[6] * det.geom[7] / max(p[6] * p[7], _EPS), False, ti, di))
    return pairs


def _area(g: _Geom) -> float:
    return g[6] * g[7]


def _within(a: _Geom, b: _Geom, inside: float = _HIDDEN_INSIDE) -> bool:
    """Does box a lie (this much of it) inside box b?"""
    ix = min(a[2], b[2]) - max(a[0], b[0])
    iy = min(a[3], b[3]) - max(a[1], b[1])
    return ix > 0 and iy > 0 and ix * iy >= inside * a[6] * a[7]


def _hidden_in(a: _Geom, b: _Geom) -> bool:
    """Is box a what shows of b when something hides a part of b: smaller, and inside it?"""
    return _area(a) <= _HIDDEN_SHOWING * _area(b) and _within(a, b)


def _part_of(a: _Geom, b: _Geom, inside: float = _HIDDEN_INSIDE) -> bool:
    """Is box a a visible part of box b: clearly smaller, and lying (this much) inside it?"""
    area = a[6] * a[7]
    if not 0 < area <= _HIDDEN_SMALLER * b[6] * b[7]:
        return False
    ix = min(a[2], b[2]) - max(a[0], b[0])
    iy = min(a[3], b[3]) - max(a[1], b[1])
    return ix > 0 and iy > 0 and ix * iy >= inside * area


def _centre_pairs(
    live: list[_State], preds: list[_Geom], dets: list[_Det], track_taken: list[bool], det_taken: list[bool]
) -> list[_Pair]:
    pairs: list[_Pair] = []
    for ti, (state, p) in enumerate(zip(live, preds, strict=True)):
        if track_taken[ti]:
            continue
        size = max(p[6], p[7], _EPS)
        area = max(p[6] * p[7], _EPS)
        for di, det in enumerate(dets):
            if det_taken[di] or det.key != state.key:
                continue
            g = det.geom
            rel = math.hypot(g[4] - p[4], g[5] - p[5]) / size
            if rel < 1.0 and 1 / _AREA_RATIO <= g[6] * g[7] / area <= _AREA_RATIO:
                pairs.append((rel, not state.confirmed, ti, di))
    return pairs


def _assign(pairs: list[_Pair], track_taken: list[bool], det_taken: list[bool]) -> list[tuple[int, int]]:
    """Greedy: take the best remaining pair whose track and detection are both still free."""
    out: list[tuple[int, int]] = []
    for _, _, ti, di in sorted(pairs):
        if not (track_taken[ti] or det_taken[di]):
            track_taken[ti] = det_taken[di] = True
            out.append((ti, di))
    return out
