"""`PreCapture`: the last few seconds of one camera's packets in memory, so a clip starts before its event.

The ring holds whole GOPs (a keyframe and the packets after it), oldest first, and is
bounded twice:

- time: the oldest GOP is dropped as soon as the next GOP's keyframe is itself at least
  `seconds` old, so the ring always reaches back `seconds` (when it has been fed that
  long) and never more than `seconds` plus one GOP;
- memory: while the packets' bytes (payload plus `PACKET_OVERHEAD` each) exceed
  `max_bytes`, the oldest GOP is dropped; if the GOP being received alone exceeds it
  (a burst, or a camera with a very long GOP), it is dropped too and the ring waits for
  the next keyframe.

So what `drain` returns always starts at a keyframe. A packet that arrives with no GOP
to join (before the first keyframe, or after a drop) is dropped and counted, and so is
everything older when the wall clock steps back (a keyframe earlier than the previous
one: a reconnect with a new origin). Not thread-safe: the camera's thread feeds it.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field

from app.record.values import Packet

log = logging.getLogger(__name__)

# Memory a held packet costs beyond its payload: the Packet object and its bytes' header,
# measured with sys.getsizeof on CPython 3.11 (~72 + ~33), rounded up.
PACKET_OVERHEAD = 128


@dataclass(slots=True)
class _Gop:
    packets: list[Packet] = field(default_factory=list)
    size: int = 0

    @property
    def start(self) -> float:
        return self.packets[0].time


class PreCapture:
    """A bounded ring of whole GOPs covering the last `seconds` (see the module's docstring)."""

    def __init__(self, seconds: float, max_bytes: int) -> None:
        if seconds < 0:
            raise ValueError("seconds must be >= 0")
        if max_bytes <= 0:
            raise ValueError("max_bytes must be > 0")
        self.seconds = seconds
        self.max_bytes = max_bytes
        self.dropped = 0  # packets dropped for the bounds, for want of a keyframe, or for a clock step
        self._gops: deque[_Gop] = deque()
        self._size = 0
        self._count = 0

    @property
    def size(self) -> int:
        """Bytes held (payload plus per-packet overhead); never more than `max_bytes`."""
        return self._size

    def __len__(self) -> int:
        return self._count

    @property
    def span(self) -> float:
        """Seconds from the oldest held keyframe to the newest packet (0 when empty)."""
        if not self._gops:
            return 0.0
        return self._gops[-1].packets[-1].time - self._gops[0].start

    def push(self, packet: Packet) -> None:
        cost = packet.size + PACKET_OVERHEAD
        if packet.keyframe:
            if self._gops and packet.time < self._gops[-1].start:
                self.clear(dropped=True)
            self._gops.append(_Gop())
        elif not self._gops:
            self.dropped += 1
            return
        gop = self._gops[-1]
        gop.packets.append(packet)
        gop.size += cost
        self._size += cost
        self._count += 1
        self._bound(packet.time)

    def drain(self) -> list[Packet]:
        """Everything held, oldest first (starting at a keyframe, or empty); the ring is left empty."""
        packets = [packet for gop in self._gops for packet in gop.packets]
        self.clear()
        return packets

    def clear(self, *, dropped: bool = False) -> None:
        if dropped:
            self.dropped += self._count
        self._gops.clear()
        self._size = 0
        self._count = 0

    def _bound(self, now: float) -> None:
        while len(self._gops) > 1 and self._gops[1].start <= now - self.seconds:
            self._drop_oldest()
        while self._size > self.max_bytes and self._gops:
            if len(self._gops) == 1:
                log.debug("pre-capture: a GOP over %d bytes, dropped until the next keyframe", self.max_bytes)
            self._drop_oldest()

    def _drop_oldest(self) -> None:
        gop = self._gops.popleft()
        self._size -= gop.size
        self._count -= len(gop.packets)
        self.dropped += len(gop.packets)
