"""A real H.264 clip far larger than any camera should send: 16000x8000 in ~377 KB.

One flat grey frame encoded by libx264 (PyAV, ultrafast, one thread), as MP4 and as raw
Annex-B. x264 needs ~0.8 GB for a frame this size, so `make_huge_clip` encodes in a
subprocess (~2 s here) and the test process never holds it.

    python -m tests.support.hugeclip OUT.mp4 OUT.h264 [WIDTH HEIGHT]
"""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WIDTH, HEIGHT = 16000, 8000


def make_huge_clip(folder: Path, width: int = WIDTH, height: int = HEIGHT) -> tuple[Path, Path]:
    """(MP4, Annex-B) paths of the clip, made in `folder`."""
    mp4, annexb = folder / f"huge-{width}x{height}.mp4", folder / f"huge-{width}x{height}.h264"
    command = [sys.executable, "-m", "tests.support.hugeclip", str(mp4), str(annexb), str(width), str(height)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert mp4.is_file(), done.stderr[-2000:]
    assert annexb.is_file(), done.stderr[-2000:]
    return mp4, annexb


def _encode(mp4: Path, width: int, height: int) -> None:
    import av
    import numpy as np

    with av.open(str(mp4), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=1)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.options = {
            "preset": "ultrafast",
            "x264-params": "threads=1:keyint=1:rc-lookahead=0:sync-lookahead=0:ref=1:bframes=0",
        }
        frame = av.VideoFrame(width, height, "yuv420p")  # planes filled in place: no BGR copy
        for plane in frame.planes:
            np.frombuffer(memoryview(plane), dtype=np.uint8)[:] = 128
        frame.pts, frame.time_base = 0, Fraction(1, 1)
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def main(argv: list[str]) -> int:
    from app.demo.video import mp4_to_annexb

    mp4, annexb = Path(argv[0]), Path(argv[1])
    width, height = (int(argv[2]), int(argv[3])) if len(argv) >= 4 else (WIDTH, HEIGHT)
    _encode(mp4, width, height)
    mp4_to_annexb(mp4, annexb)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
