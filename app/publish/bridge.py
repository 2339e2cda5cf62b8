"""Everything edgewatch says over MQTT, and the commands it takes from there.

States are retained (a hub that restarts with a clean session sees them at once);
alerts go through the durable outbox; discovery is republished on every connect and
whenever Home Assistant announces itself online. Counts exist for every class in use
(app.objects: `objects.track` and the rules' objects) from the start: each connect
announces a count sensor per camera × class and publishes the current counts (0 until
something is seen), so hubs show 0 rather than unknown.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import threading
import time
from typing import Protocol
from urllib.parse import quote

from app import __version__
from app.analysis import Outcome
from app.config import Config, Mode
from app.domain import Alert
from app.objects import ObjectFilter
from app.payloads import event_payload
from app.pipeline import object_counts
from app.publish.discovery import HA_STATUS_TOPIC, discovery_messages, discovery_topics, removal_messages
from app.publish.frigate import frigate_count_message, frigate_event_message
from app.publish.mqtt import Message, MqttClient
from app.publish.outbox import Outbox
from app.publish.topics import Topics, parse_mode, parse_switch
from app.store import Store

log = logging.getLogger(__name__)

STATS_EVERY_S = 60.0
DISCOVERY_STATE_KEY = "mqtt.discovery_topics"


class Control(Protocol):
    """What the bridge may ask of the service."""

    @property
    def mode(self) -> Mode: ...

    def set_mode(self, mode: Mode) -> None: ...

    def camera_enabled(self, camera: str) -> bool: ...

    def set_camera_enabled(self, camera: str, enabled: bool) -> None: ...

    def stats(self) -> dict[str, object]: ...

    def cameras_online(self) -> dict[str, bool]: ...

    def detector_state(self) -> dict[str, object]: ...


class MqttBridge:
    def __init__(self, config: Config, control: Control, store: Store) -> None:
        assert config.mqtt is not None
        self._config = config
        self._mqtt = config.mqtt
        self._control = control
        self._store = store
        self.topics = Topics(self._mqtt.topic_prefix, config.node_id)
        t = self.topics
        self.client = MqttClient(
            self._mqtt,
            client_id=f"edgewatch-{config.node_id}",
            will=Message(t.available, b"offline", qos=1, retain=True),
            on_connect=self._on_connect,
            on_message=self._on_message,
            subscriptions=[t.mode_set, t.enabled_set("+"), HA_STATUS_TOPIC],
        )
        self.outbox = Outbox(store, self.client, t.alerts, snapshot_url=self._snapshot_url)
        self._lock = threading.Lock()
        self._labels: set[str] = set(ObjectFilter.from_config(config).tracked)  # and any other label seen
        self._counts: dict[tuple[str, str], int] = {(c, label): 0 for c in config.cameras for label in self._labels}
        self._motion: dict[str, bool] = {}
        self._online: dict[str, bool] = {}
        self._firing: dict[str, set[str]] = {}  # rule → event ids it fired for that are still open
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mqtt-states", daemon=True)

    # -- lifecycle -----------------------------------------------------------
    def _snapshot_url(self, alert: Alert) -> str | None:
        """The event's snapshot on this box's dashboard (it needs a login or an API token).

        With the API on all interfaces, the host is the address this box reaches the broker
        from: the LAN the hub is on."""
        host, port = self._config.api.listen
        if ipaddress.ip_address(host).is_unspecified:
            local = self.client.local_address()
            if local is None:
                return None
            host = local
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}/api/events/{quote(alert.event_id, safe='')}/snapshot.jpg"

    def start(self) -> None:
        self.client.start()
        self.outbox.start()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5.0)
        if self.client.connected:
            self._send(self.topics.available, "offline", retain=True)
        self.outbox.stop()
        self.client.stop()

    # -- inputs from the service ---------------------------------------------
    def on_alert(self, alert: Alert, stored: bool = True) -> None:
        """An AlertSink: queue the alert (normally already in the store), mark its rule firing."""
        self.outbox.submit(alert, stored)
        with self._lock:
            self._firing.setdefault(alert.rule, set()).add(alert.event_id)
        self._send(self.topics.rule_state(alert.rule), "ON", retain=True)

    def on_detector(self, state: dict[str, object]) -> None:
        """The detector switched (Edge TPU lost or back): retained, so a hub sees it on connect too."""
        self._send(self.topics.detector, json.dumps(state), qos=1, retain=True)

    def on_outcome(self, outcome: Outcome) -> None:
        """A runner listener: events, object counts and motion for one camera's frame."""
        camera = outcome.result.frame.camera
        for change in outcome.changes:
            self._send(
                self.topics.events, json.dumps({"type": change.type, "event": event_payload(change.event)}), qos=1
            )
            if self._mqtt.frigate_compat:
                topic, payload = frigate_event_message(change.type, None, change.event)
                self._send(topic, payload, qos=1)
            if change.type == "end":
                self._rule_event_ended(change.event.id)
            if change.best_frame is not None and self._mqtt.snapshots:
                self._send_snapshot(camera, change.event.id)
        counts = dict(object_counts(outcome.result))
        moving = bool(outcome.result.motion)
        with self._lock:
            new_labels = set(counts) - self._labels
            self._labels |= set(counts)
            labels = {label for (cam, label) in self._counts if cam == camera} | set(counts)
            changed = {
                label: counts.get(label, 0)
                for label in labels
                if self._counts.get((camera, label)) != counts.get(label, 0)
            }
            for label, n in changed.items():
                self._counts[(camera, label)] = n
            motion_changed = self._motion.get(camera) != moving
            self._motion[camera] = moving
        for label, n in changed.items():
            self._send(self.topics.count(camera, label), str(n), retain=True)
            if self._mqtt.frigate_compat:
                topic, payload = frigate_count_message(camera, label, n)
                self._send(topic, payload, retain=True)
        if motion_changed:
            self._send(self.topics.motion(camera), "ON" if moving else "OFF", retain=True)
        if new_labels and self._mqtt.ha_discovery:
            self._publish_discovery()  # a class seen for the first time gets its count sensor

    # -- MQTT side -----------------------------------------------------------
    def _on_connect(self) -> None:
        t = self.topics
        self._send(t.available, "online", retain=True)
        self._send(t.mode, self._control.mode.value, retain=True)
        for camera in self._config.cameras:
            self._send(t.enabled(camera), "ON" if self._control.camera_enabled(camera) else "OFF", retain=True)
        online = self._control.cameras_online()
        with self._lock:
            self._online = dict(online)
        for camera, up in online.items():
            self._send(t.camera_status(camera), "online" if up else "offline", retain=True)
        for rule in self._config.rules:
            self._send(t.rule_state(rule.name), "ON" if self._firing.get(rule.name) else "OFF", retain=True)
        with self._lock:
            counts = sorted(self._counts.items())
        for (camera, label), n in counts:  # 0 rather than unknown for every class in use
            self._send(t.count(camera, label), str(n), retain=True)
            if self._mqtt.frigate_compat:
                topic, payload = frigate_count_message(camera, label, n)
                self._send(topic, payload, retain=True)
        self._send(t.detector, json.dumps(self._control.detector_state()), qos=1, retain=True)
        if self._mqtt.ha_discovery:
            self._publish_discovery()
        self.outbox.reconnected()

    def _on_message(self, topic: str, payload: bytes) -> None:
        command = self.topics.parse_command(topic)
        if topic == HA_STATUS_TOPIC:
            if payload.strip().lower() == b"online" and self._mqtt.ha_discovery:
                self._publish_discovery()  # HA restarted: it forgot non-retained config
            return
        if command is None:
            return
        if command.kind == "mode":
            mode = parse_mode(payload)
            if mode is None:
                log.warning("mqtt: ignored an invalid mode command on %s", topic)
                return
            self._control.set_mode(mode)
            self._send(self.topics.mode, mode.value, retain=True)
            return
        switch = parse_switch(payload)
        if command.camera not in self._config.cameras or switch is None:
            log.warning("mqtt: ignored an invalid enable command on %s", topic)
            return
        self._control.set_camera_enabled(command.camera, switch)
        self._send(self.topics.enabled(command.camera), "ON" if switch else "OFF", retain=True)

    def _publish_discovery(self) -> None:
        with self._lock:
            labels = sorted(self._labels)
        messages = discovery_messages(self._config, self.topics, labels, version=__version__)
        current = discovery_topics(messages)
        previous = set(json.loads(self._store.get_state(DISCOVERY_STATE_KEY) or "[]"))
        for topic, payload in [*removal_messages(previous, current), *messages]:
            self._send(topic, payload, qos=1, retain=True)
        try:
            self._store.set_state(DISCOVERY_STATE_KEY, json.dumps(sorted(current)))
        except Exception:  # noqa: BLE001 - a full disk must not stop discovery
            log.warning("mqtt: could not remember the discovery topics")

    def _send_snapshot(self, camera: str, event_id: str) -> None:
        """Opt-in only: the best snapshot leaves the box. It is the JPEG the store just kept."""
        path = self._store.snapshot_path(event_id)
        if path is None:
            return
        try:
            jpeg = path.read_bytes()
        except OSError:
            return
        self.client.publish(Message(self.topics.snapshot(camera), jpeg, qos=0, retain=True))

    def _rule_event_ended(self, event_id: str) -> None:
        off = []
        with self._lock:
            for rule, events in self._firing.items():
                if event_id in events:
                    events.discard(event_id)
                    if not events:
                        off.append(rule)
        for rule in off:
            self._send(self.topics.rule_state(rule), "OFF", retain=True)

    def _run(self) -> None:
        last_stats = 0.0
        while not self._stop.wait(1.0):
            online = self._control.cameras_online()
            with self._lock:
                changed = {cam: up for cam, up in online.items() if self._online.get(cam) != up}
                self._online.update(changed)
            for camera, up in changed.items():
                self._send(self.topics.camera_status(camera), "online" if up else "offline", retain=True)
            if time.monotonic() - last_stats >= STATS_EVERY_S:
                last_stats = time.monotonic()
                stats = {**self._control.stats(), "outbox": self.outbox.depth()}
                self._send(self.topics.stats, json.dumps(stats), qos=0)

    def _send(self, topic: str, payload: str, *, qos: int = 1, retain: bool = False) -> None:
        self.client.publish(Message(topic, payload.encode(), qos=qos, retain=retain))
