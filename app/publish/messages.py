"""What crosses the MQTT boundary: our own value types, never paho's. They validate themselves."""

from __future__ import annotations

from dataclasses import dataclass

MAX_TOPIC_BYTES = 65535


def check_topic(topic: str, *, wildcards: bool) -> None:
    """Raise ValueError unless `topic` is a valid MQTT topic name (or filter, with `wildcards`)."""
    kind = "topic filter" if wildcards else "topic"
    if not topic:
        raise ValueError(f"empty MQTT {kind}")
    if "\0" in topic or len(topic.encode()) > MAX_TOPIC_BYTES:
        raise ValueError(f"invalid MQTT {kind} {topic!r}")
    if not wildcards:
        if "+" in topic or "#" in topic:
            raise ValueError(f"MQTT topic {topic!r} has a wildcard (+ or #); only subscriptions may")
        return
    levels = topic.split("/")
    for i, level in enumerate(levels):
        if ("+" in level and level != "+") or ("#" in level and (level != "#" or i != len(levels) - 1)):
            raise ValueError(f"MQTT topic filter {topic!r}: + and # must fill a level, # only the last")


@dataclass(frozen=True, slots=True)
class Message:
    """One outgoing message (also the last will). Validates itself: a bad topic is a bug, found early."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False

    def __post_init__(self) -> None:
        check_topic(self.topic, wildcards=False)
        if self.qos not in (0, 1, 2):
            raise ValueError(f"MQTT QoS must be 0, 1 or 2, not {self.qos}")
        if not isinstance(self.payload, bytes):
            raise TypeError(f"MQTT payload must be bytes, not {type(self.payload).__name__}")


@dataclass(frozen=True, slots=True)
class Received:
    """One incoming message. `retained`: the broker kept it from before we subscribed (not live)."""

    topic: str
    payload: bytes
    retained: bool


@dataclass(frozen=True, slots=True)
class MqttStatus:
    connected: bool
    error: str | None  # last connect/auth error, human-readable, no secrets; None once connected
    reconnects: int  # times the connection came back after being lost (the first connect is not one)
