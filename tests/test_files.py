"""app.files: the one way private files are written (the store and the credentials file share it)."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from app.files import (
    TMP_PREFIX,
    atomic_write,
    commit,
    lock_exclusive,
    make_private_dir,
    private_file,
    write_temp,
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What was fsynced, in order: 'file' or 'dir'."""
    seen: list[str] = []
    real: Callable[[int], None] = os.fsync

    def spy(fd: int) -> None:
        seen.append("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real(fd)

    monkeypatch.setattr(os, "fsync", spy)
    return seen


def test_atomic_write_is_private_durable_and_leaves_nothing_behind(tmp_path: Path, fsyncs: list[str]) -> None:
    target = tmp_path / "secret.json"
    old_umask = os.umask(0)  # the mode must come from how the file is made, not from the caller's umask
    try:
        atomic_write(target, b"one")
        atomic_write(target, b"two")
    finally:
        os.umask(old_umask)
    assert target.read_bytes() == b"two"
    assert mode(target) == 0o600
    assert fsyncs == ["file", "dir", "file", "dir"]  # the data, then the rename
    assert [p.name for p in tmp_path.iterdir()] == ["secret.json"]


def test_a_restrictive_umask_still_gives_0600(tmp_path: Path) -> None:
    old_umask = os.umask(0o277)
    try:
        atomic_write(tmp_path / "f", b"x")
    finally:
        os.umask(old_umask)
    assert mode(tmp_path / "f") == 0o600


def test_a_failed_rename_keeps_the_old_file_and_removes_the_temporary(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_bytes(b"old")
    tmp = write_temp(tmp_path, "f", b"new")
    assert tmp.name.startswith(TMP_PREFIX)
    assert tmp.read_bytes() == b"new"
    with pytest.raises(OSError, match="missing-folder/f") as caught:
        commit(tmp, tmp_path / "missing-folder" / "f")
    assert caught.value.errno == errno.ENOENT
    assert target.read_bytes() == b"old"
    assert not tmp.exists()


def test_commit_can_leave_the_folder_fsync_to_the_caller(tmp_path: Path, fsyncs: list[str]) -> None:
    commit(write_temp(tmp_path, "f", b"x"), tmp_path / "f", sync_folder=False)
    assert fsyncs == ["file"]


def test_private_dir_created_0700_through_any_umask(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)
    try:
        make_private_dir(tmp_path / "a" / "b")
    finally:
        os.umask(old_umask)
    assert mode(tmp_path / "a" / "b") == 0o700


def test_an_existing_folder_is_tightened_only_when_asked(tmp_path: Path) -> None:
    folder = tmp_path / "state"
    folder.mkdir()
    folder.chmod(0o750)
    make_private_dir(folder, tighten=False)  # e.g. systemd's StateDirectory=: its mode is the unit's business
    assert mode(folder) == 0o750
    make_private_dir(folder)
    assert mode(folder) == 0o700


def test_private_file_and_exclusive_lock(tmp_path: Path) -> None:
    path = tmp_path / "db"
    path.write_bytes(b"")
    path.chmod(0o644)
    private_file(path)
    assert mode(path) == 0o600
    fd = lock_exclusive(tmp_path / "lock", wait=False)
    try:
        assert mode(tmp_path / "lock") == 0o600
        with pytest.raises(BlockingIOError):
            lock_exclusive(tmp_path / "lock", wait=False)
    finally:
        os.close(fd)
    os.close(lock_exclusive(tmp_path / "lock", wait=False))  # free again once closed
