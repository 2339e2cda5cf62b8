"""The data routes: status, latest frames, events, alerts, mode and metrics (SPEC: HTTP API).

Every route here sits behind the login gate (app.api.gate). Cheap reads run on the
event loop; anything that touches SQLite or encodes a JPEG runs in a worker thread."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Protocol

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import FileResponse, Response
from starlette.concurrency import run_in_threadpool

from app import __version__
from app.api.clips import ClipCache
from app.api.frames import LatestJpeg
from app.api.models import (
    EVENT_ID_PATTERN,
    NAME_PATTERN,
    AlertOut,
    CameraOut,
    DetectorOut,
    EventOut,
    ModeIn,
    ModeOut,
    MqttOut,
    RecordingOut,
    StatusOut,
    StorageOut,
)
from app.config import Mode
from app.domain import Event, Frame, Track
from app.record import NoFootage, RecordError
from app.run.metrics import Metrics
from app.run.status_board import StatusBoard
from app.status import ServiceStatus
from app.store import Store

JPEG = "image/jpeg"
MP4 = "video/mp4"
MAX_LIMIT = 500

CameraName = Annotated[str, Path(pattern=NAME_PATTERN)]
EventId = Annotated[str, Path(pattern=EVENT_ID_PATTERN)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Since = Annotated[datetime | None, Query(description="ISO 8601 time; only what started at or after it")]
Filter = Annotated[str | None, Query(max_length=64)]


class Backend(Protocol):
    """What the API needs from the running service (app.run.service.Service)."""

    store: Store
    board: StatusBoard  # the status model: /api/status reads it, refreshed off the event loop

    def set_mode(self, mode: Mode) -> None: ...
    def latest(self, camera: str) -> tuple[Frame, tuple[Track, ...]] | None: ...
    def clip_window(self, event: Event) -> tuple[float, float]: ...
    def recording_enabled(self, camera: str) -> bool: ...


def data_router(backend: Backend, metrics: Metrics) -> APIRouter:
    router = APIRouter()
    _live_routes(router, backend)
    _event_routes(router, backend)
    _control_routes(router, backend, metrics)
    return router


def _live_routes(router: APIRouter, backend: Backend) -> None:
    """What the service sees now: its status and each camera's latest frame."""
    frames = LatestJpeg(backend.latest)
    board = backend.board

    @router.get("/api/status", tags=["status"])
    async def status() -> StatusOut:
        # Built on the event loop: ~0.1 ms of work, while a thread-pool hop costs a GIL hand-off
        # against the busy pipeline threads (up to 5 ms each) — 5x the throughput measured. What
        # comes from SQLite (disk usage, outbox depth) is re-read in a worker thread, only when
        # stale; while another request re-reads it, the last figures answer.
        if board.stale():
            await run_in_threadpool(board.refresh, wait=False)
        return status_out(board.current())

    @router.get(
        "/api/cameras/{name}/latest.jpg",
        tags=["cameras"],
        response_class=Response,
        responses={200: {"content": {JPEG: {}}}, 404: {"description": "no such camera"}},
    )
    async def latest_jpg(name: CameraName) -> Response:
        try:  # backend.latest raises KeyError for an unknown camera: no full status() per image
            jpeg = frames.cached(name) or await run_in_threadpool(frames.get, name)
        except KeyError:
            raise HTTPException(404, f"no camera named '{name}'") from None
        if jpeg is None:
            raise HTTPException(404, f"camera '{name}' has not delivered a frame yet", headers={"Retry-After": "2"})
        return Response(jpeg, media_type=JPEG)


def _event_routes(router: APIRouter, backend: Backend) -> None:
    """What the store keeps: events, their snapshots and clips, and the alerts sent."""
    store = backend.store
    clips = ClipCache(store)

    def event_out(e: Event) -> EventOut:
        start, end = backend.clip_window(e)
        return EventOut.of(
            e, store.snapshot_path(e.id) is not None, clip=store.footage.has(e.camera, start, end),
            clip_partial=_still_recording(e, end, backend),
        )  # fmt: skip

    @router.get("/api/events", tags=["events"])
    def events(camera: Filter = None, label: Filter = None, since: Since = None, limit: Limit = 50) -> list[EventOut]:
        found = store.events(camera=camera, label=label, since=_epoch(since), limit=limit)
        return [event_out(e) for e in found]

    @router.get("/api/events/{event_id}", tags=["events"], responses={404: {"description": "no such event"}})
    def event(event_id: EventId) -> EventOut:
        found = store.event(event_id)
        if found is None:
            raise HTTPException(404, "no such event")
        return event_out(found)

    @router.get(
        "/api/events/{event_id}/snapshot.jpg",
        tags=["events"],
        response_class=FileResponse,
        responses={200: {"content": {JPEG: {}}}, 404: {"description": "no such event or no snapshot"}},
    )
    def snapshot(event_id: EventId) -> FileResponse:
        path = store.snapshot_path(event_id)
        if path is None:
            raise HTTPException(404, "no snapshot for this event")
        return FileResponse(path, media_type=JPEG)

    @router.get(
        "/api/events/{event_id}/clip.mp4",
        tags=["events"],
        response_class=FileResponse,
        responses={
            200: {"content": {MP4: {}}, "description": "the clip (206 for a Range request)"},
            404: {"description": "no such event, or no footage for it"},
            503: {"description": "the footage could not be read"},
        },
    )
    def clip(event_id: EventId) -> FileResponse:
        """The event's footage ± pre/post capture, stream-copied, faststart; `X-Clip-Partial: true` while
        the event is still being recorded (ask again later for a longer clip)."""
        found = store.event(event_id)
        if found is None:
            raise HTTPException(404, "no such event")
        return _clip_response(found, backend, clips)

    @router.get("/api/alerts", tags=["alerts"])
    def alerts(since: Since = None, limit: Limit = 50) -> list[AlertOut]:
        return [AlertOut.of(a, delivered) for a, delivered in store.alert_log(since=_epoch(since), limit=limit)]


def _control_routes(router: APIRouter, backend: Backend, metrics: Metrics) -> None:
    """The mode switch, and the metrics for Prometheus."""

    @router.put("/api/mode", tags=["mode"])
    def put_mode(body: ModeIn) -> ModeOut:
        backend.set_mode(body.mode)
        return ModeOut(mode=body.mode)

    @router.get(
        "/metrics",
        tags=["status"],
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}}},
    )
    def prometheus() -> Response:
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)


def status_out(s: ServiceStatus) -> StatusOut:
    d = s.detector
    storage = s.storage
    return StatusOut(
        node=s.node,
        version=__version__,
        uptime=s.uptime_s,
        mode=Mode(s.mode),
        cameras=[
            CameraOut(
                name=c.name,
                title=c.title or c.name,
                online=c.online,
                enabled=c.enabled,
                fps_in=c.fps_in,
                fps_detect=c.fps_detect,
                detect_fps_target=c.detect_fps_target,
                lag_s=c.lag_s,
                behind=c.behind,
                dropped=c.dropped,
                last_frame_age_s=c.last_frame_age_s,
                reconnects=c.reconnects,
                error=c.error,
                objects=dict(c.objects),
                recording=RecordingOut(enabled=c.recording, active=c.recording_active, error=c.recording_error),
            )
            for c in s.cameras
        ],
        detector=DetectorOut(
            backend=d.backend,
            device=d.device,
            model=d.model,
            inference_ms=d.inference_ms,
            degraded=d.degraded is not None,
            note=d.degraded,
            errors=d.errors,
        ),
        mqtt=None if s.mqtt is None else MqttOut(connected=s.mqtt.connected, outbox=s.mqtt.outbox, error=s.mqtt.error),
        # Never read (its disk could not be read yet): zeros, as the API has always shown them.
        storage=StorageOut(
            used_mb=0.0 if storage is None else round(storage.used_mb, 1),
            free_mb=0.0 if storage is None else round(storage.free_mb, 1),
        ),
        objects_tracked=list(s.objects_tracked),
    )


def _clip_response(event: Event, backend: Backend, clips: ClipCache) -> FileResponse:
    window = backend.clip_window(event)
    try:
        served = clips.get(event, window, recording=_still_recording(event, window[1], backend))
    except NoFootage:
        why = "" if backend.recording_enabled(event.camera) else f" (recording is off for camera '{event.camera}')"
        raise HTTPException(404, f"no footage for this event{why}") from None
    except RecordError:
        raise HTTPException(503, "the footage of this event could not be read") from None
    headers = {"X-Clip-Partial": "true" if served.partial else "false", "Cache-Control": "no-store"}
    return FileResponse(served.path, media_type=MP4, headers=headers)


def _still_recording(event: Event, window_end: float, backend: Backend) -> bool:
    """Whether the event's footage may still grow: recording is on and its window has not closed yet."""
    return backend.recording_enabled(event.camera) and (event.end_time is None or window_end > time.time())


def _epoch(moment: datetime | None) -> float | None:
    if moment is None:
        return None
    try:
        return moment.timestamp()  # naive times are the box's local time
    except (OverflowError, OSError, ValueError):
        raise HTTPException(422, "since: time out of range") from None
