"""What a real RTSP camera's demuxer hands over (Debian's GStreamer RTSP server, FFmpeg's RTSP client through
PyAV) is recorded by stream copy: Annex-B packets with in-band SPS/PPS, extradata from the SDP."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from app.demo.video import mp4_to_annexb
from app.record import Packet, build_clip
from tests.record.conftest import record
from tests.record.media import ORIGIN, Source, codec_params, frame_indices, info_of
from tests.support.rtsp import RtspCamera

OPTIONS = {"rtsp_transport": "tcp", "analyzeduration": "500000", "probesize": "65536"}


def test_packets_from_a_real_rtsp_camera_are_recorded(source: Source, tmp_path: Path) -> None:
    annexb = tmp_path / "camera.h264"
    mp4_to_annexb(source.path, annexb)
    items: list[Packet] = []
    with RtspCamera(annexb, fps=source.fps) as camera, av.open(camera.url, options=OPTIONS, timeout=5.0) as container:
        stream = container.streams.video[0]
        info = info_of(stream)
        frame_ticks = round(1 / (source.fps * info.time_base))
        for n, packet in enumerate(container.demux(stream)):
            # This server's pipeline stamps no time, so every RTP timestamp is the same (FFmpeg says pts 0 or
            # None): the frame count stands in for the clock here. Real cameras stamp their frames.
            pts = n * frame_ticks
            items.append(Packet(bytes(packet), pts, pts, bool(packet.is_keyframe), info, ORIGIN))
            if len(items) == 60:
                break
    assert info.extradata.startswith(b"\x00\x00\x00\x01")  # sprop-parameter-sets, Annex-B
    assert items[0].keyframe
    assert items[0].data.startswith(b"\x00\x00\x00\x01")

    segments = record(items, tmp_path / "rtsp", target=2.0)
    assert [s.frames for s in segments] == [24, 24, 12]
    decoded = [i for s in segments for i in frame_indices(s.path)]
    first = decoded[0]
    assert first % source.gop == 0
    assert decoded == [(first + k) % source.frames for k in range(60)]
    for segment in segments:
        assert codec_params(segment.path) == codec_params(source.path)  # copied, not re-encoded

    clip = build_clip(segments, ORIGIN + 1.5, ORIGIN + 3.5, tmp_path / "clip.mp4")
    assert codec_params(clip.path) == codec_params(source.path)
    assert frame_indices(clip.path) == decoded[12:48]
    assert clip.duration == pytest.approx(3.0)
