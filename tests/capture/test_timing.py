"""PacketTimeline: the demuxer's pts kept when usable, made up from arrivals when not, and the origin
settled after a connect burst from the least delayed packet."""

from __future__ import annotations

import itertools
from fractions import Fraction

import pytest

from app.capture.timing import HOLD_PACKETS, PacketTimeline
from app.record import Packet, StreamInfo

INFO = StreamInfo("h264", 1280, 720, Fraction(1, 90000), b"")
FRAME = 7500  # ticks of one frame at 12 fps
WALL = 1_700_000_000.0


def feed(timeline: PacketTimeline, arrivals: list[float], pts: list[int | None]) -> list[Packet]:
    out: list[Packet] = []
    for i, (t, p) in enumerate(zip(arrivals, pts, strict=True)):
        out += timeline.add(b"\x00\x00\x00\x01e", pts=p, dts=p, keyframe=i == 0, duration=0, mono=t, wall=WALL + t)
    return out


def test_good_timestamps_are_kept_and_the_origin_is_the_first_arrival() -> None:
    timeline = PacketTimeline(INFO, 12.0)
    arrivals = [i / 12 for i in range(24)]
    packets = feed(timeline, arrivals, [i * FRAME for i in range(24)])
    assert [p.pts for p in packets] == [i * FRAME for i in range(24)]
    assert timeline.made_up == 0
    assert packets[0].origin == pytest.approx(WALL)
    assert packets[-1].time == pytest.approx(WALL + arrivals[-1])


def test_missing_or_repeated_pts_are_made_up_from_arrivals() -> None:
    timeline = PacketTimeline(INFO, 12.0)
    arrivals = [i * 0.1 for i in range(10)]  # paced at 10 fps, though the stream says 12
    packets = feed(timeline, arrivals, [None] + [0] * 9)
    assert timeline.made_up == 10  # None, then 0 again and again
    assert [p.pts for p in packets] == [round(i * 0.1 * 90000) for i in range(10)]
    assert all(p.dts == p.pts for p in packets)
    assert packets[-1].time == pytest.approx(WALL + 0.9)


def test_a_connect_burst_keeps_frame_spacing_and_sets_the_origin_after_it() -> None:
    timeline = PacketTimeline(INFO, 12.0)
    burst = [i * 0.002 for i in range(60)]  # 5 s of buffered frames in 0.12 s
    paced = [burst[-1] + (i + 1) / 12 for i in range(12)]
    out = feed(timeline, burst, [None] * 60)
    # held while the burst lasts
    assert out == []
    assert timeline.origin is None
    out += feed(timeline, paced, [None] * 12)
    assert len(out) == 72
    assert len({p.origin for p in out}) == 1
    assert all(b.pts - a.pts == FRAME for a, b in itertools.pairwise(out[:61]))
    # The burst's frames were ~5 s old: the first one is placed ~5 s before it arrived.
    assert out[0].time == pytest.approx(WALL - 59 / 12 + burst[-1], abs=0.01)
    assert out[-1].time == pytest.approx(WALL + paced[-1], abs=0.01)


def test_a_stream_that_never_paces_is_settled_by_the_hold_limit_and_flush() -> None:
    timeline = PacketTimeline(INFO, 12.0)
    out = feed(timeline, [i * 0.001 for i in range(HOLD_PACKETS)], [i * FRAME for i in range(HOLD_PACKETS)])
    assert len(out) == HOLD_PACKETS
    assert timeline.origin is not None
    short = PacketTimeline(INFO, 12.0)
    assert feed(short, [0.0, 0.001], [0, FRAME]) == []
    assert [p.pts for p in short.flush()] == [0, FRAME]


def test_pts_going_backwards_after_a_loop_continue_the_timeline() -> None:
    timeline = PacketTimeline(INFO, 12.0)
    arrivals = [i / 12 for i in range(6)]
    packets = feed(timeline, arrivals, [0, FRAME, 2 * FRAME, 0, FRAME, 2 * FRAME])
    assert all(b.pts > a.pts and b.dts > a.dts for a, b in itertools.pairwise(packets))
    assert packets[3].pts == pytest.approx(3 * FRAME, abs=2)
