"""Regions: where the detector looks, and mapping its boxes back to the frame."""

from __future__ import annotations

from app.analysis.regions import cover_frame, regions_for, suppress_duplicates, to_frame, whole_frame
from app.domain import Box, Detection

FRAME = (1280, 720)


def contains(outer: Box, inner: Box) -> bool:
    return outer.x1 <= inner.x1 and outer.y1 <= inner.y1 and outer.x2 >= inner.x2 and outer.y2 >= inner.y2


def test_small_distant_object_gets_a_model_sized_crop_around_it() -> None:
    person = Box(1000, 100, 1030, 170)
    (crop,) = regions_for([person], FRAME, 300)
    assert (crop.width, crop.height) == (300, 300)
    assert contains(crop, person)
    assert crop.x1 >= 0
    assert crop.x2 <= 1280
    assert crop.y1 >= 0
    assert crop.y2 <= 720


def test_crops_near_the_edge_shift_inside_the_frame() -> None:
    (crop,) = regions_for([Box(1270, 700, 1280, 720)], FRAME, 300)
    assert crop == Box(980, 420, 1280, 720)


def test_far_apart_boxes_get_separate_crops_and_touching_ones_merge() -> None:
    a, b = Box(50, 50, 100, 150), Box(1100, 500, 1150, 600)
    crops = regions_for([a, b], FRAME, 300)
    assert len(crops) == 2
    assert any(contains(c, a) for c in crops)
    assert any(contains(c, b) for c in crops)
    merged = regions_for([Box(400, 300, 450, 400), Box(440, 390, 500, 450)], FRAME, 300)
    assert len(merged) == 1


def test_large_activity_gets_the_largest_square_centred_on_it() -> None:
    assert regions_for([Box(600, 50, 1200, 700)], FRAME, 300) == (Box(540, 0, 1260, 720),)


def test_scattered_activity_falls_back_to_square_tiles_of_the_whole_frame() -> None:
    scattered = [Box(x, y, x + 20, y + 20) for x in (0, 400, 800, 1200) for y in (0, 650)]
    assert regions_for(scattered, FRAME, 300) == (Box(0, 0, 720, 720), Box(560, 0, 1280, 720))
    assert regions_for([], FRAME, 300) == ()


def test_cover_frame_tiles_without_distortion() -> None:
    assert cover_frame((1280, 720)) == (Box(0, 0, 720, 720), Box(560, 0, 1280, 720))
    assert cover_frame((640, 640)) == (Box(0, 0, 640, 640),)
    tiles = cover_frame((480, 1600))  # a portrait doorbell camera
    assert len(tiles) == 4
    assert tiles[0].y1 == 0
    assert tiles[-1].y2 == 1600
    assert all(t.width == t.height == 480 for t in tiles)


def test_boxes_map_back_and_duplicates_across_crops_are_suppressed() -> None:
    found = to_frame([Detection("person", 0.9, Box(10, 20, 110, 220))], Box(500, 300, 800, 600), (1280, 720))
    assert found[0].box == Box(510, 320, 610, 520)
    twice = [*found, Detection("person", 0.7, Box(512, 318, 611, 522)), Detection("dog", 0.6, Box(510, 320, 610, 520))]
    kept = suppress_duplicates(twice)
    assert [(d.label, d.score) for d in kept] == [("person", 0.9), ("dog", 0.6)]


def test_a_part_cut_off_by_a_crop_edge_is_not_a_second_object() -> None:
    whole = Detection("person", 0.9, Box(600, 100, 800, 700))
    lower_half = Detection("person", 0.6, Box(610, 400, 790, 700))  # IoU 0.45 but inside the whole
    beside = Detection("person", 0.6, Box(820, 100, 1000, 700))
    assert suppress_duplicates([lower_half, whole, beside]) == [whole, beside]


def test_one_vehicle_named_twice_is_one_detection_but_a_person_beside_it_stays() -> None:
    car = Detection("car", 0.62, Box(100, 300, 700, 650))
    truck = Detection("truck", 0.55, Box(110, 290, 705, 660))  # the same van, another label
    person = Detection("person", 0.7, Box(300, 200, 450, 650))  # in front of it
    dog = Detection("dog", 0.5, Box(800, 500, 900, 600))
    cat = Detection("cat", 0.45, Box(805, 505, 902, 598))  # the same dog
    assert suppress_duplicates([truck, car, person, cat, dog]) == [person, car, dog]


def test_an_object_longer_than_the_frame_is_tall_gets_one_padded_square() -> None:
    """A car 900 px long in a 1280x720 frame: one square around all of it, past the frame's edges."""
    car = Box(180, 250, 1080, 700)
    (region,) = regions_for([car], (1280, 720), 416)
    assert region.width == region.height > 900
    assert region.x1 <= car.x1
    assert region.x2 >= car.x2
    assert region.y1 < 0
    assert region.y2 > 720
    assert abs((region.y1 + region.y2) / 2 - 360) <= 1  # centred on the frame where it is taller than the frame


def test_the_whole_frame_is_one_undistorted_padded_square() -> None:
    (square,) = whole_frame((1280, 720))
    assert square == Box(0, -280, 1280, 1000)
    (portrait,) = whole_frame((480, 640))
    assert portrait == Box(-80, 0, 560, 640)


def test_boxes_in_the_padding_are_clipped_or_dropped() -> None:
    region = Box(0, -280, 1280, 1000)
    found = to_frame(
        [Detection("car", 0.8, Box(100, 200, 900, 700)), Detection("kite", 0.6, Box(10, 10, 60, 60))],
        region,
        (1280, 720),
    )
    assert found == [Detection("car", 0.8, Box(100, 0, 900, 420))]  # the kite was in the padding


def test_boxes_if_room_are_covered_only_while_the_crops_stay_few() -> None:
    walker, parked = Box(100, 300, 160, 460), Box(900, 400, 1200, 550)
    both = regions_for([walker], FRAME, 300, if_room=[parked])
    assert len(both) == 2
    assert any(contains(c, walker) for c in both)
    assert any(contains(c, parked) for c in both)
    # Four movers already fill the crops: the parked car waits, and what moves is still looked at
    # crop by crop, not as tiles of the whole frame.
    movers = [Box(x, 50, x + 40, 120) for x in (0, 330, 660, 990)]
    crops = regions_for(movers, FRAME, 300, if_room=[parked])
    assert len(crops) == 4
    assert all(any(contains(c, m) for c in crops) for m in movers)
    assert not any(contains(c, parked) for c in crops)
    assert regions_for([], FRAME, 300, if_room=[parked]) == regions_for([parked], FRAME, 300)
