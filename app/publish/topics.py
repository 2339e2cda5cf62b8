"""The SPEC's MQTT topics for one box, and the pure parsing of the commands it accepts.

Everything here is a function of the configured `topic_prefix` and `node_id`; no I/O.
`P` below is `<topic_prefix>/<node_id>` (SPEC: `edgewatch/<node_id>`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from app.config import Config, Mode
from app.config.types import NAME_PATTERN

DEFAULT_TOPIC_PREFIX = "edgewatch"
MAX_COMMAND_BYTES = 64

_NAME = re.compile(NAME_PATTERN)
_NOT_SLUG = re.compile(r"[^A-Za-z0-9-]+")


def label_slug(label: str) -> str:
    """A label as a topic level and id part: `traffic light` → `traffic_light`.

    Every run of characters outside `[A-Za-z0-9-]` (spaces, MQTT wildcards `+ #`, `/`, and `_`
    itself) becomes one `_`, and `_` is stripped from both ends. So a slug never contains `__`
    and never starts or ends with `_` — which `discovery` relies on to keep object ids unique.
    A label with nothing usable left (a label map's `???`) becomes its UTF-8 bytes in hex.
    """
    slug = _NOT_SLUG.sub("_", label).strip("_")
    return slug or label.encode("utf-8").hex() or "unknown"


@dataclass(frozen=True, slots=True)
class Command:
    """A command topic we recognised; `camera` is set for `enabled` only."""

    kind: Literal["mode", "enabled"]
    camera: str | None = None


@dataclass(frozen=True, slots=True)
class Topics:
    """All topics of one box. Build with `Topics(prefix, node_id)` or `Topics.from_config(config)`."""

    topic_prefix: str
    node_id: str

    @classmethod
    def from_config(cls, config: Config) -> Topics:
        prefix = config.mqtt.topic_prefix if config.mqtt is not None else DEFAULT_TOPIC_PREFIX
        return cls(prefix, config.node_id)

    @property
    def prefix(self) -> str:
        return f"{self.topic_prefix}/{self.node_id}"

    # -- box-wide ---------------------------------------------------------------------------
    @property
    def available(self) -> str:
        """`online` / `offline` (the last will), retained."""
        return f"{self.prefix}/available"

    @property
    def alerts(self) -> str:
        return f"{self.prefix}/alerts"

    @property
    def events(self) -> str:
        return f"{self.prefix}/events"

    @property
    def mode(self) -> str:
        return f"{self.prefix}/mode"

    @property
    def mode_set(self) -> str:
        return f"{self.prefix}/mode/set"

    @property
    def stats(self) -> str:
        return f"{self.prefix}/stats"

    @property
    def detector(self) -> str:
        """Retained JSON: backend, device, model, degraded (bool), note — switches are announced here."""
        return f"{self.prefix}/detector"

    def rule_state(self, rule: str) -> str:
        """`ON` while the rule fires, `OFF` otherwise, retained (the HA binary_sensor's state)."""
        return f"{self.prefix}/rules/{rule}/state"

    def rule_event(self, rule: str) -> str:
        """One JSON message per alert of the rule, `event_type` = its label (HA's event entity), not retained."""
        return f"{self.prefix}/rules/{rule}/event"

    # -- per camera -------------------------------------------------------------------------
    def camera_status(self, camera: str) -> str:
        return f"{self.prefix}/{camera}/status"

    def motion(self, camera: str) -> str:
        return f"{self.prefix}/{camera}/motion"

    def count(self, camera: str, label: str) -> str:
        return f"{self.prefix}/{camera}/{label_slug(label)}"

    def enabled(self, camera: str) -> str:
        return f"{self.prefix}/{camera}/enabled"

    def enabled_set(self, camera: str) -> str:
        return f"{self.prefix}/{camera}/enabled/set"

    def snapshot(self, camera: str) -> str:
        return f"{self.prefix}/{camera}/snapshot"

    # -- commands ---------------------------------------------------------------------------
    @property
    def command_filters(self) -> tuple[str, str]:
        """Subscription filters covering every command topic `parse_command` accepts."""
        return (self.mode_set, f"{self.prefix}/+/enabled/set")

    def parse_command(self, topic: str) -> Command | None:
        """`P/mode/set` → mode; `P/<camera>/enabled/set` → enabled for that camera; else None.

        The camera is only checked to be a well-formed camera name; whether this box has
        such a camera is the caller's business.
        """
        head = f"{self.prefix}/"
        if not topic.startswith(head):
            return None
        parts = topic[len(head) :].split("/")
        if parts == ["mode", "set"]:
            return Command("mode")
        if len(parts) == 3 and parts[1:] == ["enabled", "set"] and _NAME.fullmatch(parts[0]):
            return Command("enabled", parts[0])
        return None


def _command_text(payload: bytes) -> str | None:
    if len(payload) > MAX_COMMAND_BYTES:
        return None
    try:
        text = payload.decode("ascii")
    except UnicodeDecodeError:
        return None
    return text.strip().lower()


def parse_mode(payload: bytes) -> Mode | None:
    """`home` / `away` / `night` / `disarmed` (any case, surrounding whitespace ok); else None."""
    text = _command_text(payload)
    if text is None:
        return None
    try:
        return Mode(text)
    except ValueError:
        return None


def parse_switch(payload: bytes) -> bool | None:
    """`ON` → True, `OFF` → False (any case, surrounding whitespace ok); else None."""
    text = _command_text(payload)
    return {"on": True, "off": False}.get(text) if text is not None else None
