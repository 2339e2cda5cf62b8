"""`clip_url` in MQTT alerts and events (like `snapshot_url`), through a real mosquitto."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path

from app.analysis.camera import Outcome
from app.analysis.events import EventChange
from app.config import Config
from app.domain import Event
from tests.publish.hub import alert, mqtt_config, outcome, running_bridge, subscriber
from tests.support.mosquitto import Mosquitto
from tests.support.waiting import wait_until


def test_alerts_and_events_carry_the_clip_url_when_the_camera_records(
    mosquitto_broker: Callable[..., Mosquitto], tmp_path: Path
) -> None:
    broker = mosquitto_broker()
    host = socket.gethostname()
    config = mqtt_config("/nonexistent.mp4", broker)
    with running_bridge(config, tmp_path) as (bridge, store):
        assert wait_until(lambda: bridge.client.connected, 10)
        with subscriber(broker, "edgewatch/garage-pi/#") as sub:
            sent = alert(7)
            store.add_alert(sent)
            bridge.on_alert(sent)
            body = json.loads(sub.next("edgewatch/garage-pi/alerts")[0])
            event = Event("evt-7", "drive", "person", 0.9, 0.9, (0.1, 0.2, 0.3, 0.9), (), 1.0, None, False)
            base = outcome("drive", ("person",))
            bridge.on_outcome(Outcome(base.result, (EventChange("new", event),), ()))
            change = json.loads(sub.next("edgewatch/garage-pi/events")[0])
    assert body["clip_url"] == f"http://{host}:8080/api/events/evt-7/clip.mp4"
    assert body["snapshot_url"] == f"http://{host}:8080/api/events/evt-7/snapshot.jpg"
    assert change["type"] == "new"
    assert change["event"]["id"] == "evt-7"
    assert change["event"]["clip_url"] == f"http://{host}:8080/api/events/evt-7/clip.mp4"


def test_no_clip_url_for_a_camera_that_does_not_record(
    mosquitto_broker: Callable[..., Mosquitto], tmp_path: Path
) -> None:
    broker = mosquitto_broker()
    base_config = mqtt_config("/nonexistent.mp4", broker)
    config = replace_record(base_config)
    with running_bridge(config, tmp_path) as (bridge, store):
        assert wait_until(lambda: bridge.client.connected, 10)
        with subscriber(broker, "edgewatch/garage-pi/alerts") as sub:
            sent = alert(8)
            store.add_alert(sent)
            bridge.on_alert(sent)
            body = json.loads(sub.next("edgewatch/garage-pi/alerts")[0])
    assert "clip_url" in body
    assert body["clip_url"] is None
    assert body["snapshot_url"] is not None


def replace_record(config: Config) -> Config:
    """The same config with `record: {enabled: false}`."""
    return config.model_copy(update={"record": config.record.model_copy(update={"enabled": False})})
