"""Timestamps for the recorder's packets: pts/dts made up where a camera gives none, and the origin.

Pure: no video library. `PacketTimeline` gets each demuxed packet's payload and the
demuxer's pts/dts (possibly None) with its arrival time, and returns `Packet`s ready for
the recorder, per connection.

pts/dts. The demuxer's values are kept when both are there (a missing dts is taken as
pts), dts increases and pts >= dts. Otherwise (the GStreamer test camera stamps nothing:
FFmpeg gives pts None or 0 for every packet) they are made up, pts = dts = the largest pts
so far plus the time since the previous packet's arrival, in the stream's time base (at
least one tick). A packet that arrives less than half a frame after the previous one is
part of a burst (a camera sending what it had buffered at connect): it is spaced one frame
(at the stream's declared rate) after the previous one instead, so a burst keeps its
frames' spacing rather than collapsing to one instant.

Origin (the wall clock of pts 0, fixed per connection). Each packet's arrival says
`origin <= arrival_wall - pts_seconds`, equality for a packet that came with no delay; a
burst's packets arrived late, by up to the depth of the camera's buffer. So the first
packets are held until the burst is over (a packet that arrives at least half a frame
after its predecessor), or `HOLD_SECONDS`/`HOLD_PACKETS`/`HOLD_BYTES` worth was held, and
the origin is the smallest `arrival_wall - pts_seconds` among them: the least delayed. The
held packets then go out with that origin, and every later packet of the connection too.
A reconnect starts a new timeline (new `StreamInfo` object, new origin).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from app.record.values import Packet, StreamInfo

HOLD_SECONDS = 10.0  # of stream time: a camera's connect burst is a GOP or two (~5 s seen)
HOLD_PACKETS = 300
HOLD_BYTES = 8 * 1024 * 1024
BURST_GAP_S = 0.02  # with no declared frame rate: packets closer than this are a burst


@dataclass(frozen=True, slots=True)
class _Held:
    data: bytes
    pts: int
    dts: int
    keyframe: bool
    duration: int


class PacketTimeline:
    """One connection's packets, stamped (see the module's docstring). Not thread-safe: the capture thread's."""

    def __init__(self, info: StreamInfo, fps: float) -> None:
        self.info = info
        self.origin: float | None = None  # set once the connect burst is over
        self.made_up = 0  # packets whose pts/dts were made up
        tb = info.time_base
        self._frame_ticks = round(1 / (Fraction(fps) * tb)) if fps > 0 else 0
        self._burst_gap = 0.5 * float(self._frame_ticks * tb) if self._frame_ticks else BURST_GAP_S
        self._last_dts: int | None = None
        self._max_pts: int | None = None
        self._last_arrival: float | None = None
        self._held: list[_Held] = []
        self._held_bytes = 0
        self._earliest = float("inf")  # min(arrival_wall - pts_seconds) over the held packets

    def add(
        self, data: bytes, *, pts: int | None, dts: int | None, keyframe: bool, duration: int, mono: float, wall: float
    ) -> list[Packet]:
        """The packets ready to go out (none while the origin is unsettled, then the held ones at once)."""
        gap = None if self._last_arrival is None else mono - self._last_arrival
        self._last_arrival = mono
        pts, dts = self._stamp(pts, dts, gap)
        item = _Held(data, pts, dts, keyframe, max(0, duration))
        if self.origin is not None:
            return [self._packet(item, self.origin)]
        self._held.append(item)
        self._held_bytes += len(data)
        self._earliest = min(self._earliest, wall - self.info.seconds(pts))
        paced = gap is not None and gap >= self._burst_gap
        span = self.info.seconds(pts - self._held[0].pts)
        if not (paced or span >= HOLD_SECONDS or len(self._held) >= HOLD_PACKETS or self._held_bytes >= HOLD_BYTES):
            return []
        return self.flush()

    def flush(self) -> list[Packet]:
        """Settle the origin now (the stream ended, or is being closed) and return the held packets."""
        if self.origin is None and self._held:
            self.origin = self._earliest
        held, self._held, self._held_bytes = self._held, [], 0
        return [self._packet(h, self.origin) for h in held if self.origin is not None]

    def _stamp(self, pts: int | None, dts: int | None, gap: float | None) -> tuple[int, int]:
        if pts is not None and dts is None:
            dts = pts
        if pts is not None and dts is not None and pts >= dts and (self._last_dts is None or dts > self._last_dts):
            good = (pts, dts)
        else:
            self.made_up += 1
            if self._max_pts is None or gap is None:
                step, base = 0, (0 if self._max_pts is None else self._max_pts)
            else:
                ticks = round(gap / self.info.time_base)
                step = self._frame_ticks if (self._frame_ticks and gap < self._burst_gap) else ticks
                base = self._max_pts
            made = base + max(1, step) if self._max_pts is not None else base
            good = (made, made)
        self._last_dts = good[1]
        self._max_pts = good[0] if self._max_pts is None else max(self._max_pts, good[0])
        return good

    def _packet(self, item: _Held, origin: float) -> Packet:
        return Packet(item.data, item.pts, item.dts, item.keyframe, self.info, origin, item.duration)
