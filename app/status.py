"""What the running service reports about itself: value types read by the API, MQTT and metrics.

`ServiceStatus` is the one status model: app.run.status_board builds it, and `/api/status`
(app.api.routes), `P/stats` and `P/detector` (app.payloads) and `/metrics` (app.run.metrics) read it."""

from __future__ import annotations

from dataclasses import dataclass

BEHIND = 0.9  # fps_detect under this share of detect_fps: the camera does not get the rate it asks for


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
    detect_fps_target: float = 0.0  # the camera's detect_fps: fps_detect below it means detection is behind
    lag_s: float | None = None  # median age of a frame when its result was out, last 5 s (None: none lately)
    enabled: bool = True  # switched over MQTT/API: a disabled camera keeps capturing, detects nothing

    @property
    def behind(self) -> bool:
        """Detection falls short of the rate it could run at: the camera's detect_fps, or the
        frames it delivers if fewer (then the detector cannot keep up, not the camera)."""
        wanted = min(self.detect_fps_target, self.fps_in)
        return self.online and wanted > 0 and self.fps_detect < BEHIND * wanted


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
class StorageInfo:
    used_mb: float  # the database, snapshots and footage together
    free_mb: float  # free on the store's file system


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    node: str
    uptime_s: float
    mode: str
    cameras: tuple[CameraStatus, ...]
    detector: DetectorStatus
    mqtt: MqttInfo | None  # None: no broker configured
    objects_tracked: tuple[str, ...] = ()  # every class in use (objects.track and the rules' objects), sorted
    storage: StorageInfo | None = None  # None: not read yet, or the store's disk cannot be read


@dataclass(frozen=True, slots=True)
class Health:
    ok: bool
    problems: tuple[str, ...]  # what is wedged, for the log and `edgewatch doctor`
