"""The boundary types refuse what the capture must not hand over; parameter sets read alike in any framing."""

from __future__ import annotations

from fractions import Fraction

import pytest

from app.record import Packet, StreamInfo, same_parameters
from app.record.nal import keyframe_extradata, parameter_sets
from tests.record.media import ORIGIN, Source, packets, stream_info

TB = Fraction(1, 90_000)
INFO = StreamInfo("h264", 1280, 720, TB, b"")


def test_packet_time_is_origin_plus_pts() -> None:
    packet = Packet(b"\x00", 180_000, 180_000, True, INFO, ORIGIN)
    assert packet.time == ORIGIN + 2.0
    assert packet.size == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"data": bytearray(b"x")}, "bytes"),
        ({"data": b""}, "non-empty"),
        ({"pts": 1.5}, "ints"),
        ({"dts": 10, "pts": 5}, "after pts"),
        ({"duration": -1}, "duration"),
        ({"origin": float("nan")}, "origin"),
    ],
)
def test_packet_refuses(kwargs: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {"data": b"x", "pts": 0, "dts": 0, "keyframe": True, "stream": INFO, "origin": ORIGIN}
    fields.update(kwargs)
    with pytest.raises(ValueError, match=message):
        Packet(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [{"codec": "mjpeg"}, {"width": 0}, {"height": 40000}, {"time_base": 0.001}, {"extradata": memoryview(b"")}],
)
def test_stream_info_refuses(kwargs: dict[str, object]) -> None:
    fields: dict[str, object] = {"codec": "h264", "width": 1280, "height": 720, "time_base": TB}
    fields.update(kwargs)
    (refused,) = kwargs
    with pytest.raises(ValueError, match=f"^{refused} must"):
        StreamInfo(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("which", ["source", "hevc_source"])
def test_parameter_sets_read_alike_from_a_record_from_annexb_and_from_a_keyframe(
    which: str, request: pytest.FixtureRequest
) -> None:
    src: Source = request.getfixturevalue(which)
    record = stream_info(src.path)
    assert record.extradata[0] == 1  # avcC / hvcC
    from_record = parameter_sets(record.codec, record.extradata)
    assert len(from_record) == (2 if record.codec == "h264" else 3)  # SPS+PPS, or VPS+SPS+PPS

    annexb = packets(src.path, annexb=True)
    assert parameter_sets(record.codec, annexb[0].stream.extradata) == from_record
    keyframe = packets(src.path, inband_only=True)[0]
    assert parameter_sets(record.codec, keyframe_extradata(record.codec, keyframe.data)) == from_record
    assert keyframe_extradata(record.codec, packets(src.path, inband_only=True)[1].data) == b""  # not a keyframe
    assert same_parameters(record, annexb[0].stream)


def test_parameter_sets_differ_between_streams(source: Source, small_source: Source) -> None:
    assert not same_parameters(stream_info(source.path), stream_info(small_source.path))
