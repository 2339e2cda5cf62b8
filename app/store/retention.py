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
from collections.abc import Callable
from dataclasses import dataclass

from app.store.alerts import Alerts
from app.store.db import Database
from app.store.errors import STORAGE_ERRORS
from app.store.events import Events, StoredEvent
from app.store.footage import Footage, FootageTally
from app.store.snapshot_index import SnapshotIndex
from app.store.snapshots import SnapshotDir

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


@dataclass(frozen=True, slots=True)
class Holdings:
    """What retention works on: the database (for its size), each record kind, and the snapshot files."""

    db: Database
    events: Events
    alerts: Alerts
    snapshots: SnapshotIndex
    files: SnapshotDir
    footage: Footage

    def used(self) -> int:
        """The store's size as the quota counts it."""
        return self.db.live_bytes() + self.snapshots.total_bytes() + self.footage.total_bytes()


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


def enforce(store: Holdings, *, retain_days: int, max_bytes: int, now: float, on_error: ErrorHook) -> RetentionReport:
    """Runs every step; a step that fails (StoreError, or OSError from a file) goes to `on_error`, and the next runs."""
    tally = _Tally()
    shot = FootageTally()
    db, footage = store.db, store.footage

    def step(name: str, fn: Callable[[], object]) -> None:
        try:
            fn()
        except STORAGE_ERRORS as exc:
            tally.errors += 1
            on_error(f"retention.{name}", exc)

    db_before = _measure(db.live_bytes)
    step("sweep", lambda: _sweep(store, tally))
    step("footage_sweep", footage.sweep)
    step("age", lambda: _expire(store, now - retain_days * DAY_S, tally))
    step("footage_age", lambda: footage.expire(now, retain_days, shot))
    step("footage_unwanted", lambda: footage.drop_unwanted(now, retain_days, shot))
    step("footage_quota", lambda: footage.evict(store.used() - max_bytes, now, shot))
    step("quota", lambda: _evict(store, max_bytes, tally))
    step("compact", db.compact)
    used = -1
    db_after = -1
    try:
        db_after = db.live_bytes()
        used = db_after + store.snapshots.total_bytes() + footage.total_bytes()
    except STORAGE_ERRORS as exc:
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


def _measure(fn: Callable[[], int]) -> int:
    try:
        return fn()
    except Exception:  # noqa: BLE001 - only for the report; the steps report their own failures
        return -1


def _sweep(store: Holdings, tally: _Tally) -> None:
    files = store.files
    with files.lock:
        files.remove_stale_tmp(STALE_TMP_S)
        on_disk = files.listing()
        rows = store.snapshots.all()
        for name in on_disk.keys() - {row.name for row in rows}:
            tally.removed(files.remove(name))
        dangling = [row for row in rows if row.name not in on_disk]
        if dangling:
            store.snapshots.forget(dangling)


def _delete_events(store: Holdings, rows: list[StoredEvent], tally: _Tally) -> None:
    """Files first, then rows: on a full disk the files still go even if SQLite cannot commit."""
    for row in rows:
        if row.snapshot is not None:
            tally.removed(store.files.remove(row.snapshot))
    store.events.delete(row.id for row in rows)


def _expire(store: Holdings, cutoff: float, tally: _Tally) -> None:
    while True:
        with store.files.lock:
            rows = store.events.expired(cutoff, BATCH)
            if not rows:
                break
            _delete_events(store, rows, tally)
        tally.events_expired += len(rows)
    tally.alerts_expired += store.alerts.expire(cutoff)


def _evict(store: Holdings, max_bytes: int, tally: _Tally) -> None:
    excess = store.used() - max_bytes
    # Snapshots of the oldest events first.
    while excess > 0:
        with store.files.lock:
            oldest = store.snapshots.oldest(BATCH)
            if not oldest:
                break
            chosen = []
            for snapshot in oldest:
                chosen.append(snapshot)
                tally.removed(store.files.remove(snapshot.name))
                excess -= snapshot.size
                if excess <= 0:
                    break
            store.snapshots.evict(chosen)
        tally.snapshots_evicted += len(chosen)
    # Then the oldest ended events, in batches sized from the average row.
    while True:
        excess = store.used() - max_bytes
        if excess <= 0:
            break
        count = store.events.count()
        if count == 0:
            break
        per_event = max(1, store.db.live_bytes() // count)
        batch = min(BATCH, max(1, math.ceil(excess / per_event)))
        with store.files.lock:
            rows = store.events.oldest_ended(batch)
            if not rows:
                break
            _delete_events(store, rows, tally)
        tally.events_evicted += len(rows)
