"""What the running service reports about itself: value types read by the API, MQTT and metrics."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CameraStatus:
    name: str
    online: bool
    fps_in: float
    fps_detect: float
    dropped: int  # detect ticks missed because a stage was busy (frames never worked on)
    last_frame_age_s: float | None
    reconnects: int
    stalls: int
    error: str | None
    # confirmed live tracks per label on the latest analysed frame, most first (none while
    # the camera is offline or disabled)
    objects: tuple[tuple[str, int], ...] = ()
    title: str = ""  # what people read (config `name:`, else the id made readable); "" = the id
    recording: bool = False  # record.enabled for this camera
    recording_active: bool = False  # packets are going to disk now
    recording_error: str | None = None  # why recording fails or is paused (disk full), until it works again


@dataclass(frozen=True, slots=True)
class DetectorStatus:
    backend: str
    device: str | None
    model: str
    runtime: str
    inference_ms: float
    degraded: str | None  # why the detector is not the one asked for, if so
    errors: int


@dataclass(frozen=True, slots=True)
class MqttInfo:
    connected: bool
    outbox: int  # alerts waiting for the broker's acknowledgement
    error: str | None


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    node: str
    uptime_s: float
    mode: str
    cameras: tuple[CameraStatus, ...]
    detector: DetectorStatus
    mqtt: MqttInfo | None  # None: no broker configured
    objects_tracked: tuple[str, ...] = ()  # every class in use (objects.track and the rules' objects), sorted


@dataclass(frozen=True, slots=True)
class Health:
    ok: bool
    problems: tuple[str, ...]  # what is wedged, for the log and `edgewatch doctor`
