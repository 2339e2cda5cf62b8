"""Child process for the crash test: records a source video in real time until it is killed.

    python -m tests.record.crash_writer SOURCE.mp4 FOLDER

Writes the first `FAST` packets at once, then one packet every 1/fps seconds. Prints
`segment <path> <sha256>` when a segment is finished and `packet <n>` after each packet,
flushed, so the parent knows what is on disk when it sends SIGKILL.
"""

from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path

from app.record import Segment, SegmentWriter
from tests.record.media import packets

FAST = 48


def main(source: Path, folder: Path) -> None:
    def finished(segment: Segment) -> None:
        digest = hashlib.sha256(segment.path.read_bytes()).hexdigest()
        print(f"segment {segment.path} {digest}", flush=True)

    writer = SegmentWriter("porch", folder, finished, target_seconds=4.0)
    items = packets(source)
    for n, packet in enumerate(items):
        writer.write(packet)
        print(f"packet {n}", flush=True)
        if n >= FAST:
            time.sleep(1 / 12)  # paced like a 12 fps camera, so the kill lands mid-segment
    writer.close()
    print("done", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
