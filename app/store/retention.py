"""Retention: age limit first, then the size quota, oldest first. Footage (app.store.footage) is
counted in the quota with snapshots and the database, and is what goes first when over it.

1. Sweep: delete snapshot files no row points to (a crash between writing a file and
   recording it) and rows whose file is gone (a crash between deleting a file and its row).
2. Age: delete events whose last known time (end, or start while still open) is more
   than `retain_days` ago, with their snapshots, and alerts fired more than
   `retain_days` ago. Younger alerts are never deleted.
3. Quota: while the store's size (the database's live pages + snapshot and segment files)
   is over `max_bytes`, evict the oldest footage (that of no alert first, then that of the
   oldest alerts), then snapshots of the oldest events, then the oldest ended events.
   Alerts and events still open are never evicted for size.

Files are deleted before their rows, so eviction frees space even when the disk is so
full that SQLite cannot commit the deletion: a row left without its file is harmless
(`snapshot_path` answers None) and the next sweep removes it. Every step holds the
snapshot lock while it touches files and rows, so it never races `save_snapshot`.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.store.footage import Footage, FootageTally
from app.store.snapshots import SnapshotDir

if TYPE_CHECKING:
    from app.store.db import Database

DAY_S = 86_400.0
BATCH = 500
STALE_TMP_S = 600.0

ErrorHook = Callable[[str, BaseException], object]


@dataclass(frozen=True, slots=True)
class RetentionReport:
    events_expired: int  # events deleted for age
    alerts_expired: int  # alerts deleted for age
    snapshots_evicted: int  # snapshots deleted for size
    events_evicted: int  # ended events deleted for size
    files_deleted: int  # snapshot files deleted (for any reason, including orphans)
    bytes_freed: int  # snapshot bytes deleted plus the database's shrinkage
    used_bytes: int  # the store's size afterwards, as the quota counts it
    over_quota: bool  # still over max_mb (only open events, alerts and the schema are left)
    errors: int  # steps that failed (see Store.failures())
    segments_expired: int = 0  # footage segments deleted for age (record.retain_days)
    segments_unwanted: int = 0  # segments overlapping no event ± pre/post (record.mode: events)
    segments_evicted: int = 0  # segments deleted for size, oldest first
    footage_bytes_freed: int = 0  # segment bytes deleted (also counted in bytes_freed)


@dataclass(slots=True)
class _Tally:
    events_expired: int = 0
    alerts_expired: int = 0
    snapshots_evicted: int = 0
    events_evicted: int = 0
    files_deleted: int = 0
    file_bytes: int = 0
    errors: int = 0

    def removed(self, freed: int) -> None:
        if freed:
            self.files_deleted += 1
            self.file_bytes += freed


def enforce(
    db: Database,
    files: SnapshotDir,
    footage: Footage,
    *,
    retain_days: int,
    max_bytes: int,
    now: float,
    on_error: ErrorHook,
) -> RetentionReport:
    from app.store.db import StoreError

    tally = _Tally()
    shot = FootageTally()
    failures = (OSError, sqlite3.DatabaseError, StoreError)

    def step(name: str, fn: Callable[[], object]) -> None:
        try:
            fn()
        except failures as exc:
            tally.errors += 1
            on_error(f"retention.{name}", exc)

    db_before = _measure(db.live_bytes)
    step("sweep", lambda: _sweep(db, files, tally))
    step("footage_sweep", lambda: footage.sweep(shot))
    step("age", lambda: _expire(db, files, now - retain_days * DAY_S, tally))
    step("footage_age", lambda: footage.expire(now, retain_days, shot))
    step("footage_unwanted", lambda: footage.drop_unwanted(now, retain_days, shot))
    step("footage_quota", lambda: footage.evict(_used(db, footage) - max_bytes, now, shot))
    step("quota", lambda: _evict(db, files, footage, max_bytes, tally))
    step("compact", db.compact)
    used = -1
    db_after = -1
    try:
        db_after = db.live_bytes()
        used = db_after + _snapshot_bytes(db) + footage.total_bytes()
    except failures as exc:
        tally.errors += 1
        on_error("retention.measure", exc)
    shrink = max(0, db_before - db_after) if db_before >= 0 and db_after >= 0 else 0
    return RetentionReport(
        events_expired=tally.events_expired,
        alerts_expired=tally.alerts_expired,
        snapshots_evicted=tally.snapshots_evicted,
        events_evicted=tally.events_evicted,
        files_deleted=tally.files_deleted + shot.files,
        bytes_freed=tally.file_bytes + shot.bytes + shrink,
        used_bytes=used,
        over_quota=used > max_bytes,
        errors=tally.errors,
        segments_expired=shot.expired,
        segments_unwanted=shot.unwanted,
        segments_evicted=shot.evicted,
        footage_bytes_freed=shot.bytes,
    )


def _used(db: Database, footage: Footage) -> int:
    return db.live_bytes() + _snapshot_bytes(db) + footage.total_bytes()


def _measure(fn: Callable[[], int]) -> int:
    try:
        return fn()
    except Exception:  # noqa: BLE001 - only for the report; the steps report their own failures
        return -1


def _snapshot_bytes(db: Database) -> int:
    return int(db.query("SELECT COALESCE(SUM(size), 0) FROM snapshots")[0][0])


def _sweep(db: Database, files: SnapshotDir, tally: _Tally) -> None:
    with files.lock:
        files.remove_stale_tmp(STALE_TMP_S)
        on_disk = files.listing()
        rows: list[Any] = db.query("SELECT event_id, name FROM snapshots")
        recorded = {str(name) for _, name in rows}
        for name in on_disk.keys() - recorded:
            tally.removed(files.remove(name))
        dangling = [(str(event_id), str(name)) for event_id, name in rows if name not in on_disk]
        if dangling:
            with db.write() as conn:
                conn.executemany("DELETE FROM snapshots WHERE event_id = ? AND name = ?", dangling)


def _delete_events(db: Database, files: SnapshotDir, rows: list[Any], tally: _Tally) -> None:
    """Files first, then rows: on a full disk the files still go even if SQLite cannot commit."""
    for _, name in rows:
        if name is not None:
            tally.removed(files.remove(str(name)))
    with db.write() as conn:
        conn.executemany("DELETE FROM events WHERE id = ?", [(str(event_id),) for event_id, _ in rows])


def _expire(db: Database, files: SnapshotDir, cutoff: float, tally: _Tally) -> None:
    while True:
        with files.lock:
            rows: list[Any] = db.query(
                "SELECT e.id, s.name FROM events e LEFT JOIN snapshots s ON s.event_id = e.id "
                "WHERE COALESCE(e.end_time, e.start_time) < ? ORDER BY e.start_time LIMIT ?",
                (cutoff, BATCH),
            )
            if not rows:
                break
            _delete_events(db, files, rows, tally)
        tally.events_expired += len(rows)
    with db.write() as conn:
        tally.alerts_expired += conn.execute("DELETE FROM alerts WHERE fired_at < ?", (cutoff,)).rowcount


def _evict(db: Database, files: SnapshotDir, footage: Footage, max_bytes: int, tally: _Tally) -> None:
    excess = _used(db, footage) - max_bytes
    # Snapshots of the oldest events first.
    while excess > 0:
        with files.lock:
            rows: list[Any] = db.query(
                "SELECT s.event_id, s.name, s.size, s.saved_ns FROM snapshots s JOIN events e ON e.id = s.event_id "
                "ORDER BY e.start_time, s.saved_ns LIMIT ?",
                (BATCH,),
            )
            if not rows:
                break
            chosen = []
            for event_id, name, size, saved_ns in rows:
                chosen.append((str(event_id), int(saved_ns)))
                tally.removed(files.remove(str(name)))
                excess -= int(size)
                if excess <= 0:
                    break
            with db.write() as conn:
                conn.executemany("DELETE FROM snapshots WHERE event_id = ? AND saved_ns = ?", chosen)
        tally.snapshots_evicted += len(chosen)
    # Then the oldest ended events, in batches sized from the average row.
    while True:
        excess = _used(db, footage) - max_bytes
        if excess <= 0:
            break
        count = int(db.query("SELECT count(*) FROM events")[0][0])
        if count == 0:
            break
        per_event = max(1, db.live_bytes() // count)
        batch = min(BATCH, max(1, math.ceil(excess / per_event)))
        with files.lock:
            rows = db.query(
                "SELECT e.id, s.name FROM events e LEFT JOIN snapshots s ON s.event_id = e.id "
                "WHERE e.end_time IS NOT NULL ORDER BY e.start_time LIMIT ?",
                (batch,),
            )
            if not rows:
                break
            _delete_events(db, files, rows, tally)
        tally.events_evicted += len(rows)
