"""PreCapture over real packets: both bounds hold after every push, and it drains from a keyframe."""

from __future__ import annotations

from app.record import Packet, PreCapture
from app.record.ring import PACKET_OVERHEAD
from tests.record.media import ORIGIN, Source, packets


def held_bytes(items: list[Packet]) -> int:
    return sum(p.size + PACKET_OVERHEAD for p in items)


def test_time_bound_reaches_back_the_pre_capture_and_at_most_one_gop_more(source: Source) -> None:
    ring = PreCapture(seconds=5.0, max_bytes=1 << 30)
    gop_s = source.gop / source.fps
    items = packets(source.path)
    for packet in items:
        ring.push(packet)
        fed = packet.time - ORIGIN
        assert ring.span <= 5.0 + gop_s  # never more than pre-capture plus one GOP
        if fed >= 5.0:
            assert ring.span >= 5.0 - 1e-9  # always the whole pre-capture once fed that long
    held = ring.drain()
    assert held[0].keyframe
    assert held[0].time == ORIGIN + 14.0  # the keyframe at or before 19.917 - 5 s
    assert [p.pts for p in held] == [p.pts for p in items[168:]]  # contiguous, in order, nothing missing
    assert len(ring) == 0
    assert ring.size == 0
    assert ring.span == 0.0
    assert ring.dropped == 168


def test_byte_bound_holds_after_every_push_and_drops_oldest_gops(source: Source) -> None:
    items = packets(source.path)
    gop_bytes = max(held_bytes(items[i : i + source.gop]) for i in range(0, len(items), source.gop))
    limit = int(2.5 * gop_bytes)
    ring = PreCapture(seconds=60.0, max_bytes=limit)
    for packet in items:
        ring.push(packet)
        assert ring.size <= limit
        assert ring.size == held_bytes(_peek(ring))
    held = ring.drain()
    assert held[0].keyframe
    assert 2 * source.gop <= len(held) <= 3 * source.gop  # the newest two GOPs and what fits of a third
    assert held[-1] is items[-1]


def test_a_gop_over_the_byte_bound_is_dropped_and_the_ring_waits_for_a_keyframe(source: Source) -> None:
    items = packets(source.path)
    limit = held_bytes(items[12:14])  # room for GOP 1's keyframe and the packet after it
    assert held_bytes(items[:12]) > limit  # but not for GOP 0
    ring = PreCapture(seconds=5.0, max_bytes=limit)
    for packet in items[:14]:
        ring.push(packet)
        assert ring.size <= ring.max_bytes
        held = _peek(ring)
        assert not held or held[0].keyframe
    # GOP 0 overflowed: dropped, and its later packets too (nothing to decode them from);
    # GOP 1's keyframe (packet 12) and packet 13 are held.
    assert [p.pts for p in ring.drain()] == [items[12].pts, items[13].pts]
    assert ring.dropped == 12


def test_packets_before_the_first_keyframe_are_dropped(source: Source) -> None:
    items = packets(source.path)
    ring = PreCapture(seconds=5.0, max_bytes=1 << 30)
    for packet in items[5:14]:
        ring.push(packet)
    assert [p.pts for p in ring.drain()] == [items[12].pts, items[13].pts]
    assert ring.dropped == 7


def test_a_clock_step_back_empties_the_ring(source: Source) -> None:
    ring = PreCapture(seconds=5.0, max_bytes=1 << 30)
    for packet in packets(source.path)[:40]:
        ring.push(packet)
    again = packets(source.path, origin=ORIGIN - 100.0)[:3]  # a reconnect whose clock reads earlier
    for packet in again:
        ring.push(packet)
    assert ring.drain() == again
    assert ring.dropped == 40


def _peek(ring: PreCapture) -> list[Packet]:
    """What the ring holds, without draining it (drain, then push it all back)."""
    held = ring.drain()
    dropped = ring.dropped
    for packet in held:
        ring.push(packet)
    assert ring.dropped == dropped
    return held
