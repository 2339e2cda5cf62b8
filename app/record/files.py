"""Where segment files live and how they are created: names from their start time, 0600 files, 0700 folders.

    <folder>/<YYYY-MM-DD>/<HH>/<start_ms>.mp4          a finished segment (UTC date and hour)
    <folder>/<YYYY-MM-DD>/<HH>/<start_ms>.mp4.part     the segment being written

`start_ms` is the wall clock of the segment's first frame in epoch milliseconds, so a
segment can be placed in time from its name alone (recovery after a crash does). A second
segment starting in the same millisecond (a clock step) gets `-1`, `-2`, ... after it.
Date and hour folders keep each folder small and let retention drop an hour at once.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from pathlib import Path

SUFFIX = ".mp4"
PART = ".part"
DIR_MODE = 0o700
FILE_MODE = 0o600
_NAME = re.compile(r"^(\d{1,15})(?:-\d{1,4})?\.mp4$")
_MAX_TWINS = 1000


def hour_folder(folder: Path, start: float) -> Path:
    return folder / time.strftime("%Y-%m-%d/%H", time.gmtime(start))


def start_of(path: Path) -> float | None:
    """The start (epoch seconds) a segment's name says, for `X.mp4` or `X.mp4.part`; None if not ours."""
    name = path.name.removesuffix(PART)
    match = _NAME.match(name)
    return int(match.group(1)) / 1000 if match else None


def final_path(part: Path) -> Path:
    return part.with_name(part.name.removesuffix(PART))


def make_dirs(path: Path, root: Path) -> None:
    """Create `path` and every missing folder between it and `root` with mode 0700."""
    missing: list[Path] = []
    current = path
    while current != root and not current.is_dir():
        missing.append(current)
        current = current.parent
    if not root.is_dir():
        root.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue
        fsync_path(folder.parent)  # the new folder's entry survives a power cut, like the files in it


def create_part(folder: Path, start: float) -> Path:
    """Create an empty, exclusive, 0600 `.part` file for a segment starting at `start`; OSError on failure."""
    hour = hour_folder(folder, start)
    make_dirs(hour, folder)
    stem = str(round(start * 1000))
    for twin in range(_MAX_TWINS):
        name = f"{stem}{SUFFIX}{PART}" if twin == 0 else f"{stem}-{twin}{SUFFIX}{PART}"
        path = hour / name
        if (hour / name.removesuffix(PART)).exists():
            continue
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
        except FileExistsError:
            continue
        os.close(fd)
        return path
    raise FileExistsError(f"{_MAX_TWINS} segments already start at {stem} ms in {hour}")


def fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(part: Path, *, durable: bool = True) -> Path:
    """Rename a finished `.part` to its final name (after fsync of the file, then of its folder)."""
    final = final_path(part)
    if durable:
        fsync_path(part)
    os.replace(part, final)
    if durable:
        fsync_path(final.parent)
    return final


def remove_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
