"""Home Assistant MQTT discovery: the retained config messages describing this box's entities.

Pure builders: the caller publishes each (topic, payload) retained, remembers the set of topics
it published (`discovery_topics`) and, next time, clears the ones that are gone
(`removal_messages`) — an empty retained payload makes HA delete the entity. It republishes on
every reconnect and whenever `HA_STATUS_TOPIC` says `online` (HA restarted).

Ids. Each entity has an object id that is unique within the box and built from a kind prefix
(`rule_`, `motion_`, `status_`, `enabled_`, `count_`, or exactly `mode`; none a prefix of
another) and the names it is about. Camera and rule names are `[A-Za-z0-9_-]`; labels go
through `label_slug`, which never yields `__` nor a leading `_`, so `count_<camera>__<label>`
cannot be produced by two different (camera, label) pairs. `unique_id` is
`<node_id>_<object_id>`, so two boxes with the same cameras and rules never share one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from app.config import Config, Mode
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


def discovery_topic(component: str, node_id: str, object_id: str) -> str:
    return f"{DISCOVERY_PREFIX}/{component}/{node_id}/{object_id}/config"


def _default_entity_id(component: str, unique_id: str) -> str:
    # HA entity ids are lowercase [a-z0-9_] without `__` or an `_` at either end.
    return f"{component}.{_NOT_ENTITY_ID.sub('_', unique_id.lower()).strip('_')}"


def discovery_messages(config: Config, topics: Topics, labels: Iterable[str], *, version: str) -> list[tuple[str, str]]:
    """One retained (topic, JSON) discovery config per entity of this box.

    Entities: a binary_sensor per rule (ON while it fires) and per camera motion, a
    connectivity binary_sensor and an enabled switch per camera, a count sensor per
    camera × label, and a select for the mode. `labels` are the labels counted per camera
    (deduplicated by slug; order does not matter, output is sorted by label).
    """
    node_id = config.node_id
    if topics.node_id != node_id:
        raise ValueError(f"topics are for node '{topics.node_id}', the config is for '{node_id}'")

    common: dict[str, Any] = {
        "availability_topic": topics.available,
        "payload_available": ONLINE,
        "payload_not_available": OFFLINE,
        "qos": 1,
        "device": {
            "identifiers": [f"edgewatch_{node_id}"],
            "name": f"edgewatch {node_id}",
            "manufacturer": "edgewatch",
            "model": "edgewatch appliance",
            "sw_version": version,
        },
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
        entities.append(
            (
                "binary_sensor",
                f"rule_{rule.name}",
                {"name": f"Rule {rule.name}", "state_topic": topics.rule_state(rule.name), **on_off},
            )
        )
    for camera in config.cameras:
        entities += [
            (
                "binary_sensor",
                f"motion_{camera}",
                {"name": f"{camera} motion", "state_topic": topics.motion(camera), "device_class": "motion", **on_off},
            ),
            (
                "binary_sensor",
                f"status_{camera}",
                {
                    "name": f"{camera} camera",
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
                    "name": f"{camera} enabled",
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
                        "name": f"{camera} {label} count",
                        "state_topic": topics.count(camera, label),
                        "state_class": "measurement",
                    },
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
