"""H.264/H.265 parameter sets, read from extradata or from a keyframe. Pure bytes, no codec library.

A stream's decoder configuration comes in two framings: an ISO/IEC 14496-15 record
(`avcC` for H.264, `hvcC` for H.265: what an MP4 demuxer gives, the first byte is the
version, 1) or Annex-B NAL units behind start codes (`00 00 01` / `00 00 00 01`: what an
RTSP demuxer gives from the SDP's sprop-parameter-sets, and what a camera repeats in
front of its keyframes). `parameter_sets` reads either, so two streams' configurations
can be compared whatever their framing; `keyframe_extradata` builds Annex-B extradata
from a keyframe that carries its parameter sets in-band.
"""

from __future__ import annotations

import re

from app.record.values import Codec

# NAL unit types of the parameter sets: H.264 SPS 7, PPS 8; H.265 VPS 32, SPS 33, PPS 34.
_PARAMETER_SETS: dict[str, frozenset[int]] = {"h264": frozenset({7, 8}), "hevc": frozenset({32, 33, 34})}
_START = re.compile(b"\x00\x00\x01")
START_CODE = b"\x00\x00\x00\x01"


def nal_type(codec: Codec, nal: bytes) -> int:
    """The NAL unit type from its header byte."""
    if not nal:
        return -1
    return nal[0] & 0x1F if codec == "h264" else (nal[0] >> 1) & 0x3F


def is_annexb(data: bytes) -> bool:
    return data.startswith(b"\x00\x00\x01") or data.startswith(START_CODE)


def split_annexb(data: bytes) -> list[bytes]:
    """The NAL units of an Annex-B byte string (start codes and trailing zero bytes removed)."""
    starts = [m.end() for m in _START.finditer(data)]
    nals: list[bytes] = []
    for i, begin in enumerate(starts):
        end = starts[i + 1] - 3 if i + 1 < len(starts) else len(data)
        nal = data[begin:end].rstrip(b"\x00")
        if nal:
            nals.append(nal)
    return nals


def _read_sized(data: bytes, pos: int) -> tuple[bytes, int]:
    size = int.from_bytes(data[pos : pos + 2], "big")
    nal = data[pos + 2 : pos + 2 + size]
    if len(nal) != size:
        raise ValueError("truncated parameter set in the configuration record")
    return nal, pos + 2 + size


def _avcc(record: bytes) -> list[bytes]:
    nals: list[bytes] = []
    count, pos = record[5] & 0x1F, 6
    for _ in range(count):
        nal, pos = _read_sized(record, pos)
        nals.append(nal)
    count, pos = record[pos], pos + 1
    for _ in range(count):
        nal, pos = _read_sized(record, pos)
        nals.append(nal)
    return nals


def _hvcc(record: bytes) -> list[bytes]:
    nals: list[bytes] = []
    arrays, pos = record[22], 23
    for _ in range(arrays):
        count, pos = int.from_bytes(record[pos + 1 : pos + 3], "big"), pos + 3
        for _ in range(count):
            nal, pos = _read_sized(record, pos)
            nals.append(nal)
    return nals


def parameter_sets(codec: Codec, extradata: bytes) -> tuple[bytes, ...]:
    """The VPS/SPS/PPS NAL units in `extradata` (either framing), in order; () when there are none.

    Raises ValueError for a configuration record that is cut short.
    """
    if not extradata:
        return ()
    if is_annexb(extradata):
        nals = split_annexb(extradata)
    else:
        try:
            nals = _avcc(extradata) if codec == "h264" else _hvcc(extradata)
        except IndexError as exc:
            raise ValueError(f"truncated {codec} configuration record") from exc
    wanted = _PARAMETER_SETS[codec]
    return tuple(nal for nal in nals if nal_type(codec, nal) in wanted)


def keyframe_extradata(codec: Codec, data: bytes) -> bytes:
    """Annex-B extradata (the parameter sets) from an Annex-B keyframe that carries them; b"" if it does not."""
    if not is_annexb(data):
        return b""
    found = parameter_sets(codec, data)
    types = {nal_type(codec, nal) for nal in found}
    if not _PARAMETER_SETS[codec] <= types:
        return b""
    return b"".join(START_CODE + nal for nal in found)
