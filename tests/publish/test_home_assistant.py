"""What Home Assistant sees, read from a real mosquitto as HA reads it: the discovery configs and
state topics (issue 15's Home Assistant list), and what someone else on the broker can make the
box do (retained commands, a guessable client id, command and `online` floods)."""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from app.config import Mode, parse_config
from app.demo.clip import ClipInfo
from app.detect.engine import TfliteDetector
from app.publish import netloop
from app.publish.bridge import MqttBridge
from app.run.service import Service
from app.store import Store
from tests.publish.hub import (
    Control,
    Subscriber,
    alert,
    discovered,
    mqtt_config,
    online,
    outcome,
    retained,
    running_bridge,
    subscriber,
)
from tests.support.mosquitto import Mosquitto
from tests.support.waiting import wait_until

P = "edgewatch/garage-pi"
Broker = Callable[..., Mosquitto]


@pytest.fixture(autouse=True)
def _no_leftover_threads() -> Iterator[None]:
    before = threading.active_count()
    yield
    # The bridges' threads end after stop() returns: wait for them to go, then hold the bound.
    wait_until(lambda: threading.active_count() <= before + 2, 10)
    assert threading.active_count() <= before + 2


def connected(bridge: MqttBridge, broker: Mosquitto) -> None:
    assert wait_until(lambda: bridge.client.connected, 10), bridge.client.status()
    assert online(broker), retained(broker, f"{P}/available")  # the connect's states and discovery too


def latest(sub: Subscriber, state: dict[str, bytes], wait: float = 1.0) -> dict[str, bytes]:
    """`state` updated with every message that arrives within `wait` s (last one per topic wins)."""
    state.update(sub.collect(None, wait))
    return state


def discovery_now(broker: Mosquitto) -> dict[str, dict[str, object]]:
    return discovered(list(retained(broker, "homeassistant/#").items()))


# -- 1. the device links to the dashboard ---------------------------------------------------------


def test_the_device_links_to_the_dashboard_as_a_browser_on_the_lan_opens_it(
    mosquitto_broker: Broker, tmp_path: Path
) -> None:
    broker = mosquitto_broker()
    cases = [
        # all interfaces: the address the box reaches the broker from; the broker is on loopback
        # here, which no other machine could open, so the box's host name
        ("", f"http://{socket.gethostname()}:8080/"),
        ("api: {listen: '10.20.30.40:8081'}\n", "http://10.20.30.40:8081/"),
        (
            "api: {listen: '[::]:8080', url: 'https://cams.example.lan/edgewatch'}\n",
            "https://cams.example.lan/edgewatch/",
        ),
        ("api: {listen: '127.0.0.1:8080'}\n", None),  # loopback only: nothing to link to
    ]
    for n, (api, expected) in enumerate(cases):
        config = mqtt_config("/nonexistent.mp4", broker, api)
        with running_bridge(config, tmp_path / str(n)) as (bridge, store):
            connected(bridge, broker)
            entities = discovery_now(broker)
            with subscriber(broker, f"{P}/alerts") as hub:
                sent = alert(n)
                store.add_alert(sent)
                bridge.on_alert(sent)
                body = json.loads(hub.next(f"{P}/alerts")[0])
        devices = [e["device"] for e in entities.values()]
        assert len(devices) == len(entities) > 10
        assert all(isinstance(d, dict) and d.get("configuration_url") == expected for d in devices), (api, devices[0])
        snapshot = None if expected is None else f"{expected}api/events/evt-{n}/snapshot.jpg"
        assert body["snapshot_url"] == snapshot  # the alert's link agrees with the device's


# -- 2. a disabled camera reports nothing in view, at once -----------------------------------------


def test_turning_a_camera_off_zeroes_its_counts_motion_and_rules_at_once(
    mosquitto_broker: Broker, tmp_path: Path
) -> None:
    broker = mosquitto_broker()
    config = parse_config(
        f"node_id: garage-pi\ncameras: {{drive: {{source: /a.mp4}}, side: {{source: /b.mp4}}}}\n"
        f"mqtt: {{host: 127.0.0.1, port: {broker.port}}}\nrules: [{{name: porch, objects: [person]}}]\n"
    )
    control = Control(cameras=("drive", "side"))
    with running_bridge(config, tmp_path, control) as (bridge, store), subscriber(broker, f"{P}/#") as hub:
        connected(bridge, broker)
        bridge.on_outcome(outcome("drive", ("person", "person")))
        bridge.on_outcome(outcome("side", ("person",)))
        for n, camera in ((1, "drive"), (2, "side")):
            fired = alert(n, camera=camera)
            store.add_alert(fired)
            bridge.on_alert(fired)
        state = latest(hub, {})
        assert (state[f"{P}/drive/person"], state[f"{P}/drive/motion"], state[f"{P}/rules/porch/state"]) == (
            b"2",
            b"ON",
            b"ON",
        )

        hub.publish(f"{P}/drive/enabled/set", b"OFF")
        state = latest(hub, state)
        assert state[f"{P}/drive/enabled"] == b"OFF"
        assert (state[f"{P}/drive/person"], state[f"{P}/drive/motion"]) == (b"0", b"OFF")
        assert state[f"{P}/rules/porch/state"] == b"ON"  # the side camera still sees someone
        assert state[f"{P}/side/person"] == b"1"

        bridge.on_outcome(outcome("drive", ("person",)))  # a frame that was in flight when it was turned off
        hub.publish(f"{P}/side/enabled/set", b"OFF")
        state = latest(hub, state)
        assert state[f"{P}/rules/porch/state"] == b"OFF"  # nobody left to keep it firing
        assert (state[f"{P}/drive/person"], state[f"{P}/side/person"]) == (b"0", b"0")
    left = retained(broker, f"{P}/#")  # what a hub that connects later is told
    assert left[f"{P}/drive/person"] == left[f"{P}/side/person"] == b"0"
    assert left[f"{P}/drive/motion"] == left[f"{P}/side/motion"] == left[f"{P}/rules/porch/state"] == b"OFF"


# -- 3, 4. names, device classes, icons -------------------------------------------------------------


def test_entities_are_named_for_people_with_classes_and_icons(mosquitto_broker: Broker, tmp_path: Path) -> None:
    broker = mosquitto_broker()
    config = parse_config(
        "node_id: garage-pi\n"
        "cameras:\n  garage: {source: /a.mp4, name: Garage door}\n  side_yard: {source: /b.mp4}\n"
        f"mqtt: {{host: 127.0.0.1, port: {broker.port}}}\n"
        "rules:\n  - {name: person_in_garage, cameras: [garage]}\n"
        "  - {name: cars, objects: [vehicle], title: Car on the drive}\n"
    )
    with running_bridge(config, tmp_path, Control(cameras=("garage", "side_yard"))) as (bridge, _store):
        connected(bridge, broker)
        entities = discovery_now(broker)
    names = {oid: e["name"] for oid, e in entities.items()}
    assert names["mode"] == "Mode"
    assert names["detector_degraded"] == "Detector degraded"
    assert names["rule_person_in_garage"] == "Person in garage"  # the id made readable
    assert names["event_person_in_garage"] == "Person in garage alert"
    assert names["rule_cars"] == "Car on the drive"  # the rule's title
    assert names["motion_garage"] == "Garage door motion"  # the camera's name
    assert names["status_garage"] == "Garage door camera"
    assert names["enabled_garage"] == "Garage door detection"
    assert names["motion_side_yard"] == "Side yard motion"
    assert names["count_side_yard__person"] == "Side yard person count"
    for oid, name in names.items():  # sentence case, no raw ids: HA shows "<device> <name>"
        assert isinstance(name, str), (oid, name)
        assert name[0].isupper(), (oid, name)
        assert "_" not in name, (oid, name)

    rule = entities["rule_person_in_garage"]
    assert (rule["component"], rule["device_class"]) == ("binary_sensor", "occupancy")
    counts = {oid: e for oid, e in entities.items() if oid.startswith("count_")}
    assert counts
    assert all(e["state_class"] == "measurement" and e["icon"] for e in counts.values())
    assert counts["count_garage__person"]["icon"] == "mdi:account"
    assert counts["count_garage__car"]["icon"] == "mdi:car"
    assert counts["count_garage__truck"]["icon"] == "mdi:truck"


# -- 5. counts only for what the model can see ------------------------------------------------------


def test_a_person_only_model_gets_a_person_count_only(
    mosquitto_broker: Broker, person_detector: TfliteDetector, tmp_path: Path
) -> None:
    broker = mosquitto_broker()
    # tracks the 13 default classes, and a rule asks for cars: the person SSD can report neither
    config = mqtt_config("/nonexistent.mp4", broker, "rules: [{name: cars, objects: [car]}]\n")
    with Store(tmp_path / "s", retain_days=7, max_mb=64) as store:
        service = Service(config, person_detector, store)
        service.start()
        try:
            assert service.bridge is not None
            connected(service.bridge, broker)
            sensors = discovered(list(retained(broker, "homeassistant/sensor/#").items()))
            states = retained(broker, f"{P}/drive/+")
        finally:
            service.stop()
    assert set(sensors) == {"count_drive__person"}
    assert states[f"{P}/drive/person"] == b"0"
    assert not {f"{P}/drive/car", f"{P}/drive/dog", f"{P}/drive/truck"} & set(states)


# -- 6. alerts as HA events; the latest snapshot as an image -----------------------------------------


def test_each_fresh_alert_fires_its_rules_event_entity(mosquitto_broker: Broker, tmp_path: Path) -> None:
    broker = mosquitto_broker()
    config = mqtt_config("/nonexistent.mp4", broker, "rules: [{name: porch, objects: [person, dog]}]\n")
    with running_bridge(config, tmp_path) as (bridge, store):
        connected(bridge, broker)
        event = discovery_now(broker)["event_porch"]
        with subscriber(broker, f"{P}/rules/porch/event", f"{P}/alerts") as hub:
            fresh, stale = alert(1), alert(2, age=600)  # the stale one waited out a 10-minute outage
            for each in (fresh, stale):
                store.add_alert(each)
                bridge.on_alert(each)
            seen = hub.collect(None, 2.0)
        left = retained(broker, f"{P}/rules/#")
    assert event["component"] == "event"
    assert event["state_topic"] == f"{P}/rules/porch/event"
    assert event["event_types"] == ["dog", "person"]
    alerts = [json.loads(p) for t, p in seen if t == f"{P}/alerts"]
    events = [json.loads(p) for t, p in seen if t == f"{P}/rules/porch/event"]
    assert sorted(a["id"] for a in alerts) == sorted([fresh.id, stale.id])
    assert len(events) == 1  # an alert ten minutes old is history, not something to act on now
    fired = events[0]
    assert fired["event_type"] == "person"
    assert fired["event_type"] in event["event_types"]
    assert {k: v for k, v in fired.items() if k != "event_type"} == next(a for a in alerts if a["id"] == fresh.id)
    assert f"{P}/rules/porch/event" not in left  # events are never retained (HA would replay them)


def test_the_snapshot_image_entity_exists_only_when_snapshots_are_opted_in(
    mosquitto_broker: Broker, tmp_path: Path
) -> None:
    broker = mosquitto_broker()
    found = {}
    for enabled in (False, True):
        config = mqtt_config("/nonexistent.mp4", broker, extra=f", snapshots: {str(enabled).lower()}")
        with running_bridge(config, tmp_path / str(enabled)) as (bridge, _store):
            connected(bridge, broker)
            found[enabled] = discovered(list(retained(broker, "homeassistant/image/#").items()))
    assert found[False] == {}
    image = found[True]["snapshot_drive"]
    assert image["image_topic"] == f"{P}/drive/snapshot"
    assert image["content_type"] == "image/jpeg"
    assert image["name"] == "Drive snapshot"


# -- 7. a start: states first, then `online`; no connectivity flip; a quiet stop ------------------------


def test_a_restart_resets_the_last_runs_states_before_saying_online(mosquitto_broker: Broker, tmp_path: Path) -> None:
    broker = mosquitto_broker()
    config = mqtt_config("/nonexistent.mp4", broker, "rules: [{name: porch}]\n")
    left_behind = {
        f"{P}/available": b"offline",
        f"{P}/drive/person": b"2",
        f"{P}/drive/motion": b"ON",
        f"{P}/rules/porch/state": b"ON",
        f"{P}/drive/status": b"online",
    }
    with subscriber(broker) as last_run:
        for topic, payload in left_behind.items():
            last_run.publish(topic, payload, retain=True)
    control = Control()
    control.online = {}  # the camera is still opening its stream: its connectivity is not known
    with subscriber(broker, f"{P}/#") as hub:
        assert dict(hub.collect(None, 0.5)) == left_behind
        with running_bridge(config, tmp_path, control):
            seen = hub.collect(until=f"{P}/available", timeout=10)
            before_online = dict(seen[:-1])
            assert seen[-1] == (f"{P}/available", b"online")
            assert before_online[f"{P}/drive/person"] == b"0"
            assert before_online[f"{P}/drive/motion"] == b"OFF"
            assert before_online[f"{P}/rules/porch/state"] == b"OFF"
            assert f"{P}/drive/status" not in before_online  # not known yet: not said
            control.online = {"drive": True}
            assert hub.next(f"{P}/drive/status", timeout=3) == (b"online", False)


def drive_online(service: Service) -> bool:
    return service.cameras_online().get("drive") is True


def test_a_starting_camera_never_flips_offline_then_online(
    person_clip: ClipInfo, mosquitto_broker: Broker, person_detector: TfliteDetector, tmp_path: Path
) -> None:
    broker = mosquitto_broker()
    config = mqtt_config(str(person_clip.path), broker)
    with (
        subscriber(broker, f"{P}/drive/status") as hub,
        Store(tmp_path / "s", retain_days=7, max_mb=64) as store,
    ):
        for start in range(2):  # a first start, and a restart with the last run's retained `online`
            service = Service(config, person_detector, store)
            service.start()
            try:
                assert wait_until(partial(drive_online, service), 10)
                said = [p for _, p in hub.collect(None, 1.5)]
            finally:
                service.stop()
            assert said[-1:] == [b"online"], (start, said)
            assert b"offline" not in said, (start, said)


# -- security 4: retained commands, an unguessable client id -----------------------------------------


def test_retained_commands_are_ignored_and_cleared_at_start_and_at_every_reconnect(
    mosquitto_broker: Broker, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.WARNING, logger="app.publish")
    # The box's first retry after the outage waits 4 s instead of 1: room to restart the broker and
    # leave a retained command on it before the box is back (checked below, not assumed).
    monkeypatch.setattr(netloop, "RECONNECT_MIN_DELAY", 4.0)
    broker = mosquitto_broker()
    config = mqtt_config("/nonexistent.mp4", broker)
    control = Control()

    def commands_retained() -> set[str]:
        return {t for t in retained(broker, f"{P}/#") if t.endswith("/set")}

    with subscriber(broker) as someone:
        someone.publish(f"{P}/mode/set", b"disarmed", retain=True)
        someone.publish(f"{P}/drive/enabled/set", b"OFF", retain=True)
        with running_bridge(config, tmp_path, control) as (bridge, _store):
            connected(bridge, broker)
            assert (control.mode, control.enabled["drive"]) == (Mode.AWAY, True)
            assert retained(broker, f"{P}/mode") == {f"{P}/mode": b"away"}
            assert wait_until(lambda: not commands_retained(), 5)  # cleared from the broker

            control.set_mode(Mode.HOME)  # e.g. from the dashboard, later
            broker.stop()
            assert wait_until(lambda: not bridge.client.connected, 5)
            broker.start()  # empty (no persistence); the box retries after >= 4 s ...
            someone.close()
            with subscriber(broker) as again:  # ... and finds a retained `disarmed` waiting for it
                again.publish(f"{P}/mode/set", b"disarmed", retain=True)
            assert bridge.client.status().reconnects == 0, "the box was back before the command was left"
            assert wait_until(lambda: bridge.client.status().reconnects == 1, 10)
            assert wait_until(lambda: not commands_retained(), 5)  # seen, and cleared: the box has decided
            assert control.mode is Mode.HOME
    said = [r.getMessage() for r in caplog.records if "retained command" in r.getMessage()]
    # said once, not per message
    assert len(said) == 1
    assert f"{P}/mode/set" in said[0]
    assert "disarmed" not in said[0]


NEW_CLIENT = re.compile(r"New client connected from \S+ as (\S+) \(")


def test_the_client_id_cannot_be_guessed_and_a_namesake_cannot_knock_the_box_off(
    mosquitto_broker: Broker, tmp_path: Path
) -> None:
    broker = mosquitto_broker()
    config = mqtt_config("/nonexistent.mp4", broker)
    ids = []
    for folder in ("a", "a", "b"):  # the same box twice, then another box with the same node id
        with Store(tmp_path / folder, retain_days=7, max_mb=64) as store:
            bridge = MqttBridge(config, Control(), store)
            bridge.start()
            try:
                connected(bridge, broker)
                # the box's (the hubs that looked at the broker in between have ids of their own)
                ids.append([c for c in NEW_CLIENT.findall(broker.log()) if c.startswith("edgewatch-")][-1])
                if len(ids) == 1:  # someone connects with the id the box used to have
                    namesake = paho.Client(CallbackAPIVersion.VERSION2, client_id="edgewatch-garage-pi")
                    namesake.connect(broker.host, int(broker.port or 0))
                    namesake.loop_start()
                    # The broker decides on a clash while it handles the CONNECT, before it answers:
                    # once the namesake is connected, a clash would already be in the log; and a
                    # subscriber's later SUBACK proves the broker has got past that connect.
                    assert wait_until(namesake.is_connected, 10), broker.log()[-2000:]
                    assert "edgewatch-garage-pi" in NEW_CLIENT.findall(broker.log()), broker.log()[-2000:]
                    retained(broker, f"{P}/available")  # a round trip through the broker after it
                    namesake.loop_stop()
                    namesake.disconnect()
                    assert bridge.client.connected
                    assert bridge.client.status().reconnects == 0
                    assert "already connected, closing old connection" not in broker.log()
            finally:
                bridge.stop()
    assert ids[0] == ids[1] != ids[2]  # kept across restarts, different per box
    for each in ids:
        assert re.fullmatch(r"edgewatch-garage-pi-[0-9a-f]{16}", each), each


# -- 8. floods ----------------------------------------------------------------------------------------


def test_a_flood_of_bad_commands_is_one_warning(
    mosquitto_broker: Broker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="app.publish")
    broker = mosquitto_broker()
    config = mqtt_config("/nonexistent.mp4", broker)
    control = Control()
    with running_bridge(config, tmp_path, control) as (bridge, _store), subscriber(broker) as someone:
        connected(bridge, broker)
        for _ in range(300):
            someone.publish(f"{P}/mode/set", b"holiday")
        someone.publish(f"{P}/mode/set", b"night")  # a good one after them: all 300 were handled by then
        assert wait_until(lambda: control.mode is Mode.NIGHT, 5)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [f"mqtt: ignored an invalid mode command on {P}/mode/set"]


def test_a_flood_of_online_announcements_is_one_republish(mosquitto_broker: Broker, tmp_path: Path) -> None:
    broker = mosquitto_broker()
    config = mqtt_config("/nonexistent.mp4", broker)
    mode_config = "homeassistant/select/garage-pi/mode/config"
    with running_bridge(config, tmp_path) as (bridge, _store), subscriber(broker, mode_config) as hub:
        connected(bridge, broker)
        assert len(hub.drain(mode_config, wait=0.5)) == 1  # the connect's own discovery
        for _ in range(100):
            hub.publish("homeassistant/status", b"online")
        republished = hub.drain(mode_config, wait=13.0)
    assert len(republished) == 1  # 100 announcements: answered once, within the spacing
