"""Topics of one box, label slugs and the pure parsing of MQTT commands."""

from __future__ import annotations

from typing import Any

import pytest

from app.config import Config, Mode
from app.labels import COCO_LABELS
from app.publish.topics import MAX_COMMAND_BYTES, Command, Topics, label_slug, parse_mode, parse_switch

CAMERAS = ("driveway", "porch")
RULES = ("person_at_porch", "car_in_drive")


def make_config(node_id: str = "garage-pi", **extra: Any) -> Config:
    return Config.model_validate(
        {
            "node_id": node_id,
            "cameras": {name: {"source": f"/dev/video{i}"} for i, name in enumerate(CAMERAS)},
            "rules": [{"name": name} for name in RULES],
            "mqtt": {"host": "broker.lan"},
            **extra,
        }
    )


def all_topics(topics: Topics, labels: tuple[str, ...] = COCO_LABELS) -> list[str]:
    out = [topics.available, topics.alerts, topics.events, topics.mode, topics.mode_set, topics.stats]
    out += [topics.rule_state(rule) for rule in RULES]
    for cam in CAMERAS:
        out += [
            topics.camera_status(cam),
            topics.motion(cam),
            topics.enabled(cam),
            topics.enabled_set(cam),
            topics.snapshot(cam),
        ]
        out += [topics.count(cam, label) for label in labels]
    return out


def test_spec_topics() -> None:
    t = Topics.from_config(make_config())
    assert t.prefix == "edgewatch/garage-pi"
    assert t.available == "edgewatch/garage-pi/available"
    assert t.alerts == "edgewatch/garage-pi/alerts"
    assert t.events == "edgewatch/garage-pi/events"
    assert t.camera_status("driveway") == "edgewatch/garage-pi/driveway/status"
    assert t.motion("driveway") == "edgewatch/garage-pi/driveway/motion"
    assert t.count("driveway", "person") == "edgewatch/garage-pi/driveway/person"
    assert t.mode == "edgewatch/garage-pi/mode"
    assert t.mode_set == "edgewatch/garage-pi/mode/set"
    assert t.enabled("driveway") == "edgewatch/garage-pi/driveway/enabled"
    assert t.enabled_set("driveway") == "edgewatch/garage-pi/driveway/enabled/set"
    assert t.stats == "edgewatch/garage-pi/stats"
    assert t.snapshot("driveway") == "edgewatch/garage-pi/driveway/snapshot"
    assert t.rule_state("person_at_porch") == "edgewatch/garage-pi/rules/person_at_porch/state"
    assert t.command_filters == ("edgewatch/garage-pi/mode/set", "edgewatch/garage-pi/+/enabled/set")


def test_prefix_from_config_and_default_without_mqtt() -> None:
    custom = make_config(mqtt={"host": "b", "topic_prefix": "home/cams"})
    assert Topics.from_config(custom).prefix == "home/cams/garage-pi"
    no_mqtt = make_config(mqtt=None)
    assert Topics.from_config(no_mqtt).prefix == "edgewatch/garage-pi"


def test_two_boxes_share_no_topic() -> None:
    garage = set(all_topics(Topics.from_config(make_config("garage-pi"))))
    front = set(all_topics(Topics.from_config(make_config("front-pi"))))
    assert garage.isdisjoint(front)


def test_topics_of_one_box_are_distinct_for_every_coco_label() -> None:
    topics = all_topics(Topics("edgewatch", "garage-pi"))
    assert len(topics) == len(set(topics))


@pytest.mark.parametrize(
    ("label", "slug"),
    [
        ("person", "person"),
        ("traffic light", "traffic_light"),
        ("hair drier", "hair_drier"),
        ("  odd   label ", "odd_label"),
        ("a/b+c#d", "a_b_c_d"),
        ("x__y", "x_y"),
        ("???", "3f3f3f"),
    ],
)
def test_label_slug(label: str, slug: str) -> None:
    assert label_slug(label) == slug


def test_label_slugs_are_topic_safe_and_unique_for_coco() -> None:
    slugs = [label_slug(label) for label in COCO_LABELS]
    assert len(set(slugs)) == len(slugs)
    for slug in slugs:
        assert not set(slug) & set(" +#/"), slug
        assert "__" not in slug
        assert not slug.startswith("_")
        assert not slug.endswith("_")
    assert Topics("edgewatch", "n").count("cam", "traffic light") == "edgewatch/n/cam/traffic_light"


def test_parse_command() -> None:
    t = Topics("edgewatch", "garage-pi")
    assert t.parse_command("edgewatch/garage-pi/mode/set") == Command("mode", None)
    assert t.parse_command("edgewatch/garage-pi/driveway/enabled/set") == Command("enabled", "driveway")
    # a camera literally named "mode" is still a camera
    assert t.parse_command("edgewatch/garage-pi/mode/enabled/set") == Command("enabled", "mode")
    for topic in [
        "edgewatch/garage-pi/mode",  # the state topic, not the command
        "edgewatch/garage-pi/driveway/enabled",
        "edgewatch/front-pi/mode/set",  # another box
        "edgewatch/front-pi/driveway/enabled/set",
        "other/garage-pi/mode/set",
        "edgewatch/garage-pi/mode/set/extra",
        "edgewatch/garage-pi//enabled/set",
        "edgewatch/garage-pi/a/b/enabled/set",
        "edgewatch/garage-pi/+/enabled/set",
        "edgewatch/garage-pi/rules/r/state",
        "edgewatch/garage-pi",
        "edgewatch/garage-pimode/set",
        "",
    ]:
        assert t.parse_command(topic) is None, topic


def test_parse_command_with_multi_level_prefix() -> None:
    t = Topics("home/cams", "garage-pi")
    assert t.parse_command("home/cams/garage-pi/mode/set") == Command("mode")
    assert t.parse_command("home/cams/garage-pi/porch/enabled/set") == Command("enabled", "porch")
    assert t.parse_command("home/garage-pi/mode/set") is None


@pytest.mark.parametrize(
    ("payload", "mode"),
    [
        (b"away", Mode.AWAY),
        (b" NIGHT\n", Mode.NIGHT),
        (b"disarmed", Mode.DISARMED),
        (b"Home", Mode.HOME),
        (b"\taway\r\n", Mode.AWAY),
        (b"away".ljust(MAX_COMMAND_BYTES), Mode.AWAY),
        (b"holiday", None),
        (b"", None),
        (b"   ", None),
        (b"\xff\xfe", None),
        (b"away".ljust(MAX_COMMAND_BYTES + 1), None),
        (b"away" + b" " * 96, None),  # 100 bytes
        (b"a" * 100, None),
        (b"on", None),
        (b"OFF", None),
        (b"1", None),
        (b"aw ay", None),
        (b'"away"', None),
        ("ａｗａｙ".encode(), None),  # fullwidth letters are not ASCII
    ],
)
def test_parse_mode(payload: bytes, mode: Mode | None) -> None:
    assert parse_mode(payload) is mode


@pytest.mark.parametrize(
    ("payload", "state"),
    [
        (b"on", True),
        (b"OFF", False),
        (b"ON", True),
        (b"off", False),
        (b" On \r\n", True),
        (b"ON".ljust(MAX_COMMAND_BYTES), True),
        (b"1", None),
        (b"0", None),
        (b"true", None),
        (b"", None),
        (b"\xff\xfe", None),
        (b"ON" + b" " * 98, None),  # 100 bytes
        (b"away", None),
        (b"ONN", None),
        (b"O N", None),
    ],
)
def test_parse_switch(payload: bytes, state: bool | None) -> None:
    assert parse_switch(payload) is state
