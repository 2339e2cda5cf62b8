"""What every synthesized clip shares: image types, alpha pasting, easing and sensor noise.

Pure numpy and OpenCV; the photos are in `app.demo.photos`, the encoders in `app.demo.video`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

BoxPx = tuple[int, int, int, int]  # x1, y1, x2, y2 in pixels; x2 and y2 exclusive
Image = npt.NDArray[np.uint8]  # H x W x 3, BGR
FloatImage = npt.NDArray[np.float32]

ALPHA_VISIBLE = 0.5  # a pixel belongs to a cut-out (its box, its visible part) when its matte is at least this
NOISE_SIGMA = 4.0  # sensor noise per pixel and channel, in 8-bit levels
NOISE_BANKS = 2  # Gaussian fields the per-frame noise windows are taken from
NOISE_SLACK = 64  # the fields are this much larger than the frame each way


class ClipError(Exception):
    """The clip cannot be made (bad arguments, no H.264 encoder, unwritable path)."""


def paste(frame: FloatImage, sprite: FloatImage, alpha: FloatImage, x0: int, y0: int) -> BoxPx | None:
    """Alpha-blend the sprite at (x0, y0) in place; return the box of its visible pixels."""
    height, width = frame.shape[:2]
    ph, pw = alpha.shape[:2]
    fx1, fy1 = max(0, x0), max(0, y0)
    fx2, fy2 = min(width, x0 + pw), min(height, y0 + ph)
    if fx1 >= fx2 or fy1 >= fy2:
        return None
    sx1, sy1 = fx1 - x0, fy1 - y0
    sx2, sy2 = sx1 + (fx2 - fx1), sy1 + (fy2 - fy1)
    a = alpha[sy1:sy2, sx1:sx2]
    roi = frame[fy1:fy2, fx1:fx2]
    roi *= 1.0 - a
    roi += sprite[sy1:sy2, sx1:sx2] * a
    visible = a[..., 0] >= ALPHA_VISIBLE
    cols = np.flatnonzero(visible.any(axis=0))
    rows = np.flatnonzero(visible.any(axis=1))
    if cols.size == 0 or rows.size == 0:
        return None
    return (fx1 + int(cols[0]), fy1 + int(rows[0]), fx1 + int(cols[-1]) + 1, fy1 + int(rows[-1]) + 1)


def smoothstep(x: float) -> float:
    x = min(1.0, max(0.0, x))
    return x * x * (3.0 - 2.0 * x)


def ease_out(x: float) -> float:
    """0..1 to 0..1 (clamped), fastest at 0 and slowing smoothly to a stop at 1 (a smoothstep's second half)."""
    return 2.0 * smoothstep(0.5 + 0.5 * min(1.0, max(0.0, x))) - 1.0


class SensorNoise:
    """Gaussian sensor noise (σ = NOISE_SIGMA), a fresh-looking field every frame.

    Each frame takes a random window of one of a few larger Gaussian fields: i.i.d. per
    pixel and independent between frames (unless a window repeats), and 20x faster than
    drawing a fresh field each frame. The fields are drawn from `rng` when made, and each
    frame's window too: the frames depend only on the seed.
    """

    def __init__(self, rng: np.random.Generator, size: tuple[int, int]) -> None:
        width, height = size
        self._size = size
        self._banks = [
            rng.standard_normal((height + NOISE_SLACK, width + NOISE_SLACK, 3), dtype=np.float32)
            * np.float32(NOISE_SIGMA)
            for _ in range(NOISE_BANKS)
        ]

    def add(self, frame: FloatImage, rng: np.random.Generator) -> None:
        """Add the next frame's noise to `frame` in place."""
        width, height = self._size
        bank = self._banks[int(rng.integers(len(self._banks)))]
        dy, dx = (int(v) for v in rng.integers(0, NOISE_SLACK + 1, 2))
        frame += bank[dy : dy + height, dx : dx + width]


def beside(path: Path, truth: Path) -> str:
    """How a truth file names a file that goes with it: relative to its folder when inside it."""
    try:
        return str(path.resolve().relative_to(truth.parent.resolve()))
    except ValueError:
        return str(path.resolve())


def write_truth(path: Path, data: dict[str, Any]) -> None:
    """Write a clip's ground truth as compact JSON, atomically (a reader never sees half of it)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, separators=(",", ":")) + "\n")
    tmp.replace(path)


def frame_size(text: str) -> tuple[int, int]:
    """`--size WIDTHxHEIGHT` for the clip and scene command lines."""
    try:
        w, h = text.lower().split("x")
        return int(w), int(h)
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be WIDTHxHEIGHT, e.g. 1280x720 (got {text!r})") from None
