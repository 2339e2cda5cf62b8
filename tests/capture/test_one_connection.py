"""One connection per camera, two uses: a real GStreamer RTSP camera's packets reach the recorder's sink
(plain `Packet`s, increasing pts/dts, keyframes flagged, the camera's own SPS/PPS and size) while its
decoded frames reach the freshest-frame slot; a reconnect starts a new timeline; an MJPEG camera gives
frames and no packets; a sink that raises never stops capture."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable

import av

from app.capture import Backoff, Camera, VideoSource
from app.demo.clip import ClipInfo
from app.record import Packet
from app.record.nal import parameter_sets
from tests.capture.test_camera import has_frame_after, wait_for
from tests.support.mjpeg import MjpegCamera
from tests.support.rtsp import RtspCamera

FAST = Backoff(first=0.2, limit=2.0, jitter=0.2)


class Sink:
    def __init__(self, fail: bool = False) -> None:
        self.packets: list[Packet] = []
        self.fail = fail
        self._lock = threading.Lock()

    def __call__(self, packet: Packet) -> None:
        with self._lock:
            self.packets.append(packet)
        if self.fail:
            raise OSError(28, "No space left on device")

    def taken(self) -> list[Packet]:
        with self._lock:
            return list(self.packets)


def source_parameters(clip: ClipInfo) -> tuple[bytes, ...]:
    with av.open(str(clip.path)) as container:
        ctx = container.streams.video[0].codec_context
        return parameter_sets("h264", bytes(ctx.extradata or b""))


def assert_one_timeline(packets: list[Packet]) -> None:
    assert all(type(p.data) is bytes and type(p.pts) is int and type(p.dts) is int for p in packets)
    assert all(b.dts > a.dts and b.pts > a.pts for a, b in itertools.pairwise(packets))
    assert len({p.origin for p in packets}) == 1
    assert len({id(p.stream) for p in packets}) == 1


def test_one_rtsp_connection_feeds_the_recorder_and_detection(
    person_clip: ClipInfo, rtsp_cameras: Callable[..., RtspCamera]
) -> None:
    assert person_clip.annexb is not None
    server = rtsp_cameras(person_clip.annexb)
    sink = Sink()
    camera = Camera("porch", server.url, backoff=FAST, on_packet=sink)
    camera.start()
    try:
        assert wait_for(lambda: len(sink.taken()) >= 36, 15) is not None, (camera.health(), len(sink.taken()))
        frame = camera.slot.peek()
        assert frame is not None
        assert (frame.width, frame.height) == (1280, 720)
        assert camera.health().online
        assert camera.health().reconnects == 0
    finally:
        camera.stop()
    packets = sink.taken()
    assert_one_timeline(packets)
    info = packets[0].stream
    assert (info.codec, info.width, info.height) == ("h264", 1280, 720)
    assert parameter_sets("h264", info.extradata) == source_parameters(person_clip)  # the camera's SPS/PPS
    assert packets[0].keyframe
    assert packets[0].data.startswith(b"\x00\x00\x00\x01")
    keyframes = [i for i, p in enumerate(packets) if p.keyframe]
    assert keyframes[:3] == [0, 12, 24]  # the clip's GOP is 12 frames
    assert not any(p.keyframe for i, p in enumerate(packets) if i not in keyframes)
    # The server stamps no time: pts are made up from arrivals, ~1/12 s apart, on the wall clock.
    spacing = [info.seconds(b.pts - a.pts) for a, b in itertools.pairwise(packets)]
    assert 1 / 24 < sorted(spacing)[len(spacing) // 2] < 1 / 6, spacing
    assert abs(packets[-1].time - time.time()) < 3.0


def test_a_reconnect_gives_a_new_stream_info_and_origin(
    person_clip: ClipInfo, rtsp_cameras: Callable[..., RtspCamera]
) -> None:
    assert person_clip.annexb is not None
    server = rtsp_cameras(person_clip.annexb)
    sink = Sink()
    camera = Camera("porch", server.url, backoff=FAST, on_packet=sink)
    camera.start()
    try:
        assert wait_for(lambda: len(sink.taken()) >= 12, 15) is not None
        server.kill()
        assert wait_for(lambda: not camera.health().online, 5.0) is not None
        first = len(sink.taken())
        server.restart()
        assert wait_for(lambda: len(sink.taken()) >= first + 12 and camera.health().reconnects >= 1, 20) is not None
    finally:
        camera.stop()
    packets = sink.taken()
    before, after = packets[:first], packets[first:]
    assert_one_timeline(before)
    assert_one_timeline(after)
    # same camera, new info
    assert after[0].stream is not before[0].stream
    assert after[0].stream == before[0].stream
    assert after[0].origin != before[0].origin
    assert after[0].keyframe
    assert after[0].time > before[-1].time - 1.0  # the new timeline continues the wall clock


def test_a_failing_sink_never_stops_capture(person_clip: ClipInfo, rtsp_cameras: Callable[..., RtspCamera]) -> None:
    assert person_clip.annexb is not None
    server = rtsp_cameras(person_clip.annexb)
    sink = Sink(fail=True)
    camera = Camera("porch", server.url, backoff=FAST, on_packet=sink)
    camera.start()
    try:
        assert wait_for(lambda: camera.sink_errors >= 24, 15) is not None, camera.health()
        seq = camera.slot.peek().seq  # type: ignore[union-attr]
        assert wait_for(lambda: has_frame_after(camera, seq), 10) is not None, camera.health()
        assert camera.slot.peek().seq > seq  # type: ignore[union-attr]
        assert camera.health().online
        assert camera.health().reconnects == 0
    finally:
        camera.stop()


def test_mjpeg_over_http_gives_frames_and_no_packets(person_clip: ClipInfo) -> None:
    reader = VideoSource(str(person_clip.path), realtime=False)
    frames = [f for _ in range(12) if (f := reader.read()) is not None]
    reader.close()
    sink = Sink()
    with MjpegCamera(frames, fps=10) as server:
        camera = Camera("gate", server.url, backoff=FAST, on_packet=sink)
        camera.start()
        try:
            assert wait_for(lambda: camera.health().online, 10) is not None, camera.health()
            # Ten frames read: had the source any packets to hand out, the sink would have some by now.
            assert wait_for(lambda: has_frame_after(camera, 10), 15) is not None, camera.health()
            frame = camera.slot.peek()
            assert frame is not None
            assert (frame.width, frame.height) == (1280, 720)
        finally:
            camera.stop()
    assert sink.taken() == []


def test_a_file_gives_its_own_timestamps(person_clip: ClipInfo) -> None:
    sink = Sink()
    source = VideoSource(str(person_clip.path), realtime=False, on_packet=sink)
    count = 0
    while source.read() is not None:
        count += 1
    source.close()
    packets = sink.taken()
    assert count == person_clip.frames
    assert len(packets) == person_clip.frames
    assert_one_timeline(packets)
    assert [p.pts for p in packets[:3]] == [0, packets[1].pts, 2 * packets[1].pts]  # the file's, not made up
    assert packets[0].stream.extradata[0] == 1  # avcC, as the MP4 demuxer gives it
