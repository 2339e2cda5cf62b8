"""`mqtt.frigate_compat`: Frigate-shaped messages so existing Frigate automations keep working.

Mirrored from Frigate's documented MQTT API (docs.frigate.video/integrations/mqtt; see also
/work/shared/reference/anchors.md):

- `frigate/events`: `{"type": "new"|"update"|"end", "before": {...}, "after": {...}}` where each
  side is the tracked object: `id`, `camera`, `frame_time`, `label`, `sub_label`, `score`,
  `top_score`, `false_positive`, `start_time`, `end_time`, `box` (pixels `[x1, y1, x2, y2]`),
  `area`, `ratio`, `current_zones`, `entered_zones`, `thumbnail`, `has_snapshot`, `has_clip`,
  `stationary`, `attributes`, `current_attributes`. Automations mostly read `type`,
  `after.camera`, `after.label`, `after.score`/`top_score`, `after.entered_zones`/
  `current_zones`, `after.id` and `after.frame_time`.
- `frigate/<camera>/<label>`: the current count of that label on that camera, as text.

Not mirrored: `snapshot`, `region`, `motionless_count`, `position_changes` (we have no
equivalent), and Frigate's id format (`<epoch>.<frac>-<random>`; ours is the event id).
`has_snapshot` and `has_clip` are false: Frigate's `/api/events/<id>/snapshot.jpg` does not
exist here. Values shared with our own `P/events` payload come from `event_payload`.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from app.domain import Event
from app.payloads import event_payload
from app.publish.topics import label_slug

FRIGATE_PREFIX = "frigate"
FRIGATE_EVENTS_TOPIC = f"{FRIGATE_PREFIX}/events"

ChangeType = Literal["new", "update", "end"]


def frigate_object(
    event: Event,
    frame_size: tuple[int, int] | None = None,
    *,
    current_zones: tuple[str, ...] | None = None,
    frame_time: float | None = None,
) -> dict[str, Any]:
    """One side (`before`/`after`) of a Frigate event message.

    `frame_size` is (width, height) of the camera's frames: with it the box is given in
    pixels (with `area` and `ratio`) as Frigate does; without it there is no `box`, since a
    normalized box in Frigate's pixel field would mislead. Our events record the zones
    entered, not the ones the object is in now: `current_zones` defaults to those entered
    while the event lasts and to none once it has ended. `frame_time` defaults to the end
    time, or the start time while the event lasts.
    """
    base = event_payload(event)
    ended = event.end_time is not None
    obj: dict[str, Any] = {
        "id": base["id"],
        "camera": base["camera"],
        "frame_time": frame_time if frame_time is not None else (base["end_time"] if ended else base["start_time"]),
        "label": base["label"],
        "sub_label": None,
        "score": base["score"],
        "top_score": base["top_score"],
        "false_positive": False,
        "start_time": base["start_time"],
        "end_time": base["end_time"],
        "current_zones": list(current_zones) if current_zones is not None else ([] if ended else list(event.zones)),
        "entered_zones": list(event.zones),
        "thumbnail": None,
        "has_snapshot": False,
        "has_clip": False,
        "stationary": base["stationary"],
        "attributes": {},
        "current_attributes": [],
    }
    if frame_size is not None:
        width, height = frame_size
        x1, y1, x2, y2 = (round(v * s) for v, s in zip(event.box, (width, height, width, height), strict=True))
        obj["box"] = [x1, y1, x2, y2]
        obj["area"] = max(0, x2 - x1) * max(0, y2 - y1)
        obj["ratio"] = round((x2 - x1) / (y2 - y1), 6) if y2 > y1 else 0.0
    return obj


def frigate_event_message(
    change_type: ChangeType,
    before: Event | None,
    after: Event,
    frame_size: tuple[int, int] | None = None,
) -> tuple[str, str]:
    """(`frigate/events`, JSON). Frigate always sends both sides: without a `before` (a new
    event) the `after` state is sent as both, as Frigate does for `new`."""
    after_obj = frigate_object(after, frame_size)
    before_obj = after_obj if before is None else frigate_object(before, frame_size)
    payload = {"type": change_type, "before": before_obj, "after": after_obj}
    return FRIGATE_EVENTS_TOPIC, json.dumps(payload, separators=(",", ":"))


def frigate_count_message(camera: str, label: str, count: int) -> tuple[str, str]:
    """(`frigate/<camera>/<label>`, "<count>"). The label is slugged (`traffic_light`) so the
    topic has no spaces or wildcards, as for our own `P/<camera>/<label>`."""
    if count < 0:
        raise ValueError(f"a count cannot be negative: {count}")
    return f"{FRIGATE_PREFIX}/{camera}/{label_slug(label)}", str(int(count))
