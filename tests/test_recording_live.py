"""Event footage end to end (issue 16): a real GStreamer RTSP camera streaming H.264 → the
appliance (one connection: packets to the recorder, frames to detection) → a person event →
its clip, joined from the stored segments exactly as `/api/events/{id}/clip.mp4` builds it.

The clip must decode end to end, cover the event ± pre/post capture (± one segment), carry
the camera's own SPS/PPS and size (stream copy: nothing re-encoded), and show her at the
event's start.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import av
import cv2
import numpy as np

from app.config import Config, parse_config
from app.demo.clip import ClipInfo
from app.detect.engine import TfliteDetector
from app.record import build_clip
from app.record.nal import parameter_sets
from app.run.service import Service
from app.store import Store
from tests.conftest import photo
from tests.record.media import stream_info
from tests.support.mjpeg import MjpegCamera
from tests.support.rtsp import RtspCamera
from tests.support.waiting import wait_until

PRE, POST = 2.0, 2.0


def walk_config(url: str, folder: Path) -> Config:
    """One RTSP camera `walk`, recorded with PRE/POST capture, a rule for anyone."""
    return parse_config(
        f"node_id: test\ncameras:\n  walk: {{source: {url}, detect_fps: 5}}\n"
        f"detector: {{type: cpu}}\nstorage: {{path: '{folder / 'state'}'}}\n"
        f"record: {{pre_capture: {PRE:g}s, post_capture: {POST:g}s}}\n"
        "rules: [{name: anyone, objects: [person], cooldown: 0s}]\n"
    )


def test_a_person_event_on_a_live_rtsp_camera_has_its_clip_stream_copied(
    tmp_path: Path,
    person_clip: ClipInfo,
    rtsp_cameras: Callable[..., RtspCamera],
    person_detector: TfliteDetector,
) -> None:
    assert person_clip.annexb is not None
    camera = rtsp_cameras(person_clip.annexb)
    config = walk_config(camera.url, tmp_path)
    with Store(tmp_path / "state", retain_days=7, max_mb=256) as store:
        service = Service(config, person_detector, store)
        service.start()
        try:
            # Her second walk through (the camera loops the clip; before the first there is no
            # footage to pre-capture: the stream began with it) ends, then its post-capture is recorded.
            def ended() -> bool:
                ends = sorted(e.end_time for e in store.events(camera="walk", limit=10) if e.end_time is not None)
                return len(ends) >= 2 and time.time() > ends[1] + POST + 5.0  # + a segment to finish

            assert wait_until(ended, person_clip.seconds * 3 + 30, step=0.2), service.status()
            status = service.status()
        finally:
            service.stop()  # closes the segment being written: it is indexed
        (walk,) = [c for c in status.cameras if c.name == "walk"]
        assert walk.recording, walk
        assert walk.recording_error is None, walk
        event = sorted(store.events(camera="walk", limit=10), key=lambda e: e.start_time)[1]
        assert event.label == "person"
        assert event.end_time is not None
        start, end = service.clip_window(event)
        assert (start, end) == (event.start_time - PRE, event.end_time + POST)
        segments = store.footage.segments("walk", start, end)
        assert segments, "no segment overlaps the event"
        clip = build_clip(segments, start, end, tmp_path / "clip.mp4")

    # Covers the window, within one segment either side; nothing left out as "partial".
    longest = max(s.duration for s in segments)
    assert clip.start <= start + 1e-3, (clip.start, start)
    assert clip.start >= start - longest, (clip.start, start)
    assert clip.end >= end - 1e-3 - 1.0 / person_clip.fps, (clip.end, end)
    assert clip.end <= end + longest, (clip.end, end)
    assert not clip.partial

    # Stream copy: the camera's own codec, size and parameter sets.
    source = stream_info(person_clip.path)
    with av.open(str(clip.path)) as container:
        video = container.streams.video[0]
        ctx = video.codec_context
        assert (ctx.name, ctx.width, ctx.height) == ("h264", *person_clip.size)
        assert parameter_sets("h264", bytes(ctx.extradata or b"")) == parameter_sets("h264", source.extradata)
        assert ctx.profile == av.open(str(person_clip.path)).streams.video[0].codec_context.profile
        # Decodes end to end: every frame, none broken.
        frames = [np.asarray(f.to_ndarray(format="bgr24"), dtype=np.uint8) for f in container.decode(video)]
    assert len(frames) == clip.frames >= round((end - start) * person_clip.fps * 0.8)

    # Around the event's start (her first second in view; the clip begins up to one segment
    # before it) she is in the clip's frames: the footage is of the event, not of some other time.
    first = max(0, round((event.start_time - clip.start) * person_clip.fps))
    seen = [
        max((d.score for d in person_detector.detect(f, 0.3).items if d.label == "person"), default=0.0)
        for f in frames[first : first + person_clip.fps]
    ]
    assert max(seen) >= 0.5, seen


def test_an_mjpeg_camera_is_encoded_once_and_recorded(tmp_path: Path, person_detector: TfliteDetector) -> None:
    """No compressed video to copy (an ESP32-CAM, a cheap IP camera's MJPEG): its decoded frames
    are encoded to H.264 once, at a bounded size, and recorded like any camera's footage."""
    big = np.asarray(cv2.resize(photo("astronaut"), (1920, 1080)), dtype=np.uint8)
    with MjpegCamera([big], fps=10) as camera:
        config = parse_config(
            f"node_id: test\ncameras:\n  porch: {{source: '{camera.url}', detect_fps: 5}}\n"
            f"detector: {{type: cpu}}\nstorage: {{path: '{tmp_path / 'state'}'}}\nrecord: {{mode: continuous}}\n"
        )
        with Store(tmp_path / "state", retain_days=7, max_mb=256) as store:
            service = Service(config, person_detector, store)
            service.start()
            try:
                indexed = wait_until(lambda: bool(store.footage.segments("porch", 0, 2e9)), 30, step=0.2)
                status = service.status()
            finally:
                service.stop()
            assert indexed, status
            segments = store.footage.segments("porch", 0, 2e9)
    (porch,) = status.cameras
    assert porch.recording, porch
    assert porch.recording_error is None, porch
    with av.open(str(segments[0].path)) as container:
        ctx = container.streams.video[0].codec_context
        assert (ctx.name, ctx.width, ctx.height) == ("h264", 1280, 720)  # bounded: 1920 wide is too much
        frames = [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]
    assert len(frames) == segments[0].frames >= 5
    # The picture survives the encode: the astronaut, not noise.
    error = np.abs(frames[-1].astype(np.int16) - cv2.resize(big, (1280, 720)).astype(np.int16)).mean()
    assert error < 12, error


def test_a_camera_that_drops_mid_event_gives_a_clip_of_before_and_after(
    tmp_path: Path,
    person_clip: ClipInfo,
    rtsp_cameras: Callable[..., RtspCamera],
    person_detector: TfliteDetector,
) -> None:
    """The camera's stream stops while she is in view and comes back on a new connection:
    her event's clip holds the footage from both sides of the gap and plays end to end."""
    assert person_clip.annexb is not None
    camera = rtsp_cameras(person_clip.annexb)
    config = walk_config(camera.url, tmp_path)
    with Store(tmp_path / "state", retain_days=7, max_mb=256) as store:
        service = Service(config, person_detector, store)
        service.start()
        try:
            assert wait_until(lambda: bool(store.events(camera="walk", limit=1)), 30, step=0.2), service.status()
            time.sleep(0.5)  # scenario: a little footage of her event before the drop
            dropped_at = time.time()
            camera.kill()  # mid-walk: her event is open
            time.sleep(0.5)  # scenario: the camera stays down for a moment (a gap in the footage)
            camera.restart()
            assert wait_until(lambda: service.status().cameras[0].reconnects >= 1, 20, step=0.2), service.status()
            (event,) = [e for e in store.events(camera="walk", limit=10) if e.start_time < dropped_at]

            def over() -> bool:
                done = store.event(event.id)
                return done is not None and done.end_time is not None and time.time() > done.end_time + POST + 5.0

            assert wait_until(over, 30, step=0.2), store.event(event.id)
        finally:
            service.stop()
        done = store.event(event.id)
        assert done is not None
        start, end = service.clip_window(done)
        segments = store.footage.segments("walk", start, end)
        clip = build_clip(segments, start, end, tmp_path / "clip.mp4")

    assert any(s.end <= dropped_at + 0.5 for s in segments), segments  # footage from before the drop
    assert any(s.start > dropped_at for s in segments), segments  # ...and from the new connection
    assert clip.segments >= 2
    assert clip.skipped == 0
    with av.open(str(clip.path)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames == clip.frames > 0
