"""Child process for the write-failure test: the kernel refuses writes for a while, then accepts them again.

    python -m tests.record.full_writer SOURCE.mp4 FOLDER FIRST

Packets before FIRST are written freely; from packet FIRST to 119 the file-size limit
(RLIMIT_FSIZE, SIGXFSZ ignored) is 16 KiB, so every segment file hits EFBIG, as a full
disk gives ENOSPC; from packet 120 on there is no limit again. Prints one line per event:
`segment <path> <frames>`, `error <packet> <errno>`, then `done`.
"""

from __future__ import annotations

import resource
import signal
import sys
from pathlib import Path

from app.record import RecordError, Segment, SegmentWriter
from tests.record.media import packets

LIFTED = 120
LIMIT = 16 * 1024


def main(source: Path, folder: Path, first: int) -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead of killing us
    _soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)

    def finished(segment: Segment) -> None:
        print(f"segment {segment.path} {segment.frames}", flush=True)

    writer = SegmentWriter("porch", folder, finished, target_seconds=4.0)
    for n, packet in enumerate(packets(source)):
        if n == first:
            resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, hard))
        if n == LIFTED:
            resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
        try:
            writer.write(packet)
        except RecordError as exc:
            print(f"error {n} {exc.errno}", flush=True)
    writer.close()
    print("done", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]))
