"""The whole SPEC config as frozen pydantic models (unknown keys are errors).

Each part of the appliance receives only its own slice (CameraConfig,
DetectorConfig, ...). Validators here check shape and values only; they never
probe hardware, files or the network.
"""

from __future__ import annotations

import re
import socket
from enum import StrEnum
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from app.config.types import (
    NAME_PATTERN,
    NODE_ID_PATTERN,
    ClockTime,
    DashboardUrl,
    DisplayName,
    Duration,
    Listen,
    Network,
    Polygon,
    Source,
    readable,
)
from app.objects import DEFAULT_TRACK

Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Mode(StrEnum):
    HOME = "home"
    AWAY = "away"
    NIGHT = "night"
    DISARMED = "disarmed"


class Weekday(StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"


class MotionConfig(_Model):
    threshold: int = Field(25, ge=1, le=255, description="per-pixel luma change that counts as motion")
    min_area: float = Field(0.001, ge=0.0, le=1.0, description="smallest moving area, as a fraction of the frame")
    mask: tuple[Polygon, ...] = Field((), description="polygons where motion is ignored")


RecordMode = Literal["events", "continuous"]


class RecordConfig(_Model):
    enabled: bool = Field(True, description="record footage (stream-copied H.264/H.265 segments) in storage.path")
    mode: RecordMode = Field(
        "events", description="events: keep only the segments around events (± pre/post); continuous: everything"
    )
    pre_capture: Duration = Field(5.0, description="footage kept before an event starts (held in memory)")
    post_capture: Duration = Field(5.0, description="footage kept after an event's object was last seen")
    retain_days: int | None = Field(None, ge=1, le=3650, description="footage age limit; default: storage.retain_days")

    @field_validator("pre_capture", "post_capture")
    @classmethod
    def _bounded(cls, value: float) -> float:
        if not 0.0 <= value <= 60.0:
            raise ValueError("must be between 0s and 60s")
        return value


class CameraRecordConfig(_Model):
    """A camera's own `record:`: each key set here overrides the appliance's `record:`."""

    enabled: bool | None = None
    mode: RecordMode | None = None
    pre_capture: Duration | None = None
    post_capture: Duration | None = None
    retain_days: int | None = Field(None, ge=1, le=3650)

    @field_validator("pre_capture", "post_capture")
    @classmethod
    def _bounded(cls, value: float | None) -> float | None:
        if value is not None and not 0.0 <= value <= 60.0:
            raise ValueError("must be between 0s and 60s")
        return value


class CameraConfig(_Model):
    source: Source = Field(description="rtsp(s)://, http(s):// MJPEG, /dev/videoN or a video file")
    name: DisplayName | None = Field(None, description="what Home Assistant shows; default: the id made readable")
    detect_fps: float = Field(5.0, gt=0, le=30, description="frames per second sent to the detector")
    motion: MotionConfig = MotionConfig()
    zones: dict[Name, Polygon] = Field(default_factory=dict, description="named normalized polygons")
    record: CameraRecordConfig = Field(
        CameraRecordConfig(), description="this camera's recording; keys left out come from the top-level `record:`"
    )


EDGETPU_DEVICE = re.compile(r"^(usb|pci)(:\d+)?$")
OPENVINO_DEVICE = re.compile(r"^(CPU|GPU(\.\d+)?|AUTO)$")  # as OpenVINO spells them


class DetectorConfig(_Model):
    type: Literal["auto", "edgetpu", "cpu", "openvino"] = Field(
        "auto",
        description="auto = Edge TPU if one loads, else CPU (and says so); openvino = Intel's runtime on an "
        "x86_64 box (CPU or GPU), the CPU when it is not installed or its device is absent",
    )
    device: str | None = Field(
        None,
        description="Edge TPU (auto, edgetpu): usb, usb:N, pci, pci:N, default the first found; "
        "openvino: CPU, GPU, GPU.N or AUTO, default CPU",
    )
    model: str | None = Field(None, description="a name from models/manifest.toml or a .tflite path")
    labels: str | None = Field(None, description="label map for a model given by path")

    @field_validator("device")
    @classmethod
    def _device_of_its_type(cls, value: str | None, info: ValidationInfo) -> str | None:
        """The names depend on `type` (validated first); a bad `type` is reported on its own."""
        kind = info.data.get("type")
        if value is None or kind is None:
            return value
        if kind == "openvino":
            if OPENVINO_DEVICE.match(value):
                return value
            if OPENVINO_DEVICE.match(value.upper()):
                hint = f"; did you mean '{value.upper()}'?"
            elif EDGETPU_DEVICE.match(value):
                hint = " (that names an Edge TPU: detector.type auto or edgetpu)"
            else:
                hint = ""
            raise ValueError(f"'{value}' is not an OpenVINO device: use CPU, GPU, GPU.N or AUTO{hint}")
        if EDGETPU_DEVICE.match(value):
            return value
        hint = " (that names an OpenVINO device: set detector.type: openvino)" if OPENVINO_DEVICE.match(value) else ""
        raise ValueError(f"'{value}' is not an Edge TPU device: use usb, usb:N, pci or pci:N{hint}")


class ScheduleWindow(_Model):
    days: tuple[Weekday, ...] = tuple(Weekday)
    start: ClockTime = Field(alias="from", description="HH:MM local time")
    end: ClockTime = Field(alias="to", description="HH:MM local time; before `from` means it crosses midnight")

    @field_validator("days")
    @classmethod
    def _some_days(cls, days: tuple[Weekday, ...]) -> tuple[Weekday, ...]:
        if not days:
            raise ValueError("list at least one day (mon..sun)")
        return days

    @model_validator(mode="after")
    def _window(self) -> ScheduleWindow:
        if self.start >= 24 * 60:
            raise ValueError("'from' must be before 24:00")
        if self.start == self.end or (self.start == 0 and self.end == 24 * 60):
            raise ValueError("'from' equals 'to'; for all day, leave out the schedule")
        return self


class RuleConfig(_Model):
    name: Name
    cameras: tuple[str, ...] | None = Field(None, description="default: all cameras")
    objects: tuple[str, ...] = Field(("person",), min_length=1, description="COCO labels or vehicle/animal")
    zones: tuple[str, ...] | None = Field(None, description="default: anywhere not masked")
    min_score: float | None = Field(
        None, ge=0.0, le=1.0, description="lowest top score that fires; default: the object's own threshold"
    )
    min_dwell: Duration = 1.0
    modes: tuple[Mode, ...] = (Mode.HOME, Mode.AWAY, Mode.NIGHT)
    schedule: tuple[ScheduleWindow, ...] | None = None
    cooldown: Duration = 60.0
    severity: Literal["alert", "info"] = "alert"
    # `name` is the rule's id (topics, alerts), so the name people read needs a key of its own
    title: DisplayName | None = Field(None, description="what Home Assistant shows; default: the name made readable")

    @property
    def display_name(self) -> str:
        return self.title or readable(self.name)


class ObjectFilterConfig(_Model):
    min_score: float | None = Field(
        None, ge=0.0, le=1.0, description="detections of this class scoring less are dropped; default: per class"
    )
    threshold: float | None = Field(
        None, ge=0.0, le=1.0, description="median score a track needs to be confirmed; default: per class"
    )

    @model_validator(mode="after")
    def _ordered(self) -> ObjectFilterConfig:
        if self.min_score is not None and self.threshold is not None and self.threshold < self.min_score:
            raise ValueError(f"threshold ({self.threshold}) must be at least min_score ({self.min_score})")
        return self


class ObjectsConfig(_Model):
    track: tuple[str, ...] = Field(DEFAULT_TRACK, description="COCO labels or groups (vehicle, animal) to track")
    filters: dict[str, ObjectFilterConfig] = Field(
        default_factory=dict, description="per label, or per group (applies to each member)"
    )


class TlsConfig(_Model):
    ca_file: str | None = None


class MqttConfig(_Model):
    host: str = Field(min_length=1)
    port: int = Field(1883, ge=1, le=65535)
    username: str | None = None
    password_file: str | None = Field(None, description="file holding the password (never in the config)")
    tls: TlsConfig = TlsConfig()
    topic_prefix: str = Field("edgewatch", pattern=r"^[^#+/\s][^#+\s]*[^#+/\s]$|^[^#+/\s]$")
    ha_discovery: bool = True
    frigate_compat: bool = False
    snapshots: bool = Field(False, description="opt-in: JPEG snapshots with alerts over MQTT")


_HOST_LABEL = r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOST_NAME = re.compile(rf"{_HOST_LABEL}(\.{_HOST_LABEL})*\.?")  # also an IPv4 address
_IPV6_LITERAL = re.compile(r"\[?[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*\]?")


class ApiConfig(_Model):
    listen: Listen = ("0.0.0.0", 8080)  # noqa: S104 - SPEC default; `allow` gates who may connect
    allow: tuple[Network, ...] = ("private", "loopback", "link-local")
    hostnames: tuple[str, ...] = Field(
        (),
        description="more names (or addresses) the API answers to, besides the box's own addresses, localhost and "
        "its host name (+ .local): a reverse proxy's name, a DNS name from the router; any other Host gets 421",
    )
    trusted_proxies: tuple[Network, ...] = ()
    url: DashboardUrl | None = Field(
        None, description="the dashboard as users' browsers reach it (e.g. behind a proxy); default: from `listen`"
    )

    @field_validator("hostnames")
    @classmethod
    def _hostnames(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for n, name in enumerate(value):
            if not (_HOST_NAME.fullmatch(name) or _IPV6_LITERAL.fullmatch(name)) or len(name) > 253:
                raise ValueError(f"[{n}] '{name}': expected a host name or IP address, without scheme, port or path")
        return value


class StorageConfig(_Model):
    path: str = "/var/lib/edgewatch"
    retain_days: int = Field(14, ge=1, le=3650)
    max_mb: int = Field(2048, ge=16)


def default_node_id() -> str:
    host = re.sub(r"[^a-z0-9_-]+", "-", socket.gethostname().lower()).strip("-")
    return host[:64] or "edgewatch"


class Config(_Model):
    node_id: str = Field(default_factory=default_node_id, pattern=NODE_ID_PATTERN)
    timezone: str | None = Field(None, description="IANA zone for schedules; default: the system zone")
    cameras: dict[Name, CameraConfig] = Field(min_length=1)
    detector: DetectorConfig = DetectorConfig()
    objects: ObjectsConfig = ObjectsConfig()
    rules: tuple[RuleConfig, ...] = ()
    mode: Mode = Mode.AWAY
    mqtt: MqttConfig | None = None
    api: ApiConfig = ApiConfig()
    storage: StorageConfig = StorageConfig()
    record: RecordConfig = Field(RecordConfig(), description="event footage; each camera may override any key")

    def record_for(self, camera: str) -> RecordConfig:
        """The camera's recording settings: its own keys over the appliance's, retain_days always set."""
        own = self.cameras[camera].record.model_dump(exclude_none=True)
        merged = self.record.model_copy(update=own)  # both validated already
        if merged.retain_days is None:
            merged = merged.model_copy(update={"retain_days": self.storage.retain_days})
        return merged

    def camera_name(self, camera: str) -> str:
        """The camera's display name: its `name`, else its id made readable."""
        return self.cameras[camera].name or readable(camera)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone '{value}' (use an IANA name like Europe/London)") from None
        return value
