"""Tracker behaviour on synthetic detections (pure logic: boxes in, tracks out).

Scenes are in pixels of a 1280x720 frame; walking scenes run at 5 fps. Times that must
be compared exactly (ages, stationary thresholds) use binary fractions (0.25 s, 0.5 s).
"""

from __future__ import annotations

import math
import random
import re

import pytest

from app.analysis.track import Tracker, TrackerUpdate, Watch
from app.domain import Box, Detection, Track

W, H = 1280, 720
DT = 0.2  # 5 fps


def det(label: str, x: float, y: float, w: float, h: float, score: float = 0.8) -> Detection:
    return Detection(label, score, Box(x, y, x + w, y + h))


def centre(box: Box) -> tuple[float, float]:
    return (box.x1 + box.x2) / 2, (box.y1 + box.y2) / 2


def by_id(update: TrackerUpdate) -> dict[str, Track]:
    return {t.id: t for t in update.tracks}


def only(update: TrackerUpdate) -> Track:
    assert len(update.tracks) == 1, update.tracks
    return update.tracks[0]


# --- a person walking across ---------------------------------------------------------


@pytest.mark.parametrize("step", [0.05, 0.075, 0.10])  # fraction of the frame width per update
@pytest.mark.parametrize("missed", [(), (4,), (4, 6, 7)])  # one and two consecutive missed frames
def test_person_walking_across_keeps_one_id(step: float, missed: tuple[int, ...]) -> None:
    rng = random.Random(7)
    tracker = Tracker("front")
    xs = [float(x) for x in range(0, W - 90, round(step * W))]
    ids: set[str] = set()
    seen = 0
    t = 0.0
    for i, x in enumerate(xs):
        t = i * DT
        if i in missed:
            dets = []
        else:
            jitter = [rng.uniform(-4, 4) for _ in range(4)]
            dets = [det("person", x + jitter[0], 300 + jitter[1], 90 + jitter[2], 220 + jitter[3])]
            seen += 1
        update = tracker.update(dets, t)
        assert not update.ended
        ids |= {tr.id for tr in update.tracks}
        assert len(update.tracks) == 1
    assert ids == {"front-1"}
    person = only(update)
    assert person.hits == seen == len(xs) - len(missed)
    assert person.confirmed
    assert not person.stationary
    assert person.first_seen == 0.0

    # Gone from view: it ends once, after confirmed_max_age (4 s), with its last state.
    ended: list[Track] = []
    while t < person.last_seen + 4.5:
        t += DT
        ended += tracker.update([], t).ended
    assert [e.id for e in ended] == ["front-1"]
    assert ended[0] == person


def test_walker_needs_the_centre_rule_when_boxes_stop_overlapping() -> None:
    """10 % of the frame per update and a 90 px wide person: the second box does not overlap
    the first at all (no velocity known yet), only the centre-distance rule can link them."""
    tracker = Tracker("front")
    first, second = det("person", 100, 300, 90, 220), det("person", 228, 300, 90, 220)
    assert first.box.iou(second.box) == 0.0
    tracker.update([first], 0.0)
    assert [t.id for t in tracker.update([second], DT).tracks] == ["front-1"]


def test_centre_rule_limits_distance_and_size() -> None:
    small = det("bird", 500, 300, 40, 40)
    # Moved 30 px: IoU 0.14 (< 0.2) but the centre moved less than one box size → same track.
    tracker = Tracker("yard")
    tracker.update([small], 0.0)
    moved = det("bird", 530, 300, 40, 40)
    assert small.box.iou(moved.box) < 0.2
    assert [t.id for t in tracker.update([moved], DT).tracks] == ["yard-1"]
    # Moved 50 px (> 40 px box size) → a new object, not a match.
    tracker = Tracker("yard")
    tracker.update([small], 0.0)
    assert [t.id for t in tracker.update([det("bird", 550, 300, 40, 40)], DT).tracks] == ["yard-1", "yard-2"]
    # Same centre, 6x the area (IoU 0.16): too different in size for the centre rule.
    tracker = Tracker("yard")
    tracker.update([small], 0.0)
    assert [t.id for t in tracker.update([det("bird", 470, 270, 100, 100)], DT).tracks] == ["yard-1", "yard-2"]


# --- two people crossing -------------------------------------------------------------


def crossing(y_a: float, y_b: float, *, occlude_b_at: int | None = None) -> None:
    tracker = Tracker("street")
    steps = 15
    id_a = id_b = ""
    for i in range(steps):
        a = det("person", 100 + 72 * i, y_a, 90, 220)
        b = det("person", 1100 - 72 * i, y_b, 90, 220)
        dets = [a] if i == occlude_b_at else [a, b]
        tracks = by_id(tracker.update(dets, i * DT))
        if i == 0:
            id_a, id_b = (t.id for t in tracks.values())
        assert set(tracks) == {id_a, id_b}  # no new ids anywhere in the crossing
        assert tracks[id_a].box == a.box  # A always gets A's box: never swapped
        if i != occlude_b_at:
            assert tracks[id_b].box == b.box


def test_two_people_crossing_at_different_heights_keep_their_ids() -> None:
    # They meet around step 7 (x ≈ 600) with boxes overlapping by up to ~50 %.
    crossing(200, 320)


def test_two_people_crossing_in_the_same_row_keep_their_ids() -> None:
    # Identical rows: at the meeting point the boxes overlap almost completely; the
    # predicted positions (from their opposite velocities) are what keeps them apart.
    crossing(250, 250)


def test_crossing_with_one_person_hidden_behind_the_other_for_a_frame() -> None:
    crossing(250, 260, occlude_b_at=7)


# --- ghosts and confirmation -----------------------------------------------------------


def test_one_frame_false_detection_is_never_confirmed_nor_ended() -> None:
    tracker = Tracker("front")
    updates = [tracker.update([det("person", 600, 300, 90, 220), det("dog", 100, 500, 80, 60)], 0.0)]
    ghost_id = next(t.id for t in updates[0].tracks if t.label == "dog")
    for i in range(1, 30):
        updates.append(tracker.update([det("person", 600 + 5 * i, 300, 90, 220)], i * 0.25))
    ghost_states = [t for u in updates for t in u.tracks if t.id == ghost_id]
    assert ghost_states
    assert not any(t.confirmed for t in ghost_states)
    assert all(e.id != ghost_id for u in updates for e in u.ended)
    assert not any(u.ended for u in updates)  # the person did not end either
    # Live (unconfirmed) for max_age, then silently gone.
    alive_until = max(i * 0.25 for i, u in enumerate(updates) if ghost_id in by_id(u))
    assert alive_until == 2.0


@pytest.mark.parametrize("min_hits", [1, 2, 3, 5])
def test_confirmed_after_exactly_min_hits_and_stays_confirmed(min_hits: int) -> None:
    tracker = Tracker("front", min_hits=min_hits)
    flags = []
    for i in range(6):
        flags.append(only(tracker.update([det("person", 600 + 3 * i, 300, 90, 220)], i * DT)).confirmed)
    assert flags == [False] * (min_hits - 1) + [True] * (7 - min_hits)
    # Missed for a while (less than max_age): still live and still confirmed.
    track = only(tracker.update([], 6 * DT + 1.5))
    assert track.confirmed
    assert track.hits == 6


def test_default_min_hits_is_three() -> None:
    tracker = Tracker("front")
    hits = [only(tracker.update([det("person", 600, 300, 90, 220)], i * DT)) for i in range(3)]
    assert [(t.hits, t.confirmed) for t in hits] == [(1, False), (2, False), (3, True)]


# --- ending ------------------------------------------------------------------------------


def test_track_ends_after_max_age_and_is_reported_once() -> None:
    tracker = Tracker("front", max_age=2.0, confirmed_max_age=2.0)
    for i in range(5):  # seen at 0.0 .. 1.0
        last = only(tracker.update([det("person", 600 + 10 * i, 300, 90, 220)], i * 0.25))
    ended: list[tuple[float, Track]] = []
    live_at: list[float] = []
    for i in range(5, 25):  # nothing from 1.25 to 6.0
        t = i * 0.25
        update = tracker.update([], t)
        ended += [(t, e) for e in update.ended]
        if update.tracks:
            live_at.append(t)
    assert max(live_at) == 3.0  # exactly max_age unmatched is still live ...
    assert ended == [(3.25, last)]  # ... longer than that ends it, once, as it last was
    assert last.confirmed
    assert last.hits == 5
    assert last.last_seen == 1.0


def test_ended_track_is_not_revived_by_a_later_detection() -> None:
    tracker = Tracker("front")
    for i in range(3):
        tracker.update([det("person", 600, 300, 90, 220)], i * DT)
    update = tracker.update([det("person", 600, 300, 90, 220)], 10.0)
    assert [e.id for e in update.ended] == ["front-1"]
    assert [t.id for t in update.tracks] == ["front-2"]


def test_unconfirmed_track_vanishes_silently() -> None:
    tracker = Tracker("front", min_hits=3)
    tracker.update([det("person", 600, 300, 90, 220)], 0.0)
    tracker.update([det("person", 600, 300, 90, 220)], DT)
    update = tracker.update([], 5.0)
    assert update.tracks == ()
    assert update.ended == ()


# --- parked cars --------------------------------------------------------------------------

CAR = (500.0, 400.0, 300.0, 150.0)  # x, y, w, h: diagonal 335 px, 5 % tolerance = 16.8 px


def test_parked_car_becomes_stationary_after_stationary_after_not_before() -> None:
    rng = random.Random(3)
    tracker = Tracker("drive", stationary_after=10.0)
    x, y, w, h = CAR
    for i in range(31):  # every 0.5 s for 15 s, boxes jittering by a few pixels
        t = i * 0.5
        j = [rng.uniform(-3, 3) for _ in range(4)]
        car = only(tracker.update([det("car", x + j[0], y + j[1], w + j[2], h + j[3])], t))
        assert car.stationary == (t >= 10.0), t
    assert car.id == "drive-1"


def test_parked_car_label_flicker_stays_one_track_with_majority_label() -> None:
    tracker = Tracker("drive")
    labels = ["car", "truck", "car", "bus", "truck", "car", "car", "truck", "bus", "car"] * 3
    x, y, w, h = CAR
    outs = [only(tracker.update([det(lb, x, y, w, h)], i * 0.5)) for i, lb in enumerate(labels)]
    assert {t.id for t in outs} == {"drive-1"}
    assert [t.label for t in outs] == ["car"] * len(labels)
    assert outs[-1].hits == len(labels)
    assert outs[-1].stationary


def test_majority_label_tie_keeps_current_then_flips() -> None:
    tracker = Tracker("drive")
    x, y, w, h = CAR
    got = [only(tracker.update([det(lb, x, y, w, h)], i * DT)).label for i, lb in enumerate(["car", "truck", "truck"])]
    assert got == ["car", "car", "truck"]


def test_labels_match_only_within_their_group() -> None:
    tracker = Tracker("yard")
    x, y, w, h = CAR
    tracker.update([det("car", x, y, w, h)], 0.0)
    update = tracker.update([det("person", x, y, w, h)], DT)  # same box, unrelated label
    assert [(t.id, t.label) for t in update.tracks] == [("yard-1", "car"), ("yard-2", "person")]
    tracker = Tracker("yard")
    tracker.update([det("cat", 100, 500, 80, 60)], 0.0)
    update = tracker.update([det("dog", 102, 500, 80, 60)], DT)  # animal group flicker
    assert [(t.id, t.label, t.hits) for t in update.tracks] == [("yard-1", "cat", 2)]


def parked_tracker(stationary_max_age: float | None = None) -> tuple[Tracker, float]:
    tracker = (
        Tracker("drive", stationary_after=10.0)
        if stationary_max_age is None
        else Tracker("drive", stationary_after=10.0, stationary_max_age=stationary_max_age)
    )
    x, y, w, h = CAR
    t = 0.0
    for i in range(23):  # 0 .. 11 s
        t = i * 0.5
        car = only(tracker.update([det("car", x, y, w, h)], t))
    assert car.stationary
    return tracker, t


def test_parked_car_driving_off_is_no_longer_stationary() -> None:
    tracker, t = parked_tracker()
    x, y, w, h = CAR
    flags = []
    for dx in (4, 8, 12, 16, 20, 40, 80, 140, 220):  # pulls out, accelerating
        t += DT
        car = only(tracker.update([det("car", x + dx, y, w, h)], t))
        flags.append(car.stationary)
    # A box no larger than the spot and 85 % inside it may be the car partly hidden (by 45 px
    # of 300 here): it is still parked. Once it has left its spot by more, it drives.
    assert flags == [True, True, True, True, True, True, False, False, False]
    assert car.id == "drive-1"


def test_a_parked_car_partly_hidden_keeps_its_box_and_stays_parked() -> None:
    """A passer-by hides a parked car's left side, then its right: the detector boxes what
    shows, reaching a little above the car, never beyond its length. Still one parked car,
    shown where it stands."""
    tracker, t = parked_tracker()
    x, y, w, h = CAR
    for part in ((x + 120, y - 10, w - 120, h + 5), (x + 60, y - 15, w - 60, h), (x, y - 8, w - 150, h + 8)):
        t += DT
        car = only(tracker.update([det("car", *part)], t))
        assert car.stationary
        assert car.box == Box(x, y, x + w, y + h)
    assert car.id == "drive-1"


def test_moved_car_must_stay_still_again_for_the_full_period() -> None:
    tracker, t = parked_tracker()
    x, y, w, h = CAR
    t += 0.5
    assert not only(tracker.update([det("car", x + 60, y, w, h)], t)).stationary  # re-parked nearby
    parked_again = t
    while t < parked_again + 12:
        t += 0.5
        car = only(tracker.update([det("car", x + 60, y, w, h)], t))
        assert car.stationary == (t - parked_again >= 10.0)


def test_car_approaching_head_on_is_not_stationary() -> None:
    """The centre stays put but the box grows: size must be roughly unchanged too."""
    tracker = Tracker("drive", stationary_after=10.0)
    cx, cy = 640.0, 400.0
    for i in range(25):  # 12 s, growing 4 % every 0.5 s
        w, h = 200 * 1.04**i, 100 * 1.04**i
        car = only(tracker.update([det("car", cx - w / 2, cy - h / 2, w, h)], i * 0.5))
        assert not car.stationary
    assert car.id == "drive-1"
    # Control: the same car at a constant size over the same time is stationary.
    tracker = Tracker("drive", stationary_after=10.0)
    for i in range(25):
        car = only(tracker.update([det("car", cx - 100, cy - 50, 200, 100)], i * 0.5))
    assert car.stationary


# --- ids ------------------------------------------------------------------------------


def test_ids_are_unique_increasing_and_never_reused() -> None:
    rng = random.Random(11)
    tracker = Tracker("porch", min_hits=1)
    order: list[str] = []
    t = 0.0
    for _ in range(40):  # objects appear at random, live a bit, and are gone for > max_age
        t += rng.uniform(0.1, 3.0)
        dets = [det("person", rng.uniform(0, 1100), rng.uniform(0, 500), 90, 220) for _ in range(rng.randint(0, 3))]
        for tr in tracker.update(dets, t).tracks:
            if tr.id not in order:
                order.append(tr.id)
    assert len(order) > 20
    assert all(re.fullmatch(r"porch-\d+", i) for i in order)
    numbers = [int(i.split("-")[1]) for i in order]
    assert numbers == list(range(1, len(numbers) + 1))  # from 1, increasing, no gaps, no reuse


def test_ids_carry_the_camera_name() -> None:
    a, b = Tracker("front"), Tracker("back")
    box = det("person", 600, 300, 90, 220)
    assert only(a.update([box], 0.0)).id == "front-1"
    assert only(b.update([box], 0.0)).id == "back-1"


# --- prediction ---------------------------------------------------------------------------


@pytest.mark.parametrize("direction", [1, -1])
def test_predicted_boxes_follow_the_motion(direction: int) -> None:
    tracker = Tracker("front")
    step = 80 * direction
    for i in range(5):
        last = only(tracker.update([det("person", 600 + step * i, 300 + 10 * i, 90, 220)], i * DT))
    (predicted,) = tracker.predicted_boxes(4 * DT + DT)
    (px, py), (lx, ly) = centre(predicted), centre(last.box)
    assert 0.7 < (px - lx) / step < 1.1  # about one more step, in the direction of travel
    assert 5 < py - ly < 12  # drifting down 10 px per update as well
    assert predicted.width == pytest.approx(90)
    assert predicted.height == pytest.approx(220)
    # Where the tracker looks next is where the person turns up: the next box matches.
    assert predicted.iou(Box(600 + step * 5, 350, 690 + step * 5, 570)) > 0.7


def test_prediction_is_damped_and_clamped() -> None:
    tracker = Tracker("front", max_age=60.0)
    for i in range(5):  # fast, and growing 30 % per update (approaching the camera)
        w, h = 50 * 1.3**i, 100 * 1.3**i
        last = only(tracker.update([det("person", 100 + 60 * i, 300, w, h)], i * DT)).box
    lx, _ = centre(last)
    near, far = tracker.predicted_boxes(5 * DT)[0], tracker.predicted_boxes(30.0)[0]
    assert near.width <= 1.25 * last.width + 1e-9
    assert near.height <= 1.25 * last.height + 1e-9
    assert near.width > last.width  # still growing, just not unboundedly
    assert centre(far)[0] - lx <= 2 * max(last.width, last.height) + 1e-6  # no flinging across the frame
    assert centre(far)[0] > centre(near)[0] > lx


def test_prediction_over_a_long_gap_is_damped() -> None:
    """An object unseen for a while has probably slowed or turned: predict less than v·dt."""
    tracker = Tracker("front")
    for i in range(5):  # 20 px per 0.2 s = 100 px/s, far below the two-box-size cap
        last = only(tracker.update([det("person", 300 + 20 * i, 300, 90, 220)], i * DT)).box
    (one_frame,) = tracker.predicted_boxes(4 * DT + DT)
    (two_s,) = tracker.predicted_boxes(4 * DT + 2.0)
    assert 0.9 < (centre(one_frame)[0] - centre(last)[0]) / 20 < 1.0  # a frame ahead: almost v·dt
    assert 0.5 < (centre(two_s)[0] - centre(last)[0]) / 200 < 0.8  # 2 s ahead: well short of v·dt


def test_stationary_and_new_tracks_predict_their_last_box() -> None:
    tracker, t = parked_tracker()
    x, y, w, h = CAR
    tracker.update([det("car", x, y, w, h), det("person", 100, 300, 90, 220)], t + 0.5)
    assert tracker.predicted_boxes(t + 1.0) == (Box(x, y, x + w, y + h), Box(100, 300, 190, 520))


def test_predicted_boxes_leave_out_tracks_past_max_age() -> None:
    tracker = Tracker("front", max_age=2.0)
    tracker.update([det("person", 600, 300, 90, 220)], 0.0)
    assert len(tracker.predicted_boxes(2.0)) == 1
    assert tracker.predicted_boxes(2.5) == ()


# --- fields and contract ---------------------------------------------------------------


def test_scores_hits_and_times() -> None:
    tracker = Tracker("front")
    scores = [0.6, 0.9, 0.7]
    for i, s in enumerate(scores):
        track = only(tracker.update([det("person", 600, 300, 90, 220, score=s)], 10.0 + i))
    assert (track.score, track.top_score, track.hits) == (0.7, 0.9, 3)
    assert (track.first_seen, track.last_seen) == (10.0, 12.0)
    assert track.box == Box(600, 300, 690, 520)


def test_unmatched_track_keeps_its_last_state() -> None:
    tracker = Tracker("front")
    seen = only(tracker.update([det("person", 600, 300, 90, 220)], 0.0))
    assert only(tracker.update([], 1.0)) == seen


def test_time_going_backwards_is_refused() -> None:
    tracker = Tracker("front")
    tracker.update([], 5.0)
    tracker.update([], 5.0)  # the same instant is fine
    with pytest.raises(ValueError, match="backwards"):
        tracker.update([], 4.9)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_hits": 0},
        {"max_age": 0.0},
        {"iou_threshold": 0.0},
        {"iou_threshold": 1.5},
        {"max_age": math.nan},
        {"stationary_max_age": 0.0},
        {"stationary_max_age": math.nan},
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, float]) -> None:
    (refused,) = kwargs
    with pytest.raises(ValueError, match=f"^{refused} must"):
        Tracker("front", **kwargs)  # type: ignore[arg-type]


def test_repeated_weak_matches_never_confirm_but_a_real_object_does() -> None:
    tracker = Tracker("front", confirm_score=0.6)
    for i in range(10):  # a cushion the detector keeps calling a person at 0.42
        update = tracker.update([det("person", 100, 100, 50, 120, score=0.42)], i * 0.2)
    assert not only(update).confirmed
    tracker = Tracker("front", confirm_score=0.6)
    scores = [0.45, 0.7, 0.8]  # a person: one weak first sighting, then clear ones
    for i, score in enumerate(scores):
        update = tracker.update([det("person", 100 + 10 * i, 100, 50, 120, score=score)], i * 0.2)
    assert only(update).confirmed


def test_confirmation_uses_the_threshold_of_the_tracks_label() -> None:
    thresholds = {"person": 0.55, "bird": 0.7}
    tracker = Tracker("yard", confirm_score=lambda label: thresholds.get(label, 0.55))
    for i in range(6):  # a person and a "bird" (litter) both scoring 0.6 every time
        update = tracker.update([det("person", 100, 100, 90, 220, 0.6), det("bird", 800, 500, 40, 30, 0.6)], i * DT)
    confirmed = {t.label: t.confirmed for t in update.tracks}
    assert confirmed == {"person": True, "bird": False}


def test_confirmation_follows_the_majority_label_not_the_first_one() -> None:
    """First seen as a bus (strict), then mostly as a car (lenient): the car's threshold decides."""
    thresholds = {"bus": 0.9, "car": 0.5}
    tracker = Tracker("drive", confirm_score=lambda label: thresholds[label])
    x, y, w, h = CAR
    flags = []
    for i, label in enumerate(["bus", "car", "car", "car"]):
        track = only(tracker.update([det(label, x, y, w, h, 0.6)], i * DT))
        flags.append((track.label, track.confirmed))
    assert flags == [("bus", False), ("bus", False), ("car", True), ("car", True)]


def test_a_parked_car_hidden_behind_a_passer_by_comes_back_as_the_same_stationary_track() -> None:
    tracker, t = parked_tracker()  # stationary since 10 s
    x, y, w, h = CAR
    (car,) = tracker.update([det("car", x, y, w, h)], t + 0.5).tracks
    hidden_from = t + 0.5
    t = hidden_from
    ended: list[Track] = []
    while t < hidden_from + 10.0:  # a person walks past in front of it for 10 s: no car detected
        t += DT
        update = tracker.update([det("person", 400 + 20 * (t - hidden_from), 300, 90, 220)], t)
        ended += update.ended
        assert car.id in by_id(update)  # still live, long past max_age
    assert ended == []
    t += DT
    back = by_id(tracker.update([det("car", x + 2, y - 1, w, h)], t))[car.id]
    assert back.stationary
    assert back.confirmed
    assert back.hits == car.hits + 1
    assert [tr.label for tr in tracker.update([], t).tracks].count("car") == 1


def test_a_parked_car_gone_for_longer_than_stationary_max_age_ends_once() -> None:
    tracker, t = parked_tracker(stationary_max_age=10.0)
    seen = t
    ended: list[tuple[float, Track]] = []
    while t < seen + 12.0:
        t += 0.5
        ended += [(t, e) for e in tracker.update([], t).ended]
    assert [(when - seen, e.id, e.stationary) for when, e in ended] == [(10.5, "drive-1", True)]


def test_by_default_a_hidden_parked_car_lives_30_s() -> None:
    tracker, t = parked_tracker()
    assert len(tracker.update([], t + 30.0).tracks) == 1
    update = tracker.update([], t + 30.5)
    assert update.tracks == ()
    assert [e.id for e in update.ended] == ["drive-1"]


def test_a_moving_track_still_ends_after_max_age() -> None:
    tracker = Tracker("drive", max_age=2.0, confirmed_max_age=2.0, stationary_max_age=30.0)
    for i in range(10):  # a car driving past: never stationary
        last = only(tracker.update([det("car", 100 + 40 * i, 400, 300, 150)], i * DT))
    assert not last.stationary
    assert last.confirmed
    assert tracker.update([], last.last_seen + 2.0).tracks == (last,)
    update = tracker.update([], last.last_seen + 2.25)
    assert update.tracks == ()
    assert [e.id for e in update.ended] == [last.id]


def test_stationary_tracks_keep_their_predicted_box_while_hidden() -> None:
    tracker, t = parked_tracker()
    x, y, w, h = CAR
    assert tracker.predicted_boxes(t + 20.0) == (Box(x, y, x + w, y + h),)  # the detector keeps looking there


def test_a_stationary_track_is_looked_for_now_and_then_unless_something_moves_over_it() -> None:
    tracker, t = parked_tracker()  # stationary, last seen at t
    x, y, w, h = CAR
    car = Box(x, y, x + w, y + h)
    assert tracker.watch(t + 5.0, (), recheck=10.0) == Watch((), ())  # seen 5 s ago: left alone
    # Motion over much of it (it drives off, a van stops in front): looked at on this frame.
    assert car in tracker.watch(t + 5.0, (Box(x + 20, y, x + w + 20, y + h),), recheck=10.0).moving
    assert car in tracker.watch(t + 5.0, (Box(x, y, x + 50, y + h), Box(x + 200, y, x + 260, y + h)), 10.0).moving
    # A passer-by in front covers a little of it (the crop around them shows that part), and
    # motion elsewhere none: it waits for its periodic look.
    assert car not in tracker.watch(t + 5.0, (Box(x + 100, y + 20, x + 160, y + 140),), recheck=10.0).moving
    assert car not in tracker.watch(t + 5.0, (Box(0, 0, 40, 40),), recheck=10.0).moving
    # Its periodic look is due 10 s after it was last seen, and stays due until it is seen again.
    assert tracker.watch(t + 10.0, (), recheck=10.0).due == (car,)
    assert tracker.watch(t + 14.0, (), recheck=10.0).due == (car,)
    tracker.update([det("car", x, y, w, h)], t + 14.0)
    assert tracker.watch(t + 14.2, (), recheck=10.0).due == ()
    assert [tr.label for tr in tracker.update([], t + 14.2).tracks if tr.stationary] == ["car"]  # never lost


def test_a_moving_track_is_never_left_for_later() -> None:
    tracker = Tracker("drive")
    for i in range(10):
        tracker.update([det("car", 100 + 40 * i, 400, 300, 150)], i * DT)
    watch = tracker.watch(10 * DT, (), recheck=10.0)
    assert len(watch.moving) == 1
    assert watch.due == ()
