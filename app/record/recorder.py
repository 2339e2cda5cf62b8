"""`CameraRecorder`: one camera's pre-capture ring and segment writer, switched by the footage wanted.

`mode="continuous"` writes every packet. `mode="events"` keeps packets in the
`PreCapture` ring until footage is wanted (`want_until(t)`: an event is active; `t` is
its latest sighting plus post-capture): the ring (the GOPs reaching back `pre_capture`)
is written first, then every packet while wanted. Once the wall clock of the packets
passes `t`, recording stops at the next keyframe (so the last GOP is whole) and the
ring fills again from that keyframe on, so a second event soon after continues the
footage without a gap or a repeated frame. A disk that stays idle between events is also
what keeps an SD card alive.

`push` runs on the camera's thread; `want_until` may be called from any thread (it only
raises a float that `push` reads).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from app.record.ring import PreCapture
from app.record.segments import TARGET_SECONDS, SegmentSink, SegmentWriter
from app.record.values import Packet, Segment

Mode = Literal["events", "continuous"]
RING_BYTES = 8 * 1024 * 1024  # 5 s of a 12 Mbit/s stream; a 720p camera sends 2-6 Mbit/s


class CameraRecorder:
    """Routes one camera's packets to its ring or its writer (see the module's docstring)."""

    def __init__(
        self,
        camera: str,
        folder: Path,
        on_segment: SegmentSink,
        *,
        mode: Mode = "events",
        pre_capture: float = 5.0,
        ring_bytes: int = RING_BYTES,
        segment_seconds: float = TARGET_SECONDS,
        durable: bool = True,
    ) -> None:
        if mode not in ("events", "continuous"):
            raise ValueError(f"mode must be events or continuous, not {mode!r}")
        self.camera = camera
        self.mode: Mode = mode
        self.ring = PreCapture(pre_capture, ring_bytes)
        self.writer = SegmentWriter(camera, folder, on_segment, target_seconds=segment_seconds, durable=durable)
        self._until = float("-inf")
        self._writing = False

    @property
    def recording(self) -> bool:
        """Whether packets are going to disk now."""
        return self.mode == "continuous" or self._writing

    def want_until(self, until: float) -> None:
        """Footage is wanted up to wall clock `until` (epoch seconds); never lowers an earlier wish."""
        self._until = max(self._until, until)

    def push(self, packet: Packet) -> None:
        """One packet from the camera. Raises RecordError when writing fails (see `SegmentWriter.write`)."""
        if self.mode == "continuous":
            self.writer.write(packet)
            return
        wanted = packet.time <= self._until
        if self._writing:
            if not wanted and packet.keyframe:
                self._writing = False
                self.writer.close()
                self.ring.push(packet)
            else:
                self.writer.write(packet)
            return
        self.ring.push(packet)
        if wanted:
            self._writing = True
            for held in self.ring.drain():
                self.writer.write(held)

    def close(self) -> Segment | None:
        """Finish the segment being written, if any."""
        self._writing = False
        return self.writer.close()
