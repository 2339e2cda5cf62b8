"""The fault schedule, and each fault's bounds: how soon the appliance must show it and how soon it
must recover, derived from the product's own timings (`timings.product()`) plus the soak's slack."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from soaklib.scene import DETECT_FPS, STATUS_EVERY_S
from soaklib.timings import product

# The soak's own allowances (not the product's).
APP_START_BOUND_S = 30.0  # process start to API answering: ~6 s measured here; room for a loaded CI box
POLL_SLACK_S = STATUS_EVERY_S + 1.0  # a state change is seen at the next status sample, plus request time
SELFTEST_S = 1.0  # the replugged TPU's self-test: one CPU inference, < 1 s


@dataclass
class Fault:
    kind: str  # camera_kill | camera_freeze | broker_stop | detector_hang | disk_full | appliance_kill
    at: float  # seconds after the soak's start
    hold: float  # seconds until it is undone (appliance_kill: restarted at once)
    target: str | None = None  # the camera, for camera faults
    started: float | None = None  # wall clock
    restored: float | None = None
    skipped: str | None = None  # why it did not happen
    detected_s: float | None = None  # fault → the appliance shows it (offline, degraded, ...)
    recovered_s: float | None = None  # undone → healthy again (appliance_kill: killed → API answering)
    full_s: float | None = None  # appliance_kill: killed → cameras, broker and detector all up again
    bound_s: float | None = None
    window_end: float | None = None  # wall clock: end of the window excluded from "steady" figures
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.kind}({self.target})" if self.target else self.kind


# (kind, at, hold, target). The short one is laid out for 90 s, the long one for 600 s; other
# durations scale the start times (not the holds).
SHORT = (
    # Early, so that the run which lives through every other fault is the one checked for growth.
    ("appliance_kill", 8, 0, None),
    # Then two storms of faults that touch different parts (each is measured on its own signal).
    ("camera_kill", 26, 5, "cam0"),
    ("broker_stop", 26, 6, None),
    ("detector_hang", 42, 7, None),
    ("camera_freeze", 42, 6, "cam2"),
    ("disk_full", 42, 8, None),
)
LONG = (
    # Early again: the run after it lives through two rounds of every other fault, so that growth per
    # fault (a second TPU replug, a second reconnect) shows in one process.
    ("appliance_kill", 40, 0, None),
    ("camera_kill", 90, 10, "cam0"),
    ("camera_freeze", 135, 15, "cam1"),
    ("broker_stop", 180, 20, None),
    ("detector_hang", 230, 20, None),
    ("disk_full", 280, 40, None),
    ("camera_kill", 360, 10, "cam2"),
    ("camera_freeze", 400, 15, "cam3"),
    ("broker_stop", 440, 30, None),
    ("detector_hang", 500, 20, None),
)


def schedule(duration: float) -> list[Fault]:
    table, nominal = (SHORT, 90.0) if duration < 240 else (LONG, 600.0)
    scale = duration / nominal
    return [Fault(kind, at * scale, float(hold), target) for kind, at, hold, target in table]


def recovery_bound(fault: Fault, clip_seconds: float) -> float:
    """How long recovery may take, from the product's own timeouts and backoffs (+ the status poll)."""
    timings = product()
    if fault.kind in ("camera_kill", "camera_freeze"):
        # Reconnect waits double from the first (0.5 s), so the wait under way when the camera returns is at
        # most the outage so far + the first wait (capped at the longest, 10 s), ± the jitter (20 %); a frozen
        # server can hold one open attempt for the open timeout; then the first frame.
        backoff = timings.camera_backoff
        wait = (1 + backoff.jitter) * min(backoff.limit, fault.hold + backoff.first)
        return wait + timings.camera_open_timeout_s + POLL_SLACK_S
    if fault.kind == "broker_stop":
        # The waits double from 1 s: the one under way when the broker returns is at most the outage + 1 s.
        first, longest = timings.mqtt_backoff
        return min(longest, fault.hold + first) + POLL_SLACK_S
    if fault.kind == "detector_hang":
        # Replugged: the prober looks every probe period (5 s), then the self-test.
        return timings.tpu_probe_s + SELFTEST_S + POLL_SLACK_S
    if fault.kind == "disk_full":
        # Space is back: the next person visit stores its alert. A visit per clip loop; allow one
        # missed visit, then min_dwell 1 s and 3 detect frames to confirm.
        return 2 * clip_seconds + 1.0 + 3 / DETECT_FPS + POLL_SLACK_S
    if fault.kind == "appliance_kill":
        return APP_START_BOUND_S
    raise ValueError(fault.kind)


def detection_bound(fault: Fault) -> float | None:
    """How soon the appliance must show the fault (None: not bounded here)."""
    if fault.kind == "detector_hang":
        # abandoned after the hang timeout (3 s), at the next detect call
        return product().tpu_hang_s + 1.0 / DETECT_FPS + POLL_SLACK_S
    if fault.kind == "camera_kill":
        return POLL_SLACK_S + 1.0  # the stream ends at once: offline on the next read
    if fault.kind == "broker_stop":
        return POLL_SLACK_S + 1.0  # the broker closes the connection as it stops
    return None
