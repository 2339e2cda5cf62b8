"""Everything edgewatch says over MQTT, and the commands it takes from there.

States are retained (a hub that restarts with a clean session sees them at once) and kept by
`StateBook`; alerts go through the durable outbox. On every connect the box first publishes
every state as it is now (the last run's retained "person 2, rule ON" is gone), then discovery,
and only then `online`: a hub never shows a stale state as current.

Commands (`P/mode/set`, `P/<camera>/enabled/set`) count only when live. A retained one would be
replayed at every (re)connect and override whatever was set since (a retained `disarmed`
disarming the box at each reconnect), so it is ignored and cleared from the broker. Invalid
commands are ignored with a warning at most once a minute. Home Assistant's `online` asks for
discovery again; a burst of them is answered once, after `REDISCOVER_DELAY_S`, and discovery
goes out at most once per `REDISCOVER_SPACING_S`.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import quote

from app import __version__
from app.analysis.camera import Outcome
from app.analysis.pipeline import object_counts
from app.config import Config, Mode
from app.domain import Alert
from app.objects import ObjectFilter
from app.payloads import event_payload
from app.publish.discovery import HA_ONLINE, HA_STATUS_TOPIC, discovery_messages, discovery_topics, removal_messages
from app.publish.frigate import frigate_event_message
from app.publish.identity import client_id, dashboard_url
from app.publish.mqtt import Message, MqttClient, Received
from app.publish.outbox import Outbox
from app.publish.pacing import Debounce, Throttle
from app.publish.states import StateBook, Update
from app.publish.topics import Topics, parse_mode, parse_switch
from app.store import Store

log = logging.getLogger(__name__)

STATS_EVERY_S = 60.0
DISCOVERY_STATE_KEY = "mqtt.discovery_topics"
REDISCOVER_DELAY_S = 1.0  # HA's `online`: republish this long after the first of a burst ...
REDISCOVER_SPACING_S = 10.0  # ... and never sooner than this after the last discovery
WARN_EVERY_S = 60.0  # one warning per minute about ignored commands, with a count of the rest
EVENT_FRESH_S = 60.0  # an alert older than this fires no HA event: it is history, not news


class Control(Protocol):
    """What the bridge may ask of the service."""

    @property
    def mode(self) -> Mode: ...

    def set_mode(self, mode: Mode) -> None: ...

    def camera_enabled(self, camera: str) -> bool: ...

    def set_camera_enabled(self, camera: str, enabled: bool) -> None: ...

    def stats(self) -> dict[str, object]: ...

    def cameras_online(self) -> dict[str, bool]:
        """Cameras whose connectivity is known (a camera still opening its first stream is left out)."""
        ...

    def detector_state(self) -> dict[str, object]: ...

    def detector_labels(self) -> frozenset[str]:
        """Every class the running model can report; empty when not known."""
        ...


class MqttBridge:
    def __init__(
        self, config: Config, control: Control, store: Store, *, clock: Callable[[], float] = time.time
    ) -> None:
        """`clock`: wall time, for the outbox's TTL and `late` and an alert's freshness (tests fake it)."""
        assert config.mqtt is not None
        self._config = config
        self._clock = clock
        self._mqtt = config.mqtt
        self._control = control
        self._store = store
        self.topics = Topics(self._mqtt.topic_prefix, config.node_id)
        t = self.topics
        self.client = MqttClient(
            self._mqtt,
            client_id=client_id(store, config.node_id),
            will=Message(t.available, b"offline", qos=1, retain=True),
            on_connect=self._on_connect,
            on_message=self._on_message,
            subscriptions=[*t.command_filters, HA_STATUS_TOPIC],
        )
        self.outbox = Outbox(
            store,
            self.client,
            t.alerts,
            clock=clock,
            snapshot_url=self._snapshot_url,
            clip_url=lambda alert: self.clip_url(alert.camera, alert.event_id),
            companions=self._alert_companions,
        )
        self._tracked = ObjectFilter.from_config(config).tracked
        self._book = StateBook(
            t, config.cameras, [r.name for r in config.rules], self._counted(), frigate=self._mqtt.frigate_compat
        )
        for camera in config.cameras:
            self._book.set_enabled(camera, control.camera_enabled(camera))
        self._rediscover = Debounce(REDISCOVER_DELAY_S, REDISCOVER_SPACING_S)
        self._warn = Throttle(WARN_EVERY_S)
        self._discovery_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mqtt-states", daemon=True)

    # -- lifecycle -----------------------------------------------------------
    def start(self) -> None:
        self.client.start()
        self.outbox.start()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5.0)
        if self.client.connected:
            self._send(self.topics.available, "offline", retain=True)
        self.client.stop()  # runs the acks that came in: the outbox marks them before it ends
        self.outbox.stop()

    def dashboard_url(self) -> str | None:
        """The dashboard as a browser on the hub's LAN opens it (app.publish.identity)."""
        return dashboard_url(self._config.api, self.client.local_address(), socket.gethostname())

    # -- inputs from the service ---------------------------------------------
    def on_alert(self, alert: Alert, stored: bool = True) -> None:
        """An AlertSink: queue the alert (normally already in the store), mark its rule firing."""
        self.outbox.submit(alert, stored)
        self._publish(self._book.alert(alert.rule, alert.camera, alert.event_id))

    def on_detector(self, state: dict[str, object]) -> None:
        """The detector switched (Edge TPU lost or back): retained, so a hub sees it on connect too."""
        self._send(self.topics.detector, json.dumps(state), qos=1, retain=True)
        added = self._book.count_labels(self._counted())  # a model that reports more classes
        if added:
            self._publish(added)
            if self._mqtt.ha_discovery:
                self._publish_discovery()

    def on_outcome(self, outcome: Outcome) -> None:
        """A runner listener: events, object counts and motion for one camera's frame."""
        camera = outcome.result.frame.camera
        for change in outcome.changes:
            event = {**event_payload(change.event), "clip_url": self.clip_url(camera, change.event.id)}
            self._send(self.topics.events, json.dumps({"type": change.type, "event": event}), qos=1)
            if self._mqtt.frigate_compat:
                topic, payload = frigate_event_message(change.type, None, change.event)
                self._send(topic, payload, qos=1)
            if change.type == "end":
                self._publish(self._book.event_ended(change.event.id))
            if change.best_frame is not None and self._mqtt.snapshots:
                self._send_snapshot(camera, change.event.id)
        updates, new_label = self._book.outcome(
            camera, dict(object_counts(outcome.result)), bool(outcome.result.motion)
        )
        self._publish(updates)
        if new_label and self._mqtt.ha_discovery:
            self._publish_discovery()  # a class seen for the first time gets its count sensor

    # -- MQTT side: the client's event thread (never paho's), so the store and the service may be slow
    def _on_connect(self) -> None:
        t = self.topics
        self._send(t.mode, self._control.mode.value, retain=True)
        for camera in self._config.cameras:
            self._send(t.enabled(camera), "ON" if self._control.camera_enabled(camera) else "OFF", retain=True)
        self._send(t.detector, json.dumps(self._control.detector_state()), qos=1, retain=True)
        self._book.cameras_online(self._control.cameras_online())
        self._publish(self._book.everything())
        if self._mqtt.ha_discovery:
            self._publish_discovery()
        self._send(t.available, "online", retain=True)  # last: every state above is current
        self.outbox.reconnected()

    def _on_message(self, message: Received) -> None:
        topic = message.topic
        if not message.payload:
            return  # how MQTT clears a retained message (ours, below, echoed back): not a command
        if topic == HA_STATUS_TOPIC:
            # A retained `online` says nothing about HA having just started: only a live one does.
            if not message.retained and message.payload.strip().lower() == HA_ONLINE.encode():
                self._rediscover.request()
            return
        command = self.topics.parse_command(topic)
        if command is None:
            return
        if message.retained:
            self._send(topic, "", retain=True)  # cleared: no one gets it replayed again
            self._warn_ignored(f"a retained command on {topic} (cleared it; commands must not be retained)")
            return
        if command.kind == "mode":
            mode = parse_mode(message.payload)
            if mode is None:
                self._warn_ignored(f"an invalid mode command on {topic}")
                return
            self._control.set_mode(mode)
            self._send(self.topics.mode, mode.value, retain=True)
            return
        switch = parse_switch(message.payload)
        if command.camera not in self._config.cameras or switch is None:
            self._warn_ignored(f"an invalid enable command on {topic}")
            return
        self._control.set_camera_enabled(command.camera, switch)
        self._publish(self._book.set_enabled(command.camera, switch))
        self._send(self.topics.enabled(command.camera), "ON" if switch else "OFF", retain=True)

    def _warn_ignored(self, what: str) -> None:
        held = self._warn.allow()
        if held is not None:
            more = f" ({held} more ignored commands since the last warning)" if held else ""
            log.warning("mqtt: ignored %s%s", what, more)

    def _counted(self) -> frozenset[str]:
        """Count sensors: the classes tracked that the running model can report (all tracked if not known)."""
        reportable = self._control.detector_labels()
        return self._tracked & reportable if reportable else self._tracked

    def _publish_discovery(self) -> None:
        with self._discovery_lock:
            self._rediscover.ran()
            messages = discovery_messages(
                self._config,
                self.topics,
                sorted(self._book.labels()),
                version=__version__,
                configuration_url=self.dashboard_url(),
            )
            current = discovery_topics(messages)
            previous = set(json.loads(self._store.get_state(DISCOVERY_STATE_KEY) or "[]"))
            for topic, payload in [*removal_messages(previous, current), *messages]:
                self._send(topic, payload, qos=1, retain=True)
            try:
                self._store.set_state(DISCOVERY_STATE_KEY, json.dumps(sorted(current)))
            except Exception:  # noqa: BLE001 - a full disk must not stop discovery
                log.warning("mqtt: could not remember the discovery topics")

    # -- alerts --------------------------------------------------------------
    def _snapshot_url(self, alert: Alert) -> str | None:
        """The event's snapshot on this box's dashboard (it needs a login or an API token)."""
        base = self.dashboard_url()
        return None if base is None else f"{base}api/events/{quote(alert.event_id, safe='')}/snapshot.jpg"

    def clip_url(self, camera: str, event_id: str) -> str | None:
        """The event's clip on this box's dashboard, when the camera records (login or API token needed)."""
        base = self.dashboard_url()
        settings = self._config.record_for(camera) if camera in self._config.cameras else None
        if base is None or settings is None or not settings.enabled:
            return None
        return f"{base}api/events/{quote(event_id, safe='')}/clip.mp4"

    def _alert_companions(self, alert: Alert, payload: dict[str, Any]) -> list[Message]:
        """HA's event entity of the rule fires with the alert (not for stale alerts from an outage)."""
        if not self._mqtt.ha_discovery or self._clock() - alert.fired_at > EVENT_FRESH_S:
            return []
        body = json.dumps({"event_type": alert.label, **payload})
        return [Message(self.topics.rule_event(alert.rule), body.encode(), qos=1, retain=False)]

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

    # -- periodic ------------------------------------------------------------
    def _run(self) -> None:
        last_stats = 0.0
        while not self._stop.wait(1.0):
            if not self.client.connected:
                continue  # the connect publishes everything anew
            self._publish(self._book.cameras_online(self._control.cameras_online()))
            if self._rediscover.take() and self._mqtt.ha_discovery:
                self._publish_discovery()
            if time.monotonic() - last_stats >= STATS_EVERY_S:
                last_stats = time.monotonic()
                stats = {**self._control.stats(), "outbox": self.outbox.depth()}
                self._send(self.topics.stats, json.dumps(stats), qos=0)

    def _publish(self, updates: list[Update]) -> None:
        for topic, payload in updates:
            self._send(topic, payload, retain=True)

    def _send(self, topic: str, payload: str, *, qos: int = 1, retain: bool = False) -> None:
        self.client.publish(Message(topic, payload.encode(), qos=qos, retain=retain))
