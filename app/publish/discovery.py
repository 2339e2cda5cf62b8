"""Home Assistant MQTT discovery: the retained config messages describing this box's entities.

Pure builders: the caller publishes each (topic, payload) retained, remembers the set of topics
it published (`discovery_topics`) and, next time, clears the ones that are gone
(`removal_messages`) — an empty retained payload makes HA delete the entity. It republishes on
every reconnect and whenever `HA_STATUS_TOPIC` says `online` (HA restarted).

Ids. Each entity has an object id that is unique within the box and built from a kind prefix
(`rule_`, `event_`, `motion_`, `status_`, `enabled_`, `count_`, `snapshot_`, or exactly `mode`
and `detector_degraded`; none a prefix of another) and the names it is about. Camera and rule
names are `[A-Za-z0-9_-]`; labels go through `label_slug`, which never yields `__` nor a leading
`_`, so `count_<camera>__<label>` cannot be produced by two different (camera, label) pairs.
`unique_id` is `<node_id>_<object_id>`, so two boxes with the same cameras and rules never share one.

Names follow HA's entity naming (2023.8+): one device, and each entity's own name in sentence
case, which HA shows after the device's ("edgewatch garage-pi" + "Garage person count"). Cameras
and rules are named by their display names (`cameras.<id>.name`, `rules[].title`; default: the id
made readable), never by raw ids.

Alerts are an `event` entity per rule, not per camera: a rule is what the homeowner asked to be
told about, so "when *Person at the porch* fires" is one trigger whichever camera saw it (the
camera is an attribute); its event types are the labels the rule fires for.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from app.config import Config, Mode
from app.labels import expand
from app.publish.topics import Topics, label_slug

DISCOVERY_PREFIX = "homeassistant"
HA_STATUS_TOPIC = f"{DISCOVERY_PREFIX}/status"
HA_ONLINE = "online"

ONLINE = "online"
OFFLINE = "offline"
ON = "ON"
OFF = "OFF"

_DISCOVERY_TOPIC = re.compile(
    rf"^{DISCOVERY_PREFIX}/[a-z_]+/[A-Za-z0-9_-]+/[A-Za-z0-9_-]+/config$"
)  # what removal_messages is willing to clear
_NOT_ENTITY_ID = re.compile(r"[^a-z0-9]+")

# Count sensors' icons (Material Design Icons, as HA names them); other classes get COUNT_ICON.
CLASS_ICONS: dict[str, str] = {
    "person": "mdi:account", "bicycle": "mdi:bicycle", "car": "mdi:car", "motorcycle": "mdi:motorbike",
    "bus": "mdi:bus", "truck": "mdi:truck", "airplane": "mdi:airplane", "train": "mdi:train", "boat": "mdi:ferry",
    "bird": "mdi:bird", "cat": "mdi:cat", "dog": "mdi:dog", "horse": "mdi:horse", "sheep": "mdi:sheep",
    "cow": "mdi:cow", "bear": "mdi:teddy-bear", "elephant": "mdi:elephant", "backpack": "mdi:bag-personal",
    "handbag": "mdi:handbag", "suitcase": "mdi:bag-suitcase", "umbrella": "mdi:umbrella",
}  # fmt: skip
COUNT_ICON = "mdi:counter"


def discovery_topic(component: str, node_id: str, object_id: str) -> str:
    return f"{DISCOVERY_PREFIX}/{component}/{node_id}/{object_id}/config"


def _default_entity_id(component: str, unique_id: str) -> str:
    # HA entity ids are lowercase [a-z0-9_] without `__` or an `_` at either end.
    return f"{component}.{_NOT_ENTITY_ID.sub('_', unique_id.lower()).strip('_')}"


def discovery_messages(
    config: Config,
    topics: Topics,
    labels: Iterable[str],
    *,
    version: str,
    configuration_url: str | None = None,
) -> list[tuple[str, str]]:
    """One retained (topic, JSON) discovery config per entity of this box.

    Entities: a binary_sensor (occupancy: ON while it fires) and an event per rule; per camera a
    motion and a connectivity binary_sensor, a detection switch, a count sensor per label and,
    with `mqtt.snapshots`, an image of its latest event; a select for the mode and a detector
    problem sensor. `labels` are the labels counted per camera (deduplicated by slug; order does
    not matter, output is sorted by label). `configuration_url`: the dashboard, linked from the
    device page.
    """
    node_id = config.node_id
    if topics.node_id != node_id:
        raise ValueError(f"topics are for node '{topics.node_id}', the config is for '{node_id}'")

    device: dict[str, Any] = {
        "identifiers": [f"edgewatch_{node_id}"],
        "name": f"edgewatch {node_id}",
        "manufacturer": "edgewatch",
        "model": "edgewatch appliance",
        "sw_version": version,
    }
    if configuration_url is not None:
        device["configuration_url"] = configuration_url
    common: dict[str, Any] = {
        "availability_topic": topics.available,
        "payload_available": ONLINE,
        "payload_not_available": OFFLINE,
        "qos": 1,
        "device": device,
        "origin": {"name": "edgewatch", "sw_version": version},
    }
    on_off = {"payload_on": ON, "payload_off": OFF}

    counted: dict[str, str] = {}  # slug → the label as shown in names
    for label in sorted(labels):
        counted.setdefault(label_slug(label), label)

    entities: list[tuple[str, str, dict[str, Any]]] = [
        (
            "select",
            "mode",
            {
                "name": "Mode",
                "state_topic": topics.mode,
                "command_topic": topics.mode_set,
                "options": [mode.value for mode in Mode],
                "icon": "mdi:shield-home",
            },
        ),
        (
            "binary_sensor",
            "detector_degraded",
            {
                "name": "Detector degraded",  # on while the Edge TPU is out and the CPU model stands in
                "state_topic": topics.detector,
                "value_template": "{{ 'ON' if value_json.degraded else 'OFF' }}",
                "device_class": "problem",
                "entity_category": "diagnostic",
                **on_off,
            },
        ),
    ]
    for rule in config.rules:
        title = rule.display_name
        entities += [
            (
                "binary_sensor",
                f"rule_{rule.name}",
                # on from the alert until the object's visit ends: something is there
                {"name": title, "state_topic": topics.rule_state(rule.name), "device_class": "occupancy", **on_off},
            ),
            (
                "event",
                f"event_{rule.name}",
                {
                    "name": f"{title} alert",
                    "state_topic": topics.rule_event(rule.name),
                    "event_types": sorted(expand(rule.objects)),
                    "icon": "mdi:bell-ring",
                },
            ),
        ]
    for camera in config.cameras:
        name = config.camera_name(camera)
        entities += [
            (
                "binary_sensor",
                f"motion_{camera}",
                {"name": f"{name} motion", "state_topic": topics.motion(camera), "device_class": "motion", **on_off},
            ),
            (
                "binary_sensor",
                f"status_{camera}",
                {
                    "name": f"{name} camera",
                    "state_topic": topics.camera_status(camera),
                    "device_class": "connectivity",
                    "payload_on": ONLINE,
                    "payload_off": OFFLINE,
                    "entity_category": "diagnostic",
                },
            ),
            (
                "switch",
                f"enabled_{camera}",
                {
                    "name": f"{name} detection",  # off: the camera is watched by nobody
                    "state_topic": topics.enabled(camera),
                    "command_topic": topics.enabled_set(camera),
                    **on_off,
                    "state_on": ON,
                    "state_off": OFF,
                    "entity_category": "config",
                },
            ),
        ]
        for slug, label in counted.items():
            entities.append(
                (
                    "sensor",
                    f"count_{camera}__{slug}",
                    {
                        "name": f"{name} {label} count",
                        "state_topic": topics.count(camera, label),
                        "state_class": "measurement",
                        "icon": CLASS_ICONS.get(label, COUNT_ICON),
                    },
                )
            )
        if config.mqtt is not None and config.mqtt.snapshots:  # opt-in, as the JPEGs themselves are
            entities.append(
                (
                    "image",
                    f"snapshot_{camera}",
                    {"name": f"{name} snapshot", "image_topic": topics.snapshot(camera), "content_type": "image/jpeg"},
                )
            )

    messages: list[tuple[str, str]] = []
    for component, object_id, fields in entities:
        unique_id = f"{node_id}_{object_id}"
        payload = {
            **fields,
            "unique_id": unique_id,
            # entity ids carry the node too, so two boxes' `driveway` entities never clash;
            # `object_id` for HA < 2025.10, `default_entity_id` for newer (object_id is deprecated)
            "object_id": unique_id,
            "default_entity_id": _default_entity_id(component, unique_id),
            **common,
        }
        messages.append((discovery_topic(component, node_id, object_id), json.dumps(payload, separators=(",", ":"))))
    if len(discovery_topics(messages)) != len(messages):  # cannot happen with the id scheme above
        raise ValueError("two Home Assistant entities would share a discovery topic")
    return messages


def discovery_topics(messages: Iterable[tuple[str, str]]) -> set[str]:
    return {topic for topic, _ in messages}


def removal_messages(previous: set[str], current: set[str]) -> list[tuple[str, str]]:
    """(topic, "") for every discovery topic published last time and not any more.

    Only well-formed discovery config topics are cleared, so a corrupt record of last time's
    topics cannot make us wipe arbitrary retained messages.
    """
    return [(topic, "") for topic in sorted(previous - current) if _DISCOVERY_TOPIC.fullmatch(topic)]
