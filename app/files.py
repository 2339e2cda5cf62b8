"""Private files on disk, written the one way: folders 0700, files 0600, replaced atomically.

The store (database, lock, snapshots, footage folders) and the credentials file share these, so a
crash or a power cut leaves every one of them whole, old or new, and never readable by other users.

An atomic write is: a temporary file in the same folder (created exclusively, fchmod 0600 whatever
the umask, optionally chowned), its data fsynced, renamed over the target, then the folder fsynced
so the rename itself survives a power cut. Temporary files start with `TMP_PREFIX`: a crash's
leftovers are recognisable (`app.store.snapshots.SnapshotDir.remove_stale_tmp`).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
from pathlib import Path

log = logging.getLogger(__name__)

TMP_PREFIX = ".tmp-"
FILE_MODE = 0o600
DIR_MODE = 0o700

Owner = tuple[int, int]  # (uid, gid) a file must belong to


def make_private_dir(path: Path, *, tighten: bool = True) -> None:
    """Creates `path` (and parents) mode 0700. An existing folder is made 0700 too when `tighten`
    (the store's own folders); without it, it keeps its mode (e.g. one systemd's StateDirectory= made)."""
    try:
        path.mkdir(mode=DIR_MODE, parents=True)
    except FileExistsError:
        if not tighten or path.stat().st_mode & 0o777 == DIR_MODE:
            return
    else:
        if path.stat().st_mode & 0o777 == DIR_MODE:  # mkdir's mode went through the umask
            return
    try:
        os.chmod(path, DIR_MODE)
    except PermissionError:  # someone else's folder (e.g. made by the installer): usable, but say so
        log.warning("storage: cannot make %s private (mode 0700): not its owner", path)


def private_file(path: Path) -> None:
    """Creates `path` empty if missing, and makes it 0600 (SQLite creates its files with the umask's mode)."""
    os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE))
    if path.stat().st_mode & 0o777 != FILE_MODE:
        os.chmod(path, FILE_MODE)


def open_lock(path: Path, *, owner: Owner | None = None) -> int:
    """A descriptor of the 0600 lock file `path` (created if missing) for `fcntl.flock`; the caller closes it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
    try:
        if owner is not None:
            os.fchown(fd, *owner)
    except BaseException:
        os.close(fd)
        raise
    return fd


def lock_exclusive(path: Path, *, wait: bool, owner: Owner | None = None) -> int:
    """An exclusive flock on `path`, held until the returned descriptor is closed. Without `wait`,
    BlockingIOError when another process holds it."""
    fd = open_lock(path, owner=owner)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_temp(folder: Path, name: str, data: bytes, *, owner: Owner | None = None) -> Path:
    """`data` in a new 0600 temporary file in `folder` (for `name`), fsynced; `commit` puts it in place."""
    tmp = folder / f"{TMP_PREFIX}{secrets.token_hex(6)}-{name}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)  # the umask could have taken bits away; never adds any
        if owner is not None:
            os.fchown(fd, *owner)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    os.close(fd)
    return tmp


def commit(tmp: Path, path: Path, *, sync_folder: bool = True) -> Path:
    """Renames the temporary file `tmp` over `path` and fsyncs the folder: the rename survives a power cut.
    `tmp` is removed if the rename fails. `sync_folder=False` leaves the folder's fsync to the caller, for
    a rename made under a lock that others wait for (call `fsync_dir` after releasing it)."""
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    if sync_folder:
        fsync_dir(path.parent)
    return path


def atomic_write(path: Path, data: bytes, *, owner: Owner | None = None) -> None:
    """Replaces `path` with `data` atomically and durably (see the module docstring)."""
    commit(write_temp(path.parent, path.name, data, owner=owner), path)


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
