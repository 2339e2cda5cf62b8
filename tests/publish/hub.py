"""The hub's side of the broker for the bridge tests: a plain paho subscriber (as Home Assistant or
Node-RED would be), configs, the service side as the bridge sees it, and a running bridge."""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from app.analysis.camera import Outcome
from app.analysis.pipeline import FrameResult
from app.config import Config, Mode, parse_config
from app.domain import Alert, Box, Frame, Track
from app.publish.bridge import MqttBridge
from app.store import Store
from tests.support.mosquitto import Mosquitto
from tests.support.waiting import wait_until


class Subscriber:
    """A plain paho client, as Home Assistant or Node-RED would be."""

    def __init__(self, broker: Mosquitto, *topics: str) -> None:
        self.messages: queue.Queue[tuple[str, bytes, bool]] = queue.Queue()
        self._client = paho.Client(CallbackAPIVersion.VERSION2)
        self._client.on_message = lambda _c, _u, m: self.messages.put((m.topic, bytes(m.payload), bool(m.retain)))
        subscribed = threading.Event()
        self._client.on_subscribe = lambda *_a: subscribed.set()
        self._client.connect(broker.host, int(broker.port or 0))
        self._client.loop_start()
        # Its own marker topic (outside edgewatch/#): see `until_marker`.
        self.marker = f"edgewatch-test/marker/{uuid.uuid4().hex}"
        if topics:  # none: a client that only publishes
            self._client.subscribe([(t, 1) for t in (*topics, self.marker)])
            assert subscribed.wait(5)

    def next(self, topic: str, timeout: float = 15.0) -> tuple[bytes, bool]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                got, payload, retained = self.messages.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if paho.topic_matches_sub(topic, got):
                return payload, retained
        raise AssertionError(f"nothing on {topic} within {timeout} s")

    def collect(self, until: str | None, timeout: float) -> list[tuple[str, bytes]]:
        """Every message (topic, payload) in arrival order, up to the first on `until` (or for `timeout`)."""
        out: list[tuple[str, bytes]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                got, payload, _ = self.messages.get(timeout=0.05)
            except queue.Empty:
                continue
            out.append((got, payload))
            if got == until:
                return out
        assert until is None, f"nothing on {until} within {timeout} s"
        return out

    def drain(self, topic: str, wait: float = 0.5) -> list[bytes]:
        out = []
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                got, payload, _ = self.messages.get(timeout=0.05)
            except queue.Empty:
                continue
            if paho.topic_matches_sub(topic, got):
                out.append(payload)
        return out

    def until_marker(self, timeout: float = 15.0) -> list[tuple[str, bytes, bool]]:
        """Every message (topic, payload, retained) the broker had handled for this subscriber when
        called, in arrival order. The broker queues what it forwards per subscriber, QoS 1 in order
        (QoS 0 is never held back): a QoS 1 marker published now is queued behind all of it."""
        self.publish(self.marker, b"end")
        out: list[tuple[str, bytes, bool]] = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"the marker on {self.marker} never came back"
            try:
                got = self.messages.get(timeout=left)
            except queue.Empty:
                continue
            if got[0] == self.marker:
                return out
            out.append(got)

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        self._client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


@contextmanager
def subscriber(broker: Mosquitto, *topics: str) -> Iterator[Subscriber]:
    sub = Subscriber(broker, *topics)
    try:
        yield sub
    finally:
        sub.close()


def retained(broker: Mosquitto, topic: str) -> dict[str, bytes]:
    """What a hub connecting now is handed as retained under `topic` (a filter). The broker queues
    a subscription's retained messages as it handles the SUBSCRIBE, so the marker that
    `until_marker` publishes after the SUBACK comes behind every one of them."""
    with subscriber(broker, topic) as fresh:
        return {got: payload for got, payload, was_retained in fresh.until_marker() if was_retained}


def online(broker: Mosquitto, node: str = "garage-pi", timeout: float = 15.0) -> bool:
    """True once the broker holds the box's retained `online`: a connect's last message, published
    after its states and discovery on the same connection, so the broker holds those too."""
    topic = f"edgewatch/{node}/available"
    return wait_until(lambda: retained(broker, topic) == {topic: b"online"}, timeout)


def mqtt_config(source: str, broker: Mosquitto, rules: str = "", extra: str = "") -> Config:
    return parse_config(
        f"node_id: garage-pi\ncameras:\n  drive:\n    source: {source}\ndetector: {{type: cpu}}\n"
        f"mqtt: {{host: 127.0.0.1, port: {broker.port}{extra}}}\n{rules}"
    )


def discovered(messages: list[tuple[str, bytes]]) -> dict[str, dict[str, Any]]:
    """Discovery configs by object id (the last one of each), as HA would read them."""
    out = {}
    for topic, payload in messages:
        parts = topic.split("/")
        if parts[0] == "homeassistant" and parts[-1] == "config" and payload:
            out[parts[3]] = {"component": parts[1], **json.loads(payload)}
    return out


class Control:
    """The service side as the bridge sees it, for tests that drive the bridge alone."""

    def __init__(self, cameras: tuple[str, ...] = ("drive",), labels: frozenset[str] = frozenset()) -> None:
        self.mode = Mode.AWAY
        self.enabled = dict.fromkeys(cameras, True)
        self.online: dict[str, bool] = dict.fromkeys(cameras, True)
        self.labels = labels

    def set_mode(self, mode: Mode) -> None:
        self.mode = mode

    def camera_enabled(self, camera: str) -> bool:
        return self.enabled[camera]

    def set_camera_enabled(self, camera: str, enabled: bool) -> None:
        self.enabled[camera] = enabled

    def stats(self) -> dict[str, object]:
        return {}

    def cameras_online(self) -> dict[str, bool]:
        return dict(self.online)

    def detector_state(self) -> dict[str, object]:
        return {"backend": "cpu", "device": None, "model": "person", "degraded": False, "note": None}

    def detector_labels(self) -> frozenset[str]:
        return self.labels


class Clock:
    """A wall clock that moves only when told (`advance`): for the outbox's TTL, `late` and `sent_at`."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@contextmanager
def running_bridge(
    config: Config, tmp_path: Path, control: Control | None = None, *, clock: Callable[[], float] = time.time
) -> Iterator[tuple[MqttBridge, Store]]:
    with Store(tmp_path / "s", retain_days=7, max_mb=64) as store:
        bridge = MqttBridge(config, control or Control(), store, clock=clock)
        bridge.start()
        try:
            yield bridge, store
        finally:
            bridge.stop()


def alert(n: int, *, rule: str = "porch", camera: str = "drive", age: float = 0.0, at: float | None = None) -> Alert:
    """An alert for event `evt-<n>`, fired `age` s before `at` (default: now), 2 s after the object was first seen."""
    fired = (time.time() if at is None else at) - age
    return Alert(f"evt-{n}:{rule}", rule, camera, "person", 0.9, (0.1, 0.2, 0.3, 0.9), ("porch",), f"evt-{n}",
                 fired - 2, fired, "alert")  # fmt: skip


def outcome(camera: str, labels: tuple[str, ...], *, motion: bool = True, stationary: bool = False) -> Outcome:
    """One analysed frame with these confirmed objects in view (and motion or not; moving or standing)."""
    mono = time.monotonic()
    frame = Frame(camera, 1, np.zeros((8, 8, 3), dtype=np.uint8), time.time(), mono)
    box = Box(1, 1, 4, 4)
    tracks = tuple(
        Track(f"{camera}-{i}", label, 0.9, 0.9, box, mono - 1, mono, 5, confirmed=True, stationary=stationary)
        for i, label in enumerate(labels)
    )
    result = FrameResult(frame, (box,) if motion else (), (), (), tracks, (), True)
    return Outcome(result, (), ())
