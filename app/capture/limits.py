"""How large a frame edgewatch accepts from a camera or a video file.

A 377 KB H.264 file that declares 16000x8000 made `replay` take 1.8 GB, and a camera could
send the same. DCI 4K is the bound: a 4K BGR frame is 27 MB, and detection works on crops
of ~320 px, so more pixels only cost memory (a camera's sub-stream suits detection best).
"""

from __future__ import annotations

# A pixel count, so that a portrait camera (2160x3840) passes too; and no side above 4096.
MAX_FRAME_PIXELS = 4096 * 2160
MAX_FRAME_SIDE = 4096


def size_problem(width: int, height: int) -> str | None:
    """Why frames of this size are refused, or None."""
    if width * height <= MAX_FRAME_PIXELS and max(width, height) <= MAX_FRAME_SIDE:
        return None
    return (
        f"{width}x{height} frames are larger than edgewatch accepts ({MAX_FRAME_PIXELS:,} pixels, "
        f"e.g. 4096x2160, and {MAX_FRAME_SIDE} on a side at most); use a smaller stream or re-encode "
        "the video smaller (a camera's sub-stream suits detection best)"
    )
