"""MQTT end to end with a real Debian mosquitto: alerts from the real pipeline, the durable
outbox across a broker outage, the last will, discovery on request, commands."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.config import Mode, parse_config
from app.demo.clip import ClipInfo
from app.detect.engine import TfliteDetector
from app.publish.bridge import MqttBridge
from app.run.service import Service
from app.store import Store
from tests.publish.hub import Clock, Control, alert, mqtt_config, online, running_bridge, subscriber
from tests.support.mosquitto import Mosquitto
from tests.support.waiting import wait_until

EDGEWATCH = str(Path(sys.executable).with_name("edgewatch"))
ALERT_FIELDS = {
    "id", "rule", "camera", "label", "score", "box", "zones", "event_id", "started_at", "sent_at", "severity", "late",
    "snapshot_url", "clip_url",
}  # fmt: skip


def test_an_alert_from_the_pipeline_arrives_with_the_spec_payload(
    person_clip: ClipInfo, mosquitto_broker: Callable[..., Mosquitto], detector: TfliteDetector, tmp_path: Path
) -> None:
    broker = mosquitto_broker()
    rule = "rules: [{name: anyone, objects: [person], min_dwell: 1s}]\n"
    config = mqtt_config(str(person_clip.path), broker, rule)
    with subscriber(broker, "edgewatch/garage-pi/#") as sub, Store(tmp_path / "s", retain_days=7, max_mb=64) as store:
        service = Service(config, detector, store)
        service.start()
        try:
            payload, retained = sub.next("edgewatch/garage-pi/alerts", timeout=30)
            assert wait_until(lambda: store.pending_count(since=0) == 0, 5)  # acknowledged: out of the outbox
            status = service.status()
        finally:
            service.stop()
    body = json.loads(payload)
    assert set(body) == ALERT_FIELDS
    assert not retained
    assert (body["rule"], body["camera"], body["label"], body["late"]) == ("anyone", "drive", "person", False)
    assert body["id"] == f"{body['event_id']}:anyone"
    assert body["severity"] == "alert"
    assert all(0.0 <= v <= 1.0 for v in body["box"])
    assert body["sent_at"].endswith("Z")
    assert status.mqtt is not None
    assert status.mqtt.connected
    assert status.mqtt.outbox == 0
    # The API listens on all interfaces (default 0.0.0.0:8080): the link names this box by the
    # address it reaches the broker from — on a LAN the box's LAN address; here the broker is on
    # loopback, which no other machine could open, so by its host name.
    host = socket.gethostname()
    assert body["snapshot_url"] == f"http://{host}:8080/api/events/{body['event_id']}/snapshot.jpg"
    assert body["clip_url"] == f"http://{host}:8080/api/events/{body['event_id']}/clip.mp4"


def test_alerts_wait_out_a_broker_outage_and_arrive_in_order_marked_late(
    mosquitto_broker: Callable[..., Mosquitto], tmp_path: Path
) -> None:
    broker = mosquitto_broker()
    config = mqtt_config("/nonexistent.mp4", broker)
    clock = Clock(time.time())
    with running_bridge(config, tmp_path, clock=clock) as (bridge, store):
        assert wait_until(lambda: bridge.client.connected, 10)
        broker.stop()
        assert wait_until(lambda: not bridge.client.connected, 10)
        sent = []
        for n in range(5):
            sent.append(alert(n, at=clock.now))
            store.add_alert(sent[-1])
            bridge.on_alert(sent[-1])
            clock.advance(0.05)
        assert bridge.outbox.depth() == 5
        clock.advance(LATE_WAIT)  # they are late by now, on the bridge's clock
        with subscriber(broker.start(), "edgewatch/garage-pi/alerts", "edgewatch/garage-pi/available") as sub:
            got = [json.loads(sub.next("edgewatch/garage-pi/alerts", timeout=40)[0]) for _ in sent]
            assert [g["id"] for g in got] == [a.id for a in sent]  # all five, in order
            assert all(g["late"] for g in got)
            assert wait_until(lambda: bridge.outbox.depth() == 0, 5)
            # None sent twice: the outbox sends oldest first, so a second copy of any of them would
            # come before an alert fired after them all.
            marker = alert(5, at=clock.now)
            store.add_alert(marker)
            bridge.on_alert(marker)
            assert json.loads(sub.next("edgewatch/garage-pi/alerts")[0])["id"] == marker.id


LATE_WAIT = 5.5


def test_available_goes_offline_by_last_will_and_back_online(
    person_clip: ClipInfo, mosquitto_broker: Callable[..., Mosquitto], tmp_path: Path
) -> None:
    broker = mosquitto_broker()
    config = tmp_path / "edgewatch.yaml"
    config.write_text(
        f"node_id: garage-pi\ncameras: {{drive: {{source: {person_clip.path}}}}}\ndetector: {{type: cpu}}\n"
        f"mqtt: {{host: 127.0.0.1, port: {broker.port}}}\nstorage: {{path: {tmp_path / 'state'}}}\n"
    )
    env = {**os.environ}
    run = [EDGEWATCH, "run", "--config", str(config)]
    proc = subprocess.Popen(run, stderr=subprocess.DEVNULL, env=env)
    try:
        with subscriber(broker, "edgewatch/garage-pi/available") as sub:
            assert sub.next("edgewatch/garage-pi/available", timeout=30)[0] == b"online"
            proc.send_signal(signal.SIGKILL)  # no goodbye: only the broker's last will can say it
            proc.wait(10)
            # The broker publishes the will once it sees the connection drop: a hub already listening hears it.
            assert sub.next("edgewatch/garage-pi/available", timeout=10)[0] == b"offline"
        with subscriber(broker, "edgewatch/garage-pi/available") as fresh:
            payload, retained = fresh.next("edgewatch/garage-pi/available", timeout=10)
            assert (payload, retained) == (b"offline", True)
        proc = subprocess.Popen(run, stderr=subprocess.DEVNULL, env=env)
        with subscriber(broker, "edgewatch/garage-pi/available") as again:
            assert again.next("edgewatch/garage-pi/available", timeout=30)[0] in (b"offline", b"online")
            assert wait_until(lambda: b"online" in again.drain("edgewatch/garage-pi/available", 0.3), 30)
    finally:
        proc.kill()
        proc.wait(10)


def test_discovery_is_republished_when_home_assistant_comes_online(
    mosquitto_broker: Callable[..., Mosquitto], tmp_path: Path
) -> None:
    broker = mosquitto_broker()
    config = mqtt_config("/nonexistent.mp4", broker, "rules: [{name: porch, objects: [person]}]\n")
    with running_bridge(config, tmp_path) as (bridge, _store):
        assert wait_until(lambda: bridge.client.connected, 10)
        assert online(broker)  # its discovery is on the broker too: a hub that connects later gets it retained
        with subscriber(broker, "homeassistant/#") as sub:
            payload, retained = sub.next("homeassistant/select/garage-pi/+/config")
            assert retained
            assert json.loads(payload)["availability_topic"] == "edgewatch/garage-pi/available"
            sub.drain("homeassistant/#", wait=1.0)
            sub.publish("homeassistant/status", b"online")
            # answered within REDISCOVER_SPACING_S of the connect's own discovery (+ the 1 s tick)
            again = sub.drain("homeassistant/+/garage-pi/+/config", wait=12.0)
            components = {json.loads(p)["unique_id"] for p in again if p}
            assert "garage-pi_mode" in components
            assert any(c.startswith("garage-pi_rule_") for c in components)


def test_commands_are_validated_applied_and_echoed(mosquitto_broker: Callable[..., Mosquitto], tmp_path: Path) -> None:
    broker = mosquitto_broker()
    config = mqtt_config("/nonexistent.mp4", broker)
    control = Control()
    with running_bridge(config, tmp_path, control) as (bridge, _store):
        assert wait_until(lambda: bridge.client.connected, 10)
        with subscriber(broker, "edgewatch/garage-pi/mode", "edgewatch/garage-pi/drive/enabled") as sub:
            sub.drain("#", wait=0.5)
            for junk in (b"holiday", b"", b"\xff\xfe", b"x" * 10_000):
                sub.publish("edgewatch/garage-pi/mode/set", junk)
                sub.publish("edgewatch/garage-pi/drive/enabled/set", junk)
            sub.publish("edgewatch/garage-pi/nocam/enabled/set", b"OFF")
            # A valid command last, one that changes nothing (drive is on): the bridge handles one
            # publisher's commands in order, so its echo comes after whatever the junk caused.
            sub.publish("edgewatch/garage-pi/drive/enabled/set", b"ON")
            echoes = sub.collect("edgewatch/garage-pi/drive/enabled", timeout=15)
            assert echoes == [("edgewatch/garage-pi/drive/enabled", b"ON")]  # the junk echoed nothing
            assert control.mode is Mode.AWAY
            assert control.enabled == {"drive": True}
            assert bridge.client.connected  # nothing crashed the network thread
            sub.publish("edgewatch/garage-pi/mode/set", b" night\n")
            assert sub.next("edgewatch/garage-pi/mode")[0] == b"night"
            assert control.mode.value == "night"
            sub.publish("edgewatch/garage-pi/drive/enabled/set", b"OFF")
            assert sub.next("edgewatch/garage-pi/drive/enabled")[0] == b"OFF"
            assert not control.enabled["drive"]


def test_two_boxes_on_one_broker_never_collide(mosquitto_broker: Callable[..., Mosquitto], tmp_path: Path) -> None:
    broker = mosquitto_broker()
    stores, bridges = [], []
    try:
        for node in ("garage-pi", "front-pi"):
            config = parse_config(
                f"node_id: {node}\ncameras: {{drive: {{source: /x.mp4}}}}\n"
                f"mqtt: {{host: 127.0.0.1, port: {broker.port}}}\nrules: [{{name: porch}}]\n"
            )
            store = Store(tmp_path / node, retain_days=7, max_mb=64)
            stores.append(store)
            bridges.append(MqttBridge(config, Control(), store))
        with subscriber(broker, "homeassistant/#", "edgewatch/#") as sub:
            for b in bridges:
                b.start()
            # Both connects done (each box's `online` is its last), then all they sent is in `sub`.
            assert online(broker, "garage-pi")
            assert online(broker, "front-pi")
            seen: dict[str, list[bytes]] = {}
            for topic, payload, _ in sub.until_marker():
                seen.setdefault(topic, []).append(payload)
        owner = {
            json.loads(p)["unique_id"]: t for t, ps in seen.items() if t.startswith("homeassistant/") for p in ps if p
        }
        topics = [t for t in seen if t.startswith("homeassistant/")]
        assert len(owner) == len(topics)  # one unique id per discovery topic, none shared
        assert {i.split("_")[0] for i in owner} == {"front-pi", "garage-pi"}
        assert {t for t in seen if t.startswith("edgewatch/garage-pi/")}.isdisjoint(
            {t for t in seen if t.startswith("edgewatch/front-pi/")}
        )
    finally:
        for b in bridges:
            b.stop()
        for s in stores:
            s.close()


@pytest.fixture(autouse=True)
def _no_leftover_threads() -> Iterator[None]:
    before = threading.active_count()
    yield
    # The bridges' threads end after stop() returns: wait for them to go, then hold the bound.
    wait_until(lambda: threading.active_count() <= before + 2, 10)
    assert threading.active_count() <= before + 2


def test_snapshots_leave_the_box_only_when_enabled(
    person_clip: ClipInfo, mosquitto_broker: Callable[..., Mosquitto], detector: TfliteDetector, tmp_path: Path
) -> None:
    broker = mosquitto_broker()
    for enabled in (False, True):
        config = mqtt_config(str(person_clip.path), broker, extra=f", snapshots: {str(enabled).lower()}")
        with (
            subscriber(broker, "edgewatch/garage-pi/drive/snapshot", "edgewatch/garage-pi/events") as sub,
            Store(tmp_path / f"s{enabled}", retain_days=7, max_mb=64) as store,
        ):
            service = Service(config, detector, store)
            service.start()
            try:
                sub.next("edgewatch/garage-pi/events", timeout=30)  # she has been seen
                jpegs = sub.drain("edgewatch/garage-pi/drive/snapshot", wait=2.0)
            finally:
                service.stop()
        if enabled:
            assert jpegs
            assert jpegs[0][:2] == b"\xff\xd8"  # a JPEG
        else:
            assert jpegs == []


def test_a_burst_of_alerts_is_delivered_once_each(mosquitto_broker: Callable[..., Mosquitto], tmp_path: Path) -> None:
    broker = mosquitto_broker()
    config = mqtt_config("/nonexistent.mp4", broker)
    with running_bridge(config, tmp_path) as (bridge, store):
        assert wait_until(lambda: bridge.client.connected, 10)
        with subscriber(broker, "edgewatch/garage-pi/alerts") as sub:
            burst = [alert(n) for n in range(60)]
            for a in burst:  # as a 20-rule frame does: store, then hand over, back to back
                store.add_alert(a)
                bridge.on_alert(a)
            ids = [json.loads(p)["id"] for p in sub.drain("edgewatch/garage-pi/alerts", wait=4.0)]
        assert ids == [a.id for a in burst]  # each once, in order, no duplicates
        assert bridge.outbox.depth() == 0


def test_an_alert_the_store_refused_still_goes_out(mosquitto_broker: Callable[..., Mosquitto], tmp_path: Path) -> None:
    broker = mosquitto_broker()
    config = mqtt_config("/nonexistent.mp4", broker)
    with running_bridge(config, tmp_path) as (bridge, _store):
        assert wait_until(lambda: bridge.client.connected, 10)
        with subscriber(broker, "edgewatch/garage-pi/alerts") as sub:
            lost = alert(99)
            bridge.on_alert(lost, False)  # e.g. the disk was full: not in the store
            assert json.loads(sub.next("edgewatch/garage-pi/alerts")[0])["id"] == lost.id
        assert wait_until(lambda: bridge.outbox.depth() == 0, 5)


def test_every_class_in_use_has_a_count_sensor_and_a_retained_zero_at_connect(
    mosquitto_broker: Callable[..., Mosquitto], tmp_path: Path
) -> None:
    broker = mosquitto_broker()
    objects = "objects: {track: [person, sports ball, hair drier]}\nrules: [{name: cars, objects: [car]}]\n"
    config = mqtt_config("/nonexistent.mp4", broker, objects, extra=", frigate_compat: true")
    with running_bridge(config, tmp_path) as (bridge, _store):
        assert wait_until(lambda: bridge.client.connected, 10)
        assert online(broker)  # the connect's zeros and sensors are on the broker: a later hub gets them retained
        with subscriber(broker, "edgewatch/garage-pi/drive/+", "frigate/#", "homeassistant/sensor/#") as sub:
            seen: dict[str, tuple[bytes, bool]] = {}
            for topic, payload, retained in sub.until_marker():  # every retained one, then the marker
                seen[topic] = (payload, retained)
    slugs = ("person", "sports_ball", "hair_drier", "car")  # the tracked classes and the rule's
    for slug in slugs:
        assert seen[f"edgewatch/garage-pi/drive/{slug}"] == (b"0", True), slug
        assert seen[f"frigate/drive/{slug}"] == (b"0", True), slug
    counts = {t: json.loads(p) for t, (p, _) in seen.items() if t.startswith("homeassistant/") and "/count_" in t}
    assert {c["state_topic"] for c in counts.values()} == {f"edgewatch/garage-pi/drive/{s}" for s in slugs}
    assert {c["name"] for c in counts.values()} == {f"Drive {label} count" for label in
                                                    ("person", "sports ball", "hair drier", "car")}  # fmt: skip
