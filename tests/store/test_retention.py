"""Retention on real files: age limit with snapshot files, size quota oldest first, crash leftovers."""

from __future__ import annotations

import os
import random
import sqlite3
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt

from app.domain import Alert, Box, Event
from app.store import Store
from app.store.db import DB_NAME, MB

DAY = 86_400.0
NOW = 1_764_025_200.0


def event(n: int, start: float, *, end: float | None = None, zones: tuple[str, ...] = ("porch",)) -> Event:
    return Event(f"{int(start * 1000)}-cam-{n}", "cam", "person", 0.7, 0.8, (0.1, 0.2, 0.3, 0.4), zones, start, end,
                 False)  # fmt: skip


def alert(ev: Event, fired: float) -> Alert:
    return Alert(f"{ev.id}:r", "r", ev.camera, ev.label, 0.8, ev.box, ev.zones, ev.id, ev.start_time, fired, "alert")


def noise(seed: int, width: int = 400, height: int = 300) -> npt.NDArray[np.uint8]:
    # random pixels barely compress: each JPEG is ~100 KB
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def snapshot_files(store: Store) -> set[str]:
    return {p.name for p in (store.root / "snapshots").iterdir()}


def test_old_events_go_with_their_snapshots_young_alerts_stay(tmp_path: Path) -> None:
    with Store(tmp_path / "store", retain_days=7, max_mb=512) as store:
        old_ended = event(1, NOW - 9 * DAY, end=NOW - 9 * DAY + 30)
        old_open = event(2, NOW - 8 * DAY)  # never ended (a crash): its start counts
        ended_recently = event(3, NOW - 7.5 * DAY, end=NOW - 6 * DAY)  # started long ago, ended inside the window
        young = event(4, NOW - 1 * DAY, end=NOW - 1 * DAY + 20)
        for i, ev in enumerate((old_ended, old_open, ended_recently, young)):
            store.save_event(ev)
            assert store.save_snapshot(ev.id, noise(i, 64, 48), Box(1, 1, 30, 30), "person", 0.7) is not None
        old_files = {store.snapshot_path(ev.id) for ev in (old_ended, old_open)}
        store.add_alert(alert(old_ended, NOW - 9 * DAY + 5))
        store.add_alert(alert(ended_recently, NOW - 6.5 * DAY))
        store.add_alert(alert(young, NOW - DAY + 3))

        report = store.enforce_retention(NOW)

        assert report.events_expired == 2
        assert report.alerts_expired == 1
        assert report.files_deleted == 2
        assert report.bytes_freed > 0
        assert report.snapshots_evicted == report.events_evicted == 0
        assert report.errors == 0
        assert not report.over_quota
        assert store.event(old_ended.id) is None
        assert store.event(old_open.id) is None
        assert all(p is not None and not p.exists() for p in old_files)
        assert [e.id for e in store.events()] == [young.id, ended_recently.id]
        assert store.snapshot_path(young.id) is not None
        assert store.snapshot_path(ended_recently.id) is not None
        assert [a.event_id for a in store.alerts()] == [young.id, ended_recently.id]
        assert len(snapshot_files(store)) == 2
        again = store.enforce_retention(NOW)
        assert (again.events_expired, again.alerts_expired, again.files_deleted) == (0, 0, 0)


def test_quota_evicts_the_oldest_snapshots_first(tmp_path: Path) -> None:
    with Store(tmp_path / "store", retain_days=30, max_mb=1) as store:
        evs = [event(n, NOW - 3600 + 60 * n, end=NOW - 3600 + 60 * n + 30) for n in range(30)]
        for n in random.Random(7).sample(range(30), 30):  # saved in random order: age is the event's, not the file's
            store.save_event(evs[n])
            assert store.save_snapshot(evs[n].id, noise(n), Box(5, 5, 200, 200), "person", 0.7) is not None
        store.add_alert(alert(evs[0], NOW - 3500))
        total = sum((store.root / "snapshots" / name).stat().st_size for name in snapshot_files(store))
        assert total > 2.5 * MB  # ~3 MB of snapshots against a 1 MB quota

        report = store.enforce_retention(NOW)

        kept = [n for n in range(30) if store.snapshot_path(evs[n].id) is not None]
        assert kept, "every snapshot evicted"
        assert kept == list(range(30 - len(kept), 30)), f"not the oldest evicted: kept {kept}"
        assert report.snapshots_evicted == 30 - len(kept) > 0
        assert report.events_evicted == 0  # dropping snapshots was enough: every event is still listed
        assert len(store.events(limit=100)) == 30
        assert [a.event_id for a in store.alerts()] == [evs[0].id]
        assert report.used_bytes <= MB
        assert not report.over_quota
        assert report.errors == 0
        on_disk = sum((store.root / "snapshots" / name).stat().st_size for name in snapshot_files(store))
        assert len(snapshot_files(store)) == len(kept)
        assert report.bytes_freed >= total - on_disk
        with sqlite3.connect(store.root / DB_NAME) as conn:
            pages, free, size = (conn.execute(f"PRAGMA {p}").fetchone()[0] for p in ("page_count", "freelist_count",
                                                                                     "page_size"))  # fmt: skip
        assert on_disk + (pages - free) * size <= MB
        assert store.usage()[0] <= 1.1  # the files on disk agree (the WAL may add a little)


def test_quota_then_evicts_the_oldest_ended_events(tmp_path: Path) -> None:
    many_zones = tuple(f"zone_number_{i:02d}" for i in range(24))  # ~450 bytes a row
    with Store(tmp_path / "store", retain_days=30, max_mb=1) as store:
        ended = [event(n, NOW - 80_000 + n, end=NOW - 80_000 + n + 5, zones=many_zones) for n in range(4000)]
        still_open = [event(10_000 + n, NOW - 90_000 + n, zones=many_zones) for n in range(5)]  # the oldest of all
        for ev in still_open + ended:
            store.save_event(ev)
        alerts = [alert(ended[n], NOW - 70_000 + n) for n in range(0, 4000, 400)]
        for a in alerts:
            store.add_alert(a)

        report = store.enforce_retention(NOW)

        assert report.events_evicted > 0
        assert report.events_expired == 0
        assert report.used_bytes <= MB
        assert not report.over_quota
        assert report.errors == 0
        left = [e for e in ended + still_open if store.event(e.id) is not None]
        assert len(left) == 4005 - report.events_evicted
        assert all(store.event(ev.id) == ev for ev in still_open)  # open events are never evicted
        kept_ended = sorted(e.start_time for e in left if e.end_time is not None)
        gone = [ev for ev in ended if store.event(ev.id) is None]
        assert len(gone) == report.events_evicted
        assert max(ev.start_time for ev in gone) < kept_ended[0]  # the oldest went
        assert {a.id for a in store.alerts(limit=100)} == {a.id for a in alerts}  # alerts never evicted
        assert (tmp_path / "store" / DB_NAME).stat().st_size <= MB  # freed pages went back to the filesystem
        assert store.usage()[0] <= 1.1


def test_crash_leftovers_are_cleaned(tmp_path: Path) -> None:
    root = tmp_path / "store"
    with Store(root, retain_days=30, max_mb=64) as store:
        for n in range(3):
            store.save_event(event(n, NOW + n))
            store.save_snapshot(event(n, NOW + n).id, noise(n, 64, 48), Box(1, 1, 9, 9), "person", 0.5)
    snaps = root / "snapshots"
    (snaps / "orphan-no-row.jpg").write_bytes(b"\xff\xd8 not recorded")
    (snaps / ".tmp-abc-1.jpg").write_bytes(b"half written")
    missing = event(1, NOW + 1)
    (snaps / f"{missing.id}.jpg").unlink()
    unrelated = snaps / "README"
    unrelated.write_text("not ours to delete")

    with Store(root, retain_days=30, max_mb=64) as store:
        assert not (snaps / ".tmp-abc-1.jpg").exists()  # temporaries go when the store opens
        assert store.snapshot_path(missing.id) is None
        report = store.enforce_retention(NOW + 10)
        assert report.files_deleted == 1
        assert report.errors == 0
        assert not (snaps / "orphan-no-row.jpg").exists()
        assert unrelated.exists()
        with sqlite3.connect(root / DB_NAME) as conn:
            rows = {r[0] for r in conn.execute("SELECT event_id FROM snapshots")}
        assert rows == {event(0, NOW).id, event(2, NOW + 2).id}  # the row without a file is gone too


def test_a_fresh_temporary_file_survives_the_sweep(tmp_path: Path) -> None:
    # a snapshot being written right now (outside the lock) must not be swept away
    with Store(tmp_path / "store", retain_days=30, max_mb=64) as store:
        tmp = store.root / "snapshots" / ".tmp-live-1.jpg"
        tmp.write_bytes(b"in flight")
        store.enforce_retention(time.time())
        assert tmp.exists()
        old = time.time() - 3600
        os.utime(tmp, (old, old))
        store.enforce_retention(time.time())
        assert not tmp.exists()
