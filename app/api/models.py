"""Request and response bodies of the HTTP API (they make the OpenAPI schema).

Requests forbid unknown fields and bound every string; responses carry no secrets
(camera URLs never appear — status gives names, state and rates only)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.config import Mode
from app.domain import Alert, Event
from app.payloads import iso_utc

EVENT_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,200}$"
NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
Box = tuple[float, float, float, float]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class Health(_Out):
    status: Literal["ok"] = "ok"


class LoginIn(_In):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class SetupIn(_In):
    code: str = Field(min_length=1, max_length=64, description="the one-time code printed on the console")
    password: str = Field(min_length=1, max_length=1024)


class SetupState(_Out):
    required: bool = Field(description="true until an admin password is set")


class ModeIn(_In):
    mode: Mode


class ModeOut(_Out):
    mode: Mode


class RecordingOut(_Out):
    enabled: bool = Field(description="record.enabled for this camera")
    active: bool = Field(description="footage is being written now")
    error: str | None = Field(description="why recording fails or is paused (e.g. disk full), until it works again")


class CameraOut(_Out):
    name: str
    title: str = Field(description="the camera's display name (config `name:`, else its id made readable)")
    online: bool
    enabled: bool
    fps_in: float
    fps_detect: float
    detect_fps_target: float = Field(description="the camera's detect_fps (0 while it is disabled)")
    lag_s: float | None = Field(
        description="median seconds from a frame's capture to its result, over the last 5 s (null: none lately)"
    )
    behind: bool = Field(description="detection runs under 90 % of detect_fps: the detector cannot keep up")
    dropped: int
    last_frame_age_s: float | None
    reconnects: int
    error: str | None
    objects: dict[str, int] = Field(
        description="confirmed objects in view now, per label (empty while the camera is offline or disabled)"
    )
    recording: RecordingOut


class DetectorOut(_Out):
    backend: str
    device: str | None
    model: str
    inference_ms: float
    degraded: bool
    note: str | None = Field(description="why the detector is not the one configured, when degraded")
    errors: int


class MqttOut(_Out):
    connected: bool
    outbox: int = Field(description="alerts waiting for the broker's acknowledgement")
    error: str | None


class StorageOut(_Out):
    used_mb: float
    free_mb: float


class StatusOut(_Out):
    node: str
    version: str
    uptime: float = Field(description="seconds since the service started")
    mode: Mode
    cameras: list[CameraOut]
    detector: DetectorOut
    mqtt: MqttOut | None = Field(description="null when no broker is configured")
    storage: StorageOut
    objects_tracked: list[str] = Field(description="the classes tracked: objects.track and every rule's objects")


class EventOut(_Out):
    id: str
    camera: str
    label: str
    score: float
    top_score: float
    box: Box = Field(description="normalized x1, y1, x2, y2")
    zones: list[str]
    start_time: str
    end_time: str | None
    stationary: bool
    snapshot_url: str | None
    clip: bool = Field(description="footage of this event exists")
    clip_url: str | None = Field(description="the event's clip (MP4), when there is footage")
    clip_partial: bool = Field(description="the event is still being recorded: its clip grows")

    @classmethod
    def of(cls, event: Event, has_snapshot: bool, *, clip: bool = False, clip_partial: bool = False) -> EventOut:
        return cls(
            id=event.id,
            camera=event.camera,
            label=event.label,
            score=round(event.score, 4),
            top_score=round(event.top_score, 4),
            box=event.box,
            zones=list(event.zones),
            start_time=iso_utc(event.start_time),
            end_time=None if event.end_time is None else iso_utc(event.end_time),
            stationary=event.stationary,
            snapshot_url=f"/api/events/{event.id}/snapshot.jpg" if has_snapshot else None,
            clip=clip,
            clip_url=f"/api/events/{event.id}/clip.mp4" if clip else None,
            clip_partial=clip and clip_partial,
        )


class AlertOut(_Out):
    id: str
    rule: str
    camera: str
    label: str
    score: float
    box: Box
    zones: list[str]
    event_id: str
    started_at: str
    fired_at: str
    severity: str
    delivered_at: str | None = Field(description="when the broker acknowledged it; null: not (yet) delivered")

    @classmethod
    def of(cls, alert: Alert, delivered_at: float | None) -> AlertOut:
        return cls(
            id=alert.id,
            rule=alert.rule,
            camera=alert.camera,
            label=alert.label,
            score=round(alert.score, 4),
            box=alert.box,
            zones=list(alert.zones),
            event_id=alert.event_id,
            started_at=iso_utc(alert.started_at),
            fired_at=iso_utc(alert.fired_at),
            severity=alert.severity,
            delivered_at=None if delivered_at is None else iso_utc(delivered_at),
        )


class TokenIn(_In):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9 _.-]+$", description="who uses it, e.g. hass")


class TokenOut(_Out):
    id: str
    name: str
    created_at: str
    last_used_at: str | None


class TokenCreated(TokenOut):
    token: str = Field(description="the secret: shown once, stored only as a hash")
