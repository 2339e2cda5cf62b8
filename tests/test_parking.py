"""The "parked" notion on its own: moved_from, a still period (Stillness), parking spots."""

from __future__ import annotations

from app.analysis.geometry import Geom, box_geom
from app.analysis.parking import SETTLE, SPOT_MEMORY, ParkingSpots, Stillness
from app.domain import Box, Track, moved_from

CAR = Box(400, 300, 700, 500)  # 300 x 200: diagonal ≈ 360 px, so 5 % tolerance ≈ 18 px


def g(x1: float, y1: float, x2: float, y2: float) -> Geom:
    return box_geom(Box(x1, y1, x2, y2))


def shifted(box: Box, dx: float, dy: float = 0.0) -> Geom:
    return g(box.x1 + dx, box.y1 + dy, box.x2 + dx, box.y2 + dy)


def still_car(now: float = 0.0, after: float = 10.0) -> Stillness:
    return Stillness(box_geom(CAR), now, after=after, tolerance=0.05)


# --- moved_from ------------------------------------------------------------------------


def test_a_box_half_outside_where_it_was_has_moved() -> None:
    assert moved_from(Box(550, 300, 850, 500), CAR)  # drove half its length
    assert not moved_from(Box(540, 300, 840, 500), CAR)  # a little less than half


def test_a_box_grown_to_twice_its_size_has_moved_towards_the_camera() -> None:
    assert moved_from(Box(400, 300, 1000, 500), CAR)


def test_a_partly_hidden_box_inside_where_it_was_has_not_moved() -> None:
    assert not moved_from(Box(550, 300, 700, 500), CAR)


def test_an_empty_box_never_moved() -> None:
    assert not moved_from(Box(900, 900, 900, 900), CAR)


def test_a_track_has_moved_from_its_origin_and_without_one_counts_as_moved() -> None:
    def track(box: Box, origin: Box | None) -> Track:
        return Track("cam-1", "car", 0.8, 0.8, box, 0.0, 1.0, 5, True, False, origin)

    assert not track(CAR, CAR).has_moved()
    assert track(Box(600, 300, 900, 500), CAR).has_moved()
    assert track(CAR, None).has_moved()


# --- Stillness -----------------------------------------------------------------------


def test_standing_within_tolerance_turns_stationary_after_the_still_period() -> None:
    still = still_car()
    assert not still.stationary
    for t in (2.0, 5.0, 9.5):
        still.observe(shifted(CAR, 10), t)  # 10 px: within 5 % of the diagonal
        assert not still.stationary
    still.observe(shifted(CAR, -10), 10.0)
    assert still.stationary
    assert still.still_for(10.0) == 10.0
    assert still.never_moved


def test_moving_beyond_tolerance_starts_a_new_still_period_where_it_is() -> None:
    still = still_car()
    still.observe(shifted(CAR, 40), 12.0)
    assert still.since == 12.0
    assert still.anchor == shifted(CAR, 40)
    assert not still.stationary
    assert not still.never_moved


def test_a_size_change_beyond_twice_the_tolerance_is_a_move() -> None:
    still = still_car()
    still.observe(g(400, 300, 730, 500), SETTLE / 4)  # 30 px wider, centre 15 px off: within
    assert still.since == 0.0
    still.observe(g(380, 300, 720, 500), SETTLE / 2)  # 40 px wider, centre within: beyond 2 × 18 px
    assert still.since == SETTLE / 2


def test_once_settled_a_passer_by_boxed_together_with_it_is_not_a_move() -> None:
    """The detector boxes a person walking past with the parked car: a larger box holding all
    of where it stands. It stays where it stood (before, it began a new still period there, and
    the passer-by's part boxes then dragged the car along: a second event for it)."""
    still = still_car()
    still.observe(g(280, 290, 705, 505), SETTLE)  # 120 px more on the left: her
    assert still.since == 0.0
    assert still.anchor == box_geom(CAR)
    still.observe(g(250, 200, 750, 600), SETTLE + 1)  # twice its size or more: it came closer
    assert still.since == SETTLE + 1


def test_a_slow_creep_eventually_counts_as_moving() -> None:
    still = still_car()
    for step in range(1, 4):
        still.observe(shifted(CAR, 8 * step), float(step))
    assert still.since == 3.0  # 24 px from where it began, though each step was 8 px


def test_a_smaller_box_inside_where_it_stands_is_it_partly_hidden_once_settled() -> None:
    half = g(550, 300, 700, 500)  # a passer-by hides its left half
    still = still_car()
    still.observe(half, SETTLE)
    assert still.since == 0.0  # the anchor stays
    assert still.anchor == box_geom(CAR)
    assert still.never_moved


def test_a_smaller_box_before_it_has_settled_is_a_move() -> None:
    still = still_car()
    still.observe(g(550, 300, 700, 500), SETTLE / 2)
    assert still.since == SETTLE / 2


def test_a_box_outside_where_it_stands_is_a_move_even_when_settled() -> None:
    still = still_car()
    still.observe(g(600, 300, 800, 500), 5.0)  # smaller, but reaching out of the spot
    assert still.since == 5.0


def test_a_thing_that_parks_is_parked_once_settled_anything_else_once_stationary() -> None:
    still = still_car(after=4.0)
    assert not still.parked("car", SETTLE / 2)
    assert still.parked("car", SETTLE)
    assert not still.parked("person", SETTLE)
    still.observe_part(4.0)  # seen in part: the still period goes on
    assert still.stationary
    assert still.parked("person", 4.0)


def test_no_still_period_needed_makes_it_stationary_at_once() -> None:
    still = still_car(after=0.0)
    assert still.stationary
    still.observe(shifted(CAR, 100), 1.0)
    assert still.stationary


def test_shows_part_only_for_a_box_mostly_inside_and_no_larger() -> None:
    still = still_car()
    assert still.shows_part(g(550, 300, 700, 500))
    assert still.shows_part(g(560, 300, 710, 500))  # reaching out a little
    assert not still.shows_part(g(550, 300, 800, 500))  # a third of it outside
    assert not still.shows_part(g(390, 290, 710, 510))  # larger than where it stands
    assert not still.settled(SETTLE / 2)
    assert still.settled(SETTLE)


# --- ParkingSpots ----------------------------------------------------------------------


def test_a_spot_is_found_by_a_box_that_has_not_moved_from_it() -> None:
    spots = ParkingSpots()
    assert spots.find(CAR) is None
    spot = spots.add(CAR, 0.0)
    assert len(spots) == 1
    assert spot in spots
    assert spot.until == SPOT_MEMORY
    assert spots.find(Box(450, 300, 700, 500)) is spot  # the same car, partly hidden
    assert spots.find(Box(650, 300, 950, 500)) is None  # another place


def test_a_spot_grows_to_hold_its_vehicle_and_is_kept_longer_while_it_is_there() -> None:
    spots = ParkingSpots(memory=60.0)
    spot = spots.add(Box(550, 300, 700, 500), 0.0)
    spots.extend(spot, CAR, 30.0)
    assert spot.box == CAR
    assert spot.until == 90.0
    spots.extend(spot, Box(600, 320, 650, 400), 40.0)  # a part of it: the spot keeps its size
    assert spot.box == CAR
    assert spot.until == 100.0


def test_a_spot_is_forgotten_when_its_vehicle_drives_off() -> None:
    spots = ParkingSpots()
    spot = spots.add(CAR, 0.0)
    spots.forget(spot)
    assert spot not in spots
    assert len(spots) == 0
    spots.forget(spot)  # twice is harmless
    assert spots.find(CAR) is None


def test_a_spot_expires_after_its_memory() -> None:
    spots = ParkingSpots(memory=60.0)
    spots.add(CAR, 0.0)
    spots.expire(60.0)
    assert spots.find(CAR) is not None
    spots.expire(60.5)
    assert spots.find(CAR) is None
    assert len(spots) == 0


def test_the_first_matching_spot_wins() -> None:
    spots = ParkingSpots()
    first = spots.add(CAR, 0.0)
    spots.add(Box(420, 300, 720, 500), 1.0)
    assert spots.find(Box(410, 300, 710, 500)) is first
