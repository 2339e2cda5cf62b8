"""Home Assistant discovery configs: required fields, ids, two boxes side by side, removal."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from app.config import Config, Mode
from app.labels import COCO_LABELS
from app.objects import DEFAULT_TRACK, ObjectFilter
from app.publish.discovery import (
    HA_STATUS_TOPIC,
    discovery_messages,
    discovery_topics,
    removal_messages,
)
from app.publish.topics import Topics

VERSION = "1.2.3"
LABELS = ("person", "car", "traffic light", "dog")

# What HA's MQTT platforms refuse to set up without (plus what we require of every entity).
REQUIRED: dict[str, set[str]] = {
    "binary_sensor": {"state_topic"},
    "sensor": {"state_topic"},
    "select": {"command_topic", "options", "state_topic"},
    "switch": {"command_topic"},
    "event": {"state_topic", "event_types"},
    "image": {"image_topic"},
}
REQUIRED_ALL = {"name", "unique_id", "object_id", "device", "availability_topic"}

TOPIC = re.compile(r"^homeassistant/(?P<component>[a-z_]+)/(?P<node>[a-z0-9_-]+)/(?P<object_id>[^/]+)/config$")
OBJECT_ID = re.compile(r"^[a-zA-Z0-9_-]+$")
HA_ENTITY_ID = re.compile(r"^(?!.+__)(?!_)[\da-z_]+(?<!_)\.(?!_)[\da-z_]+(?<!_)$")  # HA's valid_entity_id


def make_config(
    node_id: str = "garage-pi",
    cameras: tuple[str, ...] = ("driveway", "porch"),
    rules: tuple[str, ...] = ("person_at_porch", "car_in_drive"),
    snapshots: bool = False,
) -> Config:
    return Config.model_validate(
        {
            "node_id": node_id,
            "cameras": {name: {"source": f"/dev/video{i}"} for i, name in enumerate(cameras)},
            "rules": [{"name": name} for name in rules],
            "mqtt": {"host": "broker.lan", "snapshots": snapshots},
        }
    )


def messages_for(config: Config, labels: tuple[str, ...] = LABELS) -> list[tuple[str, str]]:
    return discovery_messages(config, Topics.from_config(config), labels, version=VERSION)


def parsed(messages: list[tuple[str, str]]) -> dict[str, dict[str, Any]]:
    return {topic: json.loads(payload) for topic, payload in messages}


def by_object_id(messages: list[tuple[str, str]]) -> dict[str, tuple[str, dict[str, Any]]]:
    out = {}
    for topic, payload in parsed(messages).items():
        match = TOPIC.match(topic)
        assert match, topic
        out[match["object_id"]] = (match["component"], payload)
    return out


def test_every_config_has_what_ha_requires() -> None:
    config = make_config(snapshots=True)
    topics = Topics.from_config(config)
    messages = messages_for(config)
    assert messages
    for topic, payload in parsed(messages).items():
        match = TOPIC.match(topic)
        assert match, topic
        component = match["component"]
        assert component in REQUIRED, topic
        missing = (REQUIRED[component] | REQUIRED_ALL) - payload.keys()
        assert not missing, (topic, missing)
        assert match["node"] == "garage-pi"
        assert OBJECT_ID.fullmatch(match["object_id"]), topic
        assert OBJECT_ID.fullmatch(payload["object_id"]), payload["object_id"]
        assert payload["unique_id"] == f"garage-pi_{match['object_id']}"
        assert HA_ENTITY_ID.fullmatch(payload["default_entity_id"]), payload["default_entity_id"]
        assert payload["default_entity_id"].startswith(f"{component}.")
        assert payload["availability_topic"] == topics.available == "edgewatch/garage-pi/available"
        assert payload["payload_available"] == "online"
        assert payload["payload_not_available"] == "offline"
        assert payload["device"] == {
            "identifiers": ["edgewatch_garage-pi"],
            "name": "edgewatch garage-pi",
            "manufacturer": "edgewatch",
            "model": "edgewatch appliance",
            "sw_version": VERSION,
        }
        for key, value in payload.items():
            if key.endswith("_topic"):
                assert value.startswith("edgewatch/garage-pi/"), (key, value)
                assert not set(value) & set(" +#"), (key, value)


def test_payloads_round_trip_as_json() -> None:
    for _, payload in messages_for(make_config()):
        data = json.loads(payload)
        assert isinstance(data, dict)
        assert json.loads(json.dumps(data)) == data


def test_entities() -> None:
    config = make_config()
    t = Topics.from_config(config)
    entities = by_object_id(messages_for(config))
    # 1 select, 1 detector problem sensor, 2 rules × (state, event), per camera: motion, status,
    # enabled + 4 counts (no snapshot image unless opted in)
    assert len(entities) == 1 + 1 + 2 * 2 + 2 * (3 + len(LABELS))

    component, degraded = entities["detector_degraded"]
    assert component == "binary_sensor"
    assert degraded["state_topic"] == t.detector == "edgewatch/garage-pi/detector"
    assert degraded["device_class"] == "problem"
    assert "value_json.degraded" in degraded["value_template"]

    component, mode = entities["mode"]
    assert component == "select"
    assert mode["state_topic"] == t.mode
    assert mode["command_topic"] == t.mode_set
    assert mode["options"] == ["home", "away", "night", "disarmed"] == [m.value for m in Mode]

    component, rule = entities["rule_person_at_porch"]
    assert component == "binary_sensor"
    assert rule["state_topic"] == t.rule_state("person_at_porch") == "edgewatch/garage-pi/rules/person_at_porch/state"
    assert (rule["payload_on"], rule["payload_off"]) == ("ON", "OFF")
    assert rule["device_class"] == "occupancy"
    assert rule["name"] == "Person at porch"

    component, event = entities["event_car_in_drive"]
    assert component == "event"
    assert event["state_topic"] == "edgewatch/garage-pi/rules/car_in_drive/event"
    assert event["event_types"] == ["person"]
    assert event["name"] == "Car in drive alert"

    component, motion = entities["motion_driveway"]
    assert component == "binary_sensor"
    assert motion["device_class"] == "motion"
    assert motion["state_topic"] == t.motion("driveway")
    assert (motion["payload_on"], motion["payload_off"]) == ("ON", "OFF")

    component, status = entities["status_porch"]
    assert component == "binary_sensor"
    assert status["device_class"] == "connectivity"
    assert status["state_topic"] == t.camera_status("porch")
    assert (status["payload_on"], status["payload_off"]) == ("online", "offline")

    component, enabled = entities["enabled_porch"]
    assert component == "switch"
    assert enabled["command_topic"] == t.enabled_set("porch")
    assert enabled["state_topic"] == t.enabled("porch")
    assert (enabled["payload_on"], enabled["payload_off"]) == ("ON", "OFF")

    component, count = entities["count_driveway__traffic_light"]
    assert component == "sensor"
    assert count["state_topic"] == t.count("driveway", "traffic light") == "edgewatch/garage-pi/driveway/traffic_light"
    assert count["state_class"] == "measurement"
    assert "unit_of_measurement" not in count
    assert count["name"] == "Driveway traffic light count"
    assert count["icon"] == "mdi:counter"
    assert entities["count_porch__person"][1]["icon"] == "mdi:account"
    assert entities["count_porch__car"][1]["icon"] == "mdi:car"
    assert entities["enabled_porch"][1]["name"] == "Porch detection"
    assert not any(oid.startswith("snapshot_") for oid in entities)


def test_a_count_sensor_for_every_class_in_use_with_topic_safe_ids() -> None:
    config = make_config(cameras=("driveway",))
    t = Topics.from_config(config)
    labels = (*sorted(ObjectFilter.from_config(config).tracked), "sports ball", "hair drier")
    counts = {oid: p for oid, (_, p) in by_object_id(messages_for(config, labels)).items() if oid.startswith("count_")}
    assert len(counts) == len(labels) == len(DEFAULT_TRACK) + 2
    assert counts["count_driveway__sports_ball"]["state_topic"] == "edgewatch/garage-pi/driveway/sports_ball"
    assert counts["count_driveway__hair_drier"]["name"] == "Driveway hair drier count"
    for label in labels:
        topic = counts[f"count_driveway__{label.replace(' ', '_')}"]["state_topic"]
        assert topic == t.count("driveway", label), topic
        assert not set(topic) & set(" +#"), topic


def test_two_boxes_share_no_topic_and_no_unique_id() -> None:
    garage, front = (parsed(messages_for(make_config(node))) for node in ("garage-pi", "front-pi"))
    assert set(garage).isdisjoint(front)
    for key in ("unique_id", "object_id", "default_entity_id", "availability_topic"):
        assert {p[key] for p in garage.values()}.isdisjoint({p[key] for p in front.values()}), key
    garage_topics = {v for p in garage.values() for k, v in p.items() if k.endswith("_topic")}
    front_topics = {v for p in front.values() for k, v in p.items() if k.endswith("_topic")}
    assert garage_topics.isdisjoint(front_topics)
    assert {p["device"]["identifiers"][0] for p in garage.values()} == {"edgewatch_garage-pi"}
    assert {p["device"]["identifiers"][0] for p in front.values()} == {"edgewatch_front-pi"}


def test_ids_stay_unique_when_camera_and_label_names_overlap() -> None:
    # "front" + "hot dog" and "front_hot" + "dog" must not share a count sensor id
    config = make_config(cameras=("front", "front_hot", "rule_x", "count_a"), rules=("x_motion", "front"))
    messages = messages_for(config, (*COCO_LABELS, "a b", "b"))
    payloads = parsed(messages)
    assert len(payloads) == len(messages)
    unique_ids = [p["unique_id"] for p in payloads.values()]
    assert len(set(unique_ids)) == len(unique_ids)
    state_topics = [p["state_topic"] for p in payloads.values()]
    assert len(set(state_topics)) == len(state_topics)


def test_output_is_deterministic_and_labels_deduplicated() -> None:
    config = make_config()
    first = messages_for(config, ("person", "traffic light", "car"))
    again = messages_for(config, ("car", "traffic light", "person", "traffic_light", "person"))
    assert first == again


def test_topics_for_another_node_are_refused() -> None:
    with pytest.raises(ValueError, match="front-pi"):
        discovery_messages(make_config("garage-pi"), Topics("edgewatch", "front-pi"), LABELS, version=VERSION)


def test_removing_a_camera_clears_exactly_its_entities() -> None:
    before = messages_for(make_config(cameras=("driveway", "porch")))
    after = messages_for(make_config(cameras=("driveway",)))
    removals = removal_messages(discovery_topics(before), discovery_topics(after))

    porch_topics = {
        topic
        for topic, payload in parsed(before).items()
        if any(v.startswith("edgewatch/garage-pi/porch/") for k, v in payload.items() if k.endswith("_topic"))
    }
    assert len(porch_topics) == 3 + len(LABELS)  # motion, status, enabled, counts
    assert {topic for topic, _ in removals} == porch_topics
    assert all(payload == "" for _, payload in removals)
    assert len(removals) == len(porch_topics)  # each once


def test_removing_a_rule_clears_its_binary_sensor_and_event() -> None:
    before = discovery_topics(messages_for(make_config(rules=("a", "b"))))
    after = discovery_topics(messages_for(make_config(rules=("a",))))
    assert removal_messages(before, after) == [
        ("homeassistant/binary_sensor/garage-pi/rule_b/config", ""),
        ("homeassistant/event/garage-pi/event_b/config", ""),
    ]


def test_nothing_removed_when_nothing_changed() -> None:
    topics = discovery_topics(messages_for(make_config()))
    assert removal_messages(topics, topics) == []
    assert removal_messages(set(), topics) == []


def test_removal_never_clears_non_discovery_topics() -> None:
    previous = {
        "edgewatch/garage-pi/alerts",
        "homeassistant/status",
        "homeassistant/sensor/garage-pi/+/config",
        "homeassistant/sensor/garage-pi/x/config/extra",
        "homeassistant/sensor/garage-pi/gone/config",
    }
    assert removal_messages(previous, set()) == [("homeassistant/sensor/garage-pi/gone/config", "")]


def test_ha_status_topic() -> None:
    assert HA_STATUS_TOPIC == "homeassistant/status"
