"""frigate_compat: Frigate-shaped `frigate/events` and `frigate/<camera>/<label>` messages."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from app.domain import Event
from app.payloads import event_payload
from app.publish.frigate import frigate_count_message, frigate_event_message

EVENT = Event(
    id="1764025200123-driveway-7",
    camera="driveway",
    label="person",
    score=0.81234567,
    top_score=0.9,
    box=(0.1, 0.2, 0.5, 0.9),
    zones=("yard",),
    start_time=1764025200.123,
    end_time=None,
    stationary=False,
)

# The keys Frigate automations read from each side (docs.frigate.video/integrations/mqtt).
FRIGATE_KEYS = {
    "id",
    "camera",
    "frame_time",
    "label",
    "sub_label",
    "score",
    "top_score",
    "false_positive",
    "start_time",
    "end_time",
    "current_zones",
    "entered_zones",
    "thumbnail",
    "has_snapshot",
    "has_clip",
    "stationary",
    "attributes",
    "current_attributes",
}


def decode(message: tuple[str, str]) -> dict[str, Any]:
    topic, payload = message
    assert topic == "frigate/events"
    data = json.loads(payload)
    assert isinstance(data, dict)
    return data


def test_new_event_shape() -> None:
    data = decode(frigate_event_message("new", None, EVENT, (640, 480)))
    assert set(data) == {"type", "before", "after"}
    assert data["type"] == "new"
    after = data["after"]
    assert FRIGATE_KEYS | {"box", "area", "ratio"} == set(after)
    assert data["before"] == after  # Frigate always sends both sides
    ours = event_payload(EVENT)
    for key in ("id", "camera", "label", "score", "top_score", "start_time", "end_time", "stationary"):
        assert after[key] == ours[key], key
    assert after["score"] == 0.8123
    assert after["end_time"] is None
    assert after["frame_time"] == ours["start_time"]
    assert after["entered_zones"] == ["yard"]
    assert after["current_zones"] == ["yard"]
    assert after["has_snapshot"] is False
    assert after["false_positive"] is False
    assert after["has_clip"] is False
    assert after["sub_label"] is None
    assert after["box"] == [64, 96, 320, 432]  # pixels of a 640x480 frame
    assert all(isinstance(v, int) for v in after["box"])
    assert after["area"] == 256 * 336
    assert after["ratio"] == pytest.approx(256 / 336, abs=1e-6)


def test_without_frame_size_there_is_no_pixel_box() -> None:
    after = decode(frigate_event_message("new", None, EVENT))["after"]
    assert set(after) == FRIGATE_KEYS


def test_update_carries_both_states() -> None:
    later = replace(EVENT, score=0.95, top_score=0.95, zones=("yard", "porch"), box=(0.2, 0.2, 0.6, 0.9))
    data = decode(frigate_event_message("update", EVENT, later, (1280, 720)))
    assert data["type"] == "update"
    assert data["before"]["entered_zones"] == ["yard"]
    assert data["after"]["entered_zones"] == ["yard", "porch"]
    assert data["before"]["top_score"] == 0.9
    assert data["after"]["top_score"] == 0.95
    assert data["before"]["box"] == [128, 144, 640, 648]
    assert data["after"]["box"] == [256, 144, 768, 648]
    assert data["before"]["id"] == data["after"]["id"] == EVENT.id


def test_end_event() -> None:
    ended = replace(EVENT, end_time=1764025230.5, stationary=True)
    data = decode(frigate_event_message("end", EVENT, ended))
    assert data["type"] == "end"
    assert data["before"]["end_time"] is None
    after = data["after"]
    assert after["end_time"] == 1764025230.5 == after["frame_time"]
    assert after["stationary"] is True
    assert after["entered_zones"] == ["yard"]
    assert after["current_zones"] == []


def test_label_with_space_is_kept_in_the_payload() -> None:
    after = decode(frigate_event_message("new", None, replace(EVENT, label="traffic light")))["after"]
    assert after["label"] == "traffic light"


def test_count_message() -> None:
    assert frigate_count_message("driveway", "person", 2) == ("frigate/driveway/person", "2")
    assert frigate_count_message("driveway", "car", 0) == ("frigate/driveway/car", "0")
    assert frigate_count_message("porch", "traffic light", 1) == ("frigate/porch/traffic_light", "1")
    with pytest.raises(ValueError, match="negative"):
        frigate_count_message("porch", "person", -1)
