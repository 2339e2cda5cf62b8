"""Failure modes on real files: SIGKILL in the middle of writing, and a disk that will not take more."""

from __future__ import annotations

import contextlib
import logging
import math
import os
import random
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.domain import Alert, Box, Event
from app.store import Store, StoreError
from app.store.db import DB_NAME

ROOT = Path(__file__).resolve().parents[2]
WRITER = Path(__file__).with_name("crash_writer.py")
ROUNDS = 20


def read_lines(stream: object, into: list[str]) -> None:
    assert hasattr(stream, "readline")
    for line in iter(stream.readline, ""):
        into.append(line)


def check_after_kill(root: Path, acked: set[str], state_floor: tuple[str, int] | None) -> int:
    """The database is intact, every acknowledged alert is in it, every recorded snapshot decodes."""
    conn = sqlite3.connect(root / DB_NAME)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        stored = {row[0] for row in conn.execute("SELECT id FROM alerts")}
        missing = acked - stored
        assert not missing, f"{len(missing)} acknowledged alerts lost, e.g. {sorted(missing)[:3]}"
        if state_floor is not None:  # the last acknowledged set_state, or a later one, is stored
            (mode,) = conn.execute("SELECT value FROM state WHERE key = 'mode'").fetchone()
            _, run, i = mode.split("-")
            assert run == state_floor[0], f"acknowledged state lost: stored {mode}"
            assert int(i) >= state_floor[1], f"acknowledged state lost: stored {mode}"
        snapshots = conn.execute("SELECT name FROM snapshots").fetchall()
    finally:
        conn.close()
    for (name,) in snapshots:
        path = root / "snapshots" / name
        if path.exists():  # retention deletes files before rows: a row may briefly outlive its file
            assert cv2.imread(str(path)) is not None, f"torn snapshot {name}"
    return len(snapshots)


def test_sigkill_never_corrupts_or_loses_an_acknowledged_alert(tmp_path: Path) -> None:
    root = tmp_path / "store"  # one store through every round: each run recovers from the previous kill
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    rng = random.Random(20251125)
    acked: set[str] = set()
    snapshots_seen = 0
    started = time.monotonic()
    for run in range(ROUNDS):
        errors = tmp_path / f"stderr-{run}.txt"
        with errors.open("w") as err:
            proc = subprocess.Popen(
                [sys.executable, str(WRITER), str(root), str(run)],
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                env=env,
                cwd=ROOT,
            )
        lines: list[str] = []
        reader = threading.Thread(target=read_lines, args=(proc.stdout, lines), daemon=True)
        reader.start()
        try:
            deadline = time.monotonic() + 15
            while not lines and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            assert lines[:1] == ["ready\n"], f"writer did not start: {errors.read_text()[-2000:]}"
            time.sleep(rng.uniform(0.2, 1.0))  # scenario: the kill lands at a random point of the writes
            assert proc.poll() is None, f"writer died on its own: {errors.read_text()[-2000:]}"
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            reader.join(5)
        assert proc.returncode == -signal.SIGKILL
        complete = [line.split() for line in lines if line.endswith("\n")]
        new = {words[1] for words in complete if words[0] == "alert"}
        assert len(new) >= 5, "the writer acknowledged (almost) no alerts: the round tested nothing"
        acked |= new
        states = [int(words[1].rsplit("-", 1)[1]) for words in complete if words[0] == "state"]
        state_floor = (str(run), max(states)) if states else None
        snapshots_seen += check_after_kill(root, acked, state_floor)
    assert snapshots_seen > 0
    assert time.monotonic() - started < 60

    # And the store itself opens and tidies up after it all. The quota leaves room for the
    # database (how many alerts the rounds wrote depends on the machine's speed) plus 1 MiB.
    database_mb = sum(f.stat().st_size for f in root.glob("edgewatch.db*")) / (1 << 20)
    with Store(root, retain_days=1, max_mb=math.ceil(database_mb) + 1) as store:
        assert not list((root / "snapshots").glob(".tmp-*"))
        report = store.enforce_retention(time.time())
        assert report.errors == 0
        assert not report.over_quota
        assert store.alerts(limit=1)


# --- disk full ---------------------------------------------------------------------------


def event(n: int) -> Event:
    return Event(f"1764025200000-porch-{n}", "porch", "person", 0.7, 0.8, (0.1, 0.2, 0.3, 0.4), (), 1_764_025_200.0,
                 None, False)  # fmt: skip


def alert(n: int) -> Alert:
    ev = event(n)
    return Alert(
        f"{ev.id}:r", "r", "porch", "person", 0.8, ev.box, (), ev.id, ev.start_time, ev.start_time + 1, "alert"
    )


@contextlib.contextmanager
def file_size_limit(limit: int) -> Iterator[None]:
    """Every write to a regular file at or past `limit` bytes fails with EFBIG (as a full disk fails
    with ENOSPC). Only this process is limited; the limit is lifted on the way out."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


def test_a_full_disk_degrades_events_and_snapshots_and_refuses_alerts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="app.store")
    frame = np.full((240, 320, 3), 90, np.uint8)
    with Store(tmp_path / "store", retain_days=14, max_mb=64) as store:
        store.save_event(event(0))
        assert store.add_alert(alert(0))
        with file_size_limit(1):
            for n in range(1, 4):
                store.save_event(event(n))  # no exception into the pipeline
            for _ in range(3):
                assert store.save_snapshot(event(0).id, frame, Box(10, 10, 100, 100), "person", 0.7) is None
            with pytest.raises(StoreError, match=r"alert '.*:r' was not stored durably"):
                store.add_alert(alert(1))
            with pytest.raises(StoreError):
                store.set_state("mode", "home")
        failures = store.failures()
        assert sum(n for kind, n in failures.items() if kind.startswith("save_event:")) == 3
        assert sum(n for kind, n in failures.items() if kind.startswith("save_snapshot:")) == 3
        assert sum(n for kind, n in failures.items() if kind.startswith("add_alert:")) == 1
        assert store.last_error is not None
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert [r.getMessage().split(" failed")[0] for r in errors] == [
            "storage: save_event",
            "storage: save_snapshot",
            "storage: add_alert",
            "storage: set_state",
        ]  # once per kind, not once per failure
        assert all("porch" not in r.getMessage() for r in errors)  # no stored values in the log

        # what failed is not half there, what was acknowledged before is
        assert [store.event(event(n).id) for n in range(1, 4)] == [None, None, None]
        assert store.snapshot_path(event(0).id) is None
        assert [a.id for a in store.alerts()] == [alert(0).id]
        assert [p.name for p in (store.root / "snapshots").iterdir()] == []

        # and it all works again once there is room
        store.save_event(event(1))
        assert store.event(event(1).id) == event(1)
        assert store.save_snapshot(event(1).id, frame, Box(10, 10, 100, 100), "person", 0.7) is not None
        assert store.add_alert(alert(1)) is True
        assert sum(store.failures().values()) == 3 + 3 + 1 + 1  # nothing new
        assert any(r.getMessage() == "storage: save_event works again" for r in caplog.records)
    with sqlite3.connect(tmp_path / "store" / DB_NAME) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 4 MB filesystem (tmpfs), for a real ENOSPC; needs root with mount rights."""
    mount = shutil.which("mount")
    point = tmp_path / "tiny"
    point.mkdir()
    if os.geteuid() != 0 or mount is None:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run([mount, "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(point)],
                          capture_output=True, check=False)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], check=False)


def test_a_really_full_disk_then_retention_makes_room(tiny_disk: Path) -> None:
    noise = np.random.default_rng(3).integers(0, 256, (300, 400, 3), dtype=np.uint8)  # ~100 KB each
    with Store(tiny_disk / "store", retain_days=14, max_mb=1) as store:
        n = 0
        while n < 200:
            store.save_event(event(n))
            if store.save_snapshot(event(n).id, noise, Box(5, 5, 100, 100), "person", 0.7) is None:
                break
            n += 1
        assert 10 < n < 200, "the disk never filled"
        assert any(kind.startswith("save_snapshot:") for kind in store.failures())
        with contextlib.suppress(StoreError):  # stored or a StoreError, nothing else
            store.add_alert(alert(n))

        report = store.enforce_retention(1_764_025_300.0)  # oldest first, down to the 1 MB quota

        assert report.snapshots_evicted > 0
        assert report.used_bytes <= 2**20
        assert os.statvfs(tiny_disk).f_bavail * os.statvfs(tiny_disk).f_frsize > 2 * 2**20
        store.save_event(event(500))
        assert store.save_snapshot(event(500).id, noise, Box(5, 5, 100, 100), "person", 0.7) is not None
        assert store.add_alert(alert(500)) is True
    with sqlite3.connect(tiny_disk / "store" / DB_NAME) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
