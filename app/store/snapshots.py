"""Best snapshots on disk: one JPEG per event, box and label drawn, replaced atomically.

A snapshot is written the way `app.files` writes every private file (a 0600 temporary
file in the same folder, fsynced, renamed over the event's file, the folder fsynced),
so a reader (or a crash, or a power cut) sees the old JPEG or the new one, never a mix.
File names come from the event id, made safe for a path: nothing a caller passes
can leave the snapshot folder.

`SnapshotDir.lock` serializes "a file appears or disappears" with "its row in the
database changes" (`Store.save_snapshot` and retention both hold it), so neither
can see a file without its row or a row without its file while the other works.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from app.domain import Box
from app.files import TMP_PREFIX, commit, fsync_dir, make_private_dir, write_temp

__all__ = [  # make_private_dir too: app.api.clips has always found it here
    "BOX_BGR",
    "JPEG_QUALITY",
    "MAX_LABEL_CHARS",
    "SUFFIX",
    "TEXT_BGR",
    "SnapshotDir",
    "line_thickness",
    "make_private_dir",
    "render_boxes",
    "render_snapshot",
    "snapshot_name",
]

log = logging.getLogger(__name__)

JPEG_QUALITY = 85
BOX_BGR = (0, 0, 255)  # red, the colour the dashboard's live view uses too
TEXT_BGR = (255, 255, 255)
SUFFIX = ".jpg"
MAX_LABEL_CHARS = 40

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def snapshot_name(event_id: str) -> str:
    """The file name of an event's snapshot: the id when it is path-safe, else a safe form plus a hash."""
    safe = _UNSAFE.sub("_", event_id)[:96]
    if safe != event_id or not safe:
        digest = hashlib.sha256(event_id.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        safe = f"{safe}-{digest}"
    return safe + SUFFIX


def line_thickness(width: int, height: int) -> int:
    return max(3, round(max(width, height) / 320))


def render_snapshot(image_bgr: npt.NDArray[np.uint8], box: Box, label: str, score: float) -> bytes:
    """The frame as JPEG with the box (pixels of this image) and "label 87%" drawn; `image_bgr` is not modified.

    Raises ValueError for an image that is not 8-bit BGR (or grey) or that OpenCV cannot encode:
    that is a caller's bug, not a storage failure.
    """
    return render_boxes(image_bgr, [(box, label, score)])


def render_boxes(
    image_bgr: npt.NDArray[np.uint8], boxes: Sequence[tuple[Box, str, float]], quality: int | None = None
) -> bytes:
    """The frame as JPEG with each (box, label, score) drawn; `image_bgr` is not modified."""
    array = np.asarray(image_bgr)
    if array.dtype != np.uint8 or array.size == 0:
        raise ValueError(f"snapshot image must be a non-empty uint8 array, not {array.dtype} of shape {array.shape}")
    if array.ndim == 2:
        canvas = np.asarray(cv2.cvtColor(array, cv2.COLOR_GRAY2BGR), dtype=np.uint8)
    elif array.ndim == 3 and array.shape[2] == 3:
        canvas = np.array(array, dtype=np.uint8, copy=True, order="C")
    else:
        raise ValueError(f"snapshot image must be HxWx3 BGR or HxW grey, not shape {array.shape}")
    for box, label, score in boxes:
        _draw(canvas, box, label, score)
    ok, encoded = cv2.imencode(SUFFIX, canvas, [cv2.IMWRITE_JPEG_QUALITY, quality or JPEG_QUALITY])
    if not ok:
        raise ValueError("OpenCV could not encode the snapshot as JPEG")
    return bytes(encoded.tobytes())


def _draw(canvas: npt.NDArray[np.uint8], box: Box, label: str, score: float) -> None:
    height, width = canvas.shape[:2]
    clipped = box.clip(width - 1, height - 1)
    x1, y1, x2, y2 = (round(v) for v in (clipped.x1, clipped.y1, clipped.x2, clipped.y2))
    thick = line_thickness(width, height)
    cv2.rectangle(canvas, (x1, y1), (x2, y2), BOX_BGR, thick, cv2.LINE_8)

    text = f"{_printable(label)} {score:.0%}"
    font = cv2.FONT_HERSHEY_SIMPLEX
    scale = max(0.5, thick / 5)
    (tw, th), base = cv2.getTextSize(text, font, scale, 1)
    top = y1 - th - base - thick if y1 - th - base - thick >= 0 else min(y1 + thick, max(0, height - th - base))
    left = min(max(0, x1), max(0, width - tw - 4))
    cv2.rectangle(canvas, (left, top), (left + tw + 4, top + th + base), BOX_BGR, cv2.FILLED)
    cv2.putText(canvas, text, (left + 2, top + th), font, scale, TEXT_BGR, 1, cv2.LINE_AA)


def _printable(label: str) -> str:
    # OpenCV's Hershey fonts draw ASCII only; anything else would come out as '?' boxes anyway.
    return "".join(ch if " " <= ch <= "~" else "?" for ch in label[:MAX_LABEL_CHARS])


class SnapshotDir:
    """The snapshot folder (mode 0700) and its file operations."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        make_private_dir(path)

    def file(self, name: str) -> Path:
        return self.path / name

    def write_tmp(self, name: str, data: bytes) -> Path:
        """Writes `data` to a new private temporary file next to `name` and fsyncs it."""
        return write_temp(self.path, name, data)

    def publish(self, tmp: Path, name: str) -> Path:
        """Atomically puts `tmp` in place as `name` (replacing the previous snapshot). The folder's fsync is
        left to `sync`, after the caller's lock: this runs inside the database's write transaction."""
        return commit(tmp, self.file(name), sync_folder=False)

    def sync(self) -> None:
        """Makes the renames so far survive a power cut."""
        fsync_dir(self.path)

    def remove(self, name: str) -> int:
        """Deletes a snapshot; returns the bytes freed (0 if it was already gone)."""
        path = self.file(name)
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            return 0
        return size

    def listing(self) -> dict[str, int]:
        """Snapshot files (name -> size); temporary files are not listed."""
        found: dict[str, int] = {}
        with os.scandir(self.path) as entries:
            for entry in entries:
                if entry.name.endswith(SUFFIX) and not entry.name.startswith("."):
                    with contextlib.suppress(FileNotFoundError):
                        found[entry.name] = entry.stat(follow_symlinks=False).st_size
        return found

    def remove_stale_tmp(self, older_than_s: float) -> int:
        """Deletes temporary files left by a crash (or older than `older_than_s`); returns bytes freed."""
        freed = 0
        cutoff = time.time() - older_than_s
        with os.scandir(self.path) as entries:
            for entry in entries:
                if not entry.name.startswith(TMP_PREFIX):
                    continue
                with contextlib.suppress(FileNotFoundError):
                    st = entry.stat(follow_symlinks=False)
                    if st.st_mtime <= cutoff:
                        os.unlink(entry.path)
                        freed += st.st_size
        return freed
