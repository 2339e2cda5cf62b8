"""The object vocabulary policy: what is tracked, and the two scores each class needs."""

from __future__ import annotations

import pytest

from app.config import parse_config
from app.domain import Box, Detection
from app.labels import COCO_LABELS, GROUPS
from app.objects import (
    CLASS_LIMITS,
    DEFAULT_LIMITS,
    DEFAULT_TRACK,
    Limits,
    ObjectFilter,
    class_limits,
    resolve_limits,
)

BOX = Box(10, 10, 50, 90)


def det(label: str, score: float) -> Detection:
    return Detection(label, score, BOX)


def config_filter(objects: str = "", rules: str = "", detector: str = "") -> ObjectFilter:
    text = f"cameras: {{a: {{source: a.mp4}}}}\n{objects}\n{rules}\n{detector}\n"
    return ObjectFilter.from_config(parse_config(text))


def test_default_track_is_what_a_home_camera_cares_about() -> None:
    assert set(DEFAULT_TRACK) == {
        "person", "bicycle", "car", "motorcycle", "bus", "truck",
        "bird", "cat", "dog", "horse", "sheep", "cow", "bear",
    }  # fmt: skip
    assert ObjectFilter.default().tracked == frozenset(DEFAULT_TRACK)
    assert config_filter().tracked == frozenset(DEFAULT_TRACK)  # no objects section: the same


def test_the_table_names_only_coco_labels_and_orders_its_scores() -> None:
    assert set(CLASS_LIMITS) <= set(COCO_LABELS)
    for label, limits in CLASS_LIMITS.items():
        assert 0.0 <= limits.min_score <= limits.threshold <= 1.0, label
    assert DEFAULT_LIMITS.min_score <= DEFAULT_LIMITS.threshold


@pytest.mark.parametrize("label", ["bird", "sports ball", "kite", "frisbee", "cell phone", "chair"])
def test_false_positive_prone_classes_need_more_than_the_default(label: str) -> None:
    limits = class_limits(label)
    assert limits.threshold >= 0.65
    assert limits.min_score > DEFAULT_LIMITS.min_score
    assert limits.threshold > DEFAULT_LIMITS.threshold


def test_labels_outside_the_table_use_the_defaults() -> None:
    assert class_limits("person") == DEFAULT_LIMITS
    assert class_limits("raccoon") == DEFAULT_LIMITS  # a custom label map's


def test_groups_are_expanded_and_every_rule_object_is_tracked() -> None:
    objects = config_filter(
        "objects: {track: [person, vehicle]}",
        "rules: [{name: r, objects: [animal]}, {name: s, objects: [sports ball]}]",
    )
    assert objects.tracked == {"person"} | GROUPS["vehicle"] | GROUPS["animal"] | {"sports ball"}


def test_an_empty_track_list_tracks_only_what_the_rules_name() -> None:
    assert config_filter("objects: {track: []}", "rules: [{name: r, objects: [dog]}]").tracked == {"dog"}
    nothing = config_filter("objects: {track: []}")
    assert nothing.tracked == frozenset()
    assert nothing.keep([det("person", 0.9)]) == ()
    assert nothing.floor == DEFAULT_LIMITS.min_score


def test_keep_drops_untracked_classes_and_each_class_under_its_own_min_score() -> None:
    objects = config_filter("objects: {track: [person, bird, car], filters: {person: {min_score: 0.5}}}")
    found = [
        det("person", 0.49),  # under person's configured 0.5
        det("person", 0.5),  # inclusive
        det("bird", 0.45),  # under bird's table 0.5
        det("bird", 0.55),
        det("car", 0.41),  # default 0.4
        det("chair", 0.95),  # not tracked, however sure
        det("sports ball", 0.9),
    ]
    assert objects.keep(found) == (found[1], found[3], found[4])


def test_floor_is_the_lowest_min_score_of_the_tracked_classes() -> None:
    assert config_filter("objects: {track: [bird, sports ball]}").floor == 0.5
    assert config_filter("objects: {track: [bird, car]}").floor == 0.4
    assert config_filter("objects: {track: [person], filters: {person: {min_score: 0.3}}}").floor == 0.3


def test_filters_per_label_and_per_group_and_the_label_wins() -> None:
    objects = config_filter(
        "objects:\n"
        "  track: [person, vehicle]\n"
        "  filters:\n"
        "    vehicle: {min_score: 0.45, threshold: 0.65}\n"
        "    car: {threshold: 0.75}\n"
        "    person: {min_score: 0.5, threshold: 0.7}\n"
    )
    assert objects.limits("person") == Limits(0.5, 0.7)
    assert objects.limits("truck") == Limits(0.45, 0.65)  # the group's, over the table's (0.4, 0.5)
    assert objects.limits("bus") == Limits(0.45, 0.65)
    assert objects.limits("car") == Limits(0.45, 0.75)  # own threshold, the group's min_score
    assert (objects.min_score("car"), objects.threshold("car")) == (0.45, 0.75)


def test_a_default_never_crosses_an_explicit_value() -> None:
    # min_score alone above the default threshold raises the threshold with it ...
    assert resolve_limits("person", {"person": (0.7, None)}) == Limits(0.7, 0.7)
    # ... and a threshold alone under the class's floor lowers the floor.
    assert resolve_limits("bird", {"bird": (None, 0.45)}) == Limits(0.45, 0.45)
    # Where they do not cross, the other value stays the table's.
    assert resolve_limits("bird", {"bird": (None, 0.8)}) == Limits(0.5, 0.8)
    assert resolve_limits("person", {"person": (0.45, None)}) == Limits(0.45, 0.55)


def test_a_custom_label_map_may_name_other_classes_which_use_the_defaults() -> None:
    objects = config_filter(
        "objects: {track: [raccoon], filters: {fox: {threshold: 0.8}}}",
        "rules: [{name: r, objects: [fox]}]",
        "detector: {labels: /etc/edgewatch/labels.txt}",
    )
    assert objects.tracked == {"raccoon", "fox"}
    assert objects.limits("raccoon") == DEFAULT_LIMITS
    assert objects.limits("fox") == Limits(DEFAULT_LIMITS.min_score, 0.8)
    assert objects.keep([det("raccoon", 0.41), det("raccoon", 0.39)]) == (det("raccoon", 0.41),)


def test_untracked_labels_still_answer_with_their_class_defaults() -> None:
    objects = config_filter("objects: {track: [person]}")
    assert objects.limits("sports ball") == CLASS_LIMITS["sports ball"]
    assert objects.threshold("giraffe") == DEFAULT_LIMITS.threshold
