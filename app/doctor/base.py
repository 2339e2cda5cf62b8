"""What every doctor check returns, and the limits the checks share."""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass, field
from typing import Literal

from app.detect.base import Backend

Status = Literal["ok", "warn", "fail", "skip"]

EXIT_OK, EXIT_PROBLEMS, EXIT_BAD_CONFIG = 0, 1, 2
CAMERA_DEADLINE_S = 12.0  # all cameras together: TCP 3 s + FFmpeg open 5 s + first read 3 s, in parallel
TCP_TIMEOUT_S = 3.0
MQTT_TIMEOUT_S = 5.0
MIN_YEAR = 2025  # older than this build: a Pi without an RTC boots at 1970 (or fake-hwclock's last save)
_MARKS = {"ok": "[ OK ]", "warn": "[WARN]", "fail": "[FAIL]", "skip": "[SKIP]"}
_DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "http": 80, "https": 443}
_MIB = 1 << 20
# The model variants each detector.type may load (openvino loads the CPU variant).
_BACKENDS: dict[str, tuple[Backend, ...]] = {
    "cpu": ("cpu",), "edgetpu": ("edgetpu",), "auto": ("cpu", "edgetpu"), "openvino": ("cpu",),
}  # fmt: skip


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    summary: str
    details: dict[str, object] = field(default_factory=dict)


def current_user() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return f"uid {os.geteuid()}"
