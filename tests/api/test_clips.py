"""Event clips end to end: real H.264 packets → the service's recorder → segments indexed in the
real store → `GET /api/events/{id}/clip.mp4` from the real app served by uvicorn.

The capture is not involved: the packets are the ones tests/record/media.py takes out of a
real encoded file exactly as the capture hands them over (`on_packet`)."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import av
import httpx
import pytest

from app.domain import Event
from app.record import Packet
from app.run.recording import CameraRecording
from tests.api.conftest import EVENT_ID, PASSWORD, Stack
from tests.record.media import Source, codec_params, frame_indices, make_source, packets

FPS = 12


@pytest.fixture(scope="module")
def camera_source(tmp_path_factory: pytest.TempPathFactory) -> Source:
    """32 s of 640x360 H.264 at 12 fps, a keyframe every second, like a camera's substream."""
    return make_source(tmp_path_factory.mktemp("clips") / "camera.mp4", seconds=32.0, size=(640, 360), fps=FPS)


def record_event(recording: CameraRecording, items: list[Packet], event: Event, post: float) -> None:
    """What the pipeline does: packets flow; from the event's start footage is wanted until end + post."""
    assert event.end_time is not None
    wanted = False
    for packet in items:
        if not wanted and packet.time >= event.start_time:
            recording.want_until(event.end_time + post)
            wanted = True
        recording.push(packet)
    recording.close()


def clip_seconds(path: Path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.duration is not None
        assert stream.time_base is not None
        return float(stream.duration * stream.time_base)


@contextmanager
def logged_in(base: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base, timeout=30) as client:
        assert client.post("/api/login", json={"username": "admin", "password": PASSWORD}).status_code == 204
        yield client


def test_an_events_clip_is_its_footage_stream_copied_with_range_support(
    stack: Stack, serve: Callable[..., str], camera_source: Source, tmp_path: Path
) -> None:
    event = stack.store.event(EVENT_ID)
    assert event is not None
    assert event.end_time is not None
    settings = stack.config.record_for("porch")
    pre, post = settings.pre_capture, settings.post_capture
    origin = event.start_time - 15.0  # the event is seen from 15 s into the camera's 32 s
    recording = stack.service.recordings.cameras["porch"]
    record_event(recording, packets(camera_source.path, origin=origin), event, post)

    # Only footage around the event was written (mode: events), each finished segment indexed.
    segments = stack.store.footage.segments("porch", 0, time.time() + 60)
    assert segments, "no segment was indexed"
    assert min(s.start for s in segments) >= event.start_time - pre - 1.0 - 1e-3  # the ring: pre + one GOP
    assert max(s.end for s in segments) <= event.end_time + post + 1.0 + 1e-3
    for s in segments:
        assert stat.S_IMODE(os.stat(s.path).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(s.path.parent).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(stack.store.footage.root).st_mode) == 0o700

    base = serve()
    assert httpx.get(f"{base}/api/events/{EVENT_ID}/clip.mp4").status_code == 401  # login like every route
    with logged_in(base) as client:
        listed = client.get("/api/events").json()
        assert [(e["id"], e["clip"], e["clip_url"], e["clip_partial"]) for e in listed] == [
            (EVENT_ID, True, f"/api/events/{EVENT_ID}/clip.mp4", False)
        ]
        response = client.get(f"/api/events/{EVENT_ID}/clip.mp4")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "video/mp4"
        assert response.headers["x-clip-partial"] == "false"
        assert response.headers.get("accept-ranges") == "bytes"
        body = response.content
        first = client.get(f"/api/events/{EVENT_ID}/clip.mp4", headers={"Range": "bytes=0-99"})
        assert first.status_code == 206
        assert first.content == body[:100]
        assert len(first.content) == 100
        assert first.headers["content-range"] == f"bytes 0-99/{len(body)}"

    out = tmp_path / "clip.mp4"
    out.write_bytes(body)
    indices = frame_indices(out)  # PyAV decodes it end to end (raises on a broken stream)
    assert indices == list(range(indices[0], indices[0] + len(indices)))  # every frame once, in order
    # Its span covers the event ± pre/post capture, within one segment (here one GOP: 1 s).
    start_index = round((event.start_time - pre - origin) * FPS)
    end_index = round((event.end_time + post - origin) * FPS)
    assert start_index - FPS <= indices[0] <= start_index
    assert end_index - 1 <= indices[-1] <= end_index + FPS
    window = event.end_time - event.start_time + pre + post
    assert window - 1 / FPS <= clip_seconds(out) <= window + 2.0
    assert codec_params(out) == codec_params(camera_source.path)  # profile, level, size, SPS/PPS: not re-encoded


def test_no_footage_is_a_404_that_says_why(serve: Callable[..., str]) -> None:
    with logged_in(serve()) as client:
        listed = client.get("/api/events").json()
        assert [(e["clip"], e["clip_url"]) for e in listed] == [(False, None)]
        response = client.get(f"/api/events/{EVENT_ID}/clip.mp4")
        assert response.status_code == 404
        assert response.json()["detail"] == "no footage for this event"
        assert client.get("/api/events/1-nothing/clip.mp4").status_code == 404


def test_an_event_still_recording_gets_a_partial_clip_that_grows(
    stack: Stack, serve: Callable[..., str], camera_source: Source
) -> None:
    now = time.time()
    items = packets(camera_source.path, origin=now - 20.0)  # the camera's last 20 s... and 12 s ahead
    open_event = Event("1-porch-9", "porch", "person", 0.8, 0.8, (0.1, 0.1, 0.5, 0.9), (), now - 12.0, None, False)
    stack.store.save_event(open_event)
    recording = stack.service.recordings.cameras["porch"]
    recording.want_until(now + 60.0)
    half = [p for p in items if p.time < now - 6.0]
    for packet in half:
        recording.push(packet)
    with logged_in(serve()) as client:
        listed = {e["id"]: e for e in client.get("/api/events").json()}
        assert listed[open_event.id]["clip"]
        assert listed[open_event.id]["clip_partial"]
        early = client.get(f"/api/events/{open_event.id}/clip.mp4")
        assert early.status_code == 200
        assert early.headers["x-clip-partial"] == "true"
        for packet in items[len(half) :]:
            recording.push(packet)
        later = client.get(f"/api/events/{open_event.id}/clip.mp4")
        assert later.status_code == 200
        assert later.headers["x-clip-partial"] == "true"
    assert len(later.content) > len(early.content)  # it grew with the segments finished since
    recording.close()


def test_a_recording_failure_is_reported_per_camera_and_nothing_else_stops(
    stack: Stack, serve: Callable[..., str], camera_source: Source
) -> None:
    folder = stack.store.footage.folder("porch")
    if folder.is_dir():
        folder.rmdir()
    folder.write_bytes(b"not a folder")  # every segment write now fails (as a full disk would)
    recording = stack.service.recordings.cameras["porch"]
    recording.want_until(time.time() + 60.0)
    for packet in packets(camera_source.path, origin=time.time() - 32.0)[:60]:
        recording.push(packet)  # never raises into the capture's thread
    with logged_in(serve()) as client:
        status = client.get("/api/status").json()
        rec = status["cameras"][0]["recording"]
        assert rec["enabled"] is True
        assert rec["active"] is False
        assert rec["error"] is not None
        assert "cannot start a segment" in rec["error"]
        assert recording.failures >= 1
        # The rest of the API still answers, events and alerts included.
        assert client.get("/api/events").status_code == 200
        assert client.get("/api/alerts").json()[0]["event_id"] == EVENT_ID
