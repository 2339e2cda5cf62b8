"""A home-automation hub on MQTT: `#` at QoS 1 with a persistent session, like a real one should be."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from soaklib.scene import PREFIX


@dataclass
class Received:
    t: float
    topic: str
    retained: bool
    text: str | None  # alerts, detector, availability and camera status; None for the rest


class Hub:
    """A home-automation hub: `#` at QoS 1 with a persistent session, like a real one should be."""

    def __init__(self, port: int) -> None:
        self.messages: list[Received] = []
        self.connects: list[tuple[float, bool]] = []  # (when, session present)
        self.images: list[tuple[float, str, int]] = []  # anything that looks like a picture
        self._subscribed = threading.Event()
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id="soak-hub", clean_session=False, protocol=paho.MQTTv311
        )
        self.client.reconnect_delay_set(min_delay=1, max_delay=2)  # the hub should be back before the appliance
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *_a: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            self.close()
            raise RuntimeError("the hub could not subscribe")

    def _on_connect(self, client: paho.Client, _u: Any, flags: Any, _reason: Any, _p: Any) -> None:
        self.connects.append((time.time(), bool(getattr(flags, "session_present", False))))
        client.subscribe("#", qos=1)  # harmless when the session kept it; needed on the first connect

    def _on_message(self, _c: paho.Client, _u: Any, msg: paho.MQTTMessage) -> None:
        t = time.time()
        payload = bytes(msg.payload)
        topic = msg.topic
        if payload[:3] == b"\xff\xd8\xff" or payload[:8] == b"\x89PNG\r\n\x1a\n" or topic.endswith("/snapshot"):
            self.images.append((t, topic, len(payload)))
        keep = topic in (f"{PREFIX}/alerts", f"{PREFIX}/detector", f"{PREFIX}/available") or topic.endswith("/status")
        text = payload.decode(errors="replace") if keep else None
        self.messages.append(Received(t, topic, bool(msg.retain), text))

    def alerts(self) -> list[tuple[float, dict[str, Any]]]:
        return [(m.t, json.loads(m.text)) for m in list(self.messages) if m.topic == f"{PREFIX}/alerts" and m.text]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.disconnect()  # the session stays on the broker: a hub coming back gets what it missed
        self.client.loop_stop()
