"""The local evidence store: events, alerts and small state in SQLite; best snapshots as files.

Durability
    The database is in WAL mode. Events and snapshot records commit with
    `synchronous=NORMAL`: never corrupt, but the last commits may roll back after a
    power cut. `add_alert` and `set_state` switch the single writer connection to
    `synchronous=FULL` for their own transaction (and back to NORMAL after it, all
    under the writer lock), so SQLite fsyncs the WAL before COMMIT returns: once
    `add_alert` has returned, the alert survives a crash or a power cut. That fsync
    also makes every earlier NORMAL commit durable, since they precede it in the WAL.
    Migrations and `set_state` commit with FULL too.

Threads
    One writer connection guarded by a lock takes every write, each in a short
    `BEGIN IMMEDIATE` transaction; a small pool of read-only connections answers the
    queries. WAL lets those readers run while the writer commits (each sees the last
    committed state), so the API never waits behind a pipeline's write. All public
    methods may be called from any thread.

Failures (disk full, read-only, I/O errors)
    `save_event` and `save_snapshot` never raise into the pipeline for an `OSError`
    or SQLite error: the failure is counted (`failures()`), logged once per kind until
    that operation works again, and the call returns (`save_snapshot` returns None).
    `add_alert` raises `StoreError` when the alert could not be stored durably; the
    caller then still publishes it (an alert is better sent than lost) and reports
    the storage error. Messages name the operation, the error kind and the OS or
    SQLite reason, never a stored value.

One process owns a store folder at a time (an flock on `edgewatch.lock`).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from app.domain import Alert, Box, Event
from app.store.footage import RECORDINGS, Footage, FootageTally
from app.store.retention import RetentionReport, enforce
from app.store.snapshots import SnapshotDir, make_private_dir, render_snapshot, snapshot_name

log = logging.getLogger(__name__)

DB_NAME = "edgewatch.db"
LOCK_NAME = "edgewatch.lock"
SNAPSHOTS = "snapshots"
MB = 1024 * 1024  # storage.max_mb and usage() count MiB
BUSY_TIMEOUT_MS = 5000
CHECKPOINT_WAIT_MS = 200  # how long retention's WAL truncation waits for readers (it holds the writer meanwhile)
READERS = 4  # pooled read-only connections
MAX_LIMIT = 1000  # most rows one query returns
MAX_STATE_KEY = 200
MAX_STATE_VALUE = 64 * 1024
WAL_LIMIT_BYTES = 4 * MB  # journal_size_limit: the WAL is truncated to this after a checkpoint

# Ordered schema migrations: MIGRATIONS[i] takes a database from version i to i + 1
# (PRAGMA user_version), in one transaction. Never edit a released step; append one.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: events, alerts, key/value state
    (
        """CREATE TABLE events (
            id TEXT PRIMARY KEY,
            camera TEXT NOT NULL,
            label TEXT NOT NULL,
            score REAL NOT NULL,
            top_score REAL NOT NULL,
            box TEXT NOT NULL,
            zones TEXT NOT NULL,
            start_time REAL NOT NULL,
            end_time REAL,
            stationary INTEGER NOT NULL
        )""",
        "CREATE INDEX events_start ON events (start_time)",
        """CREATE TABLE alerts (
            id TEXT PRIMARY KEY,
            rule TEXT NOT NULL,
            camera TEXT NOT NULL,
            label TEXT NOT NULL,
            score REAL NOT NULL,
            box TEXT NOT NULL,
            zones TEXT NOT NULL,
            event_id TEXT NOT NULL,
            started_at REAL NOT NULL,
            fired_at REAL NOT NULL,
            severity TEXT NOT NULL,
            stored_at REAL NOT NULL
        )""",
        "CREATE INDEX alerts_fired ON alerts (fired_at)",
        "CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at REAL NOT NULL)",
    ),
    # 2: snapshot files (one best JPEG per event, gone with its event); per-camera event listing
    (
        """CREATE TABLE snapshots (
            event_id TEXT PRIMARY KEY REFERENCES events (id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            size INTEGER NOT NULL,
            saved_ns INTEGER NOT NULL
        )""",
        "CREATE INDEX events_camera_start ON events (camera, start_time)",
    ),
    # 3: the MQTT outbox: an alert stays pending until the broker acknowledged it
    (
        "ALTER TABLE alerts ADD COLUMN delivered_at REAL",
        "CREATE INDEX alerts_pending ON alerts (fired_at) WHERE delivered_at IS NULL",
    ),
    # 4: the footage index: one row per finished segment file (app.store.footage)
    (
        """CREATE TABLE segments (
            name TEXT PRIMARY KEY,
            camera TEXT NOT NULL,
            start REAL NOT NULL,
            end REAL NOT NULL,
            size INTEGER NOT NULL,
            frames INTEGER NOT NULL,
            codec TEXT NOT NULL,
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            tb_num INTEGER NOT NULL,
            tb_den INTEGER NOT NULL,
            extradata BLOB NOT NULL
        )""",
        "CREATE INDEX segments_camera_start ON segments (camera, start)",
        "CREATE INDEX segments_start ON segments (start)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

# SQL is written out in full (no string building); every value is a bound parameter.
_UPSERT_EVENT = """
    INSERT INTO events (id, camera, label, score, top_score, box, zones, start_time, end_time, stationary)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (id) DO UPDATE SET
        camera = excluded.camera, label = excluded.label, score = excluded.score,
        top_score = excluded.top_score, box = excluded.box, zones = excluded.zones,
        start_time = excluded.start_time, end_time = excluded.end_time, stationary = excluded.stationary
"""
_SELECT_EVENTS = """
    SELECT id, camera, label, score, top_score, box, zones, start_time, end_time, stationary FROM events
    WHERE (?1 IS NULL OR camera = ?1) AND (?2 IS NULL OR label = ?2) AND (?3 IS NULL OR start_time >= ?3)
    ORDER BY start_time DESC, id DESC LIMIT ?4
"""
_SELECT_EVENT = """
    SELECT id, camera, label, score, top_score, box, zones, start_time, end_time, stationary FROM events WHERE id = ?
"""
_INSERT_ALERT = """
    INSERT INTO alerts (id, rule, camera, label, score, box, zones, event_id, started_at, fired_at, severity, stored_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (id) DO NOTHING
"""
_SELECT_ALERTS = """
    SELECT id, rule, camera, label, score, box, zones, event_id, started_at, fired_at, severity, delivered_at
    FROM alerts WHERE (?1 IS NULL OR fired_at >= ?1)
    ORDER BY fired_at DESC, id DESC LIMIT ?2
"""
_UPSERT_SNAPSHOT = """
    INSERT INTO snapshots (event_id, name, size, saved_ns) VALUES (?, ?, ?, ?)
    ON CONFLICT (event_id) DO UPDATE SET name = excluded.name, size = excluded.size, saved_ns = excluded.saved_ns
"""


class StoreError(Exception):
    """The store cannot do what was asked (cannot open, newer schema, alert not stored durably, closed)."""


def error_kind(exc: BaseException) -> str:
    """A short, value-free name for a failure: ENOSPC, SQLITE_FULL, SQLITE_IOERR_WRITE, ..."""
    if isinstance(exc, sqlite3.Error):
        name = getattr(exc, "sqlite_errorname", None)
        return name if isinstance(name, str) else type(exc).__name__
    if isinstance(exc, OSError) and exc.errno is not None:
        return errno.errorcode.get(exc.errno, f"errno {exc.errno}")
    if isinstance(exc, _UnknownEventError):
        return "unknown_event"
    if isinstance(exc, StoreError):
        return "closed"
    return type(exc).__name__


def describe(exc: BaseException) -> str:
    """The reason without values: the OS message (no file name) or SQLite's message."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)[:200] or type(exc).__name__


class _UnknownEventError(Exception):
    """save_snapshot for an event that is not (or no longer) stored."""


class _Failures:
    """Counts failures by kind; logs a kind once, and again only after its operation has worked."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._active: set[str] = set()
        self.last: str | None = None

    def record(self, op: str, exc: BaseException) -> str:
        kind = f"{op}:{error_kind(exc)}"
        with self._lock:
            self._counts[kind] = self._counts.get(kind, 0) + 1
            first = kind not in self._active
            self._active.add(kind)
            self.last = f"{kind}: {describe(exc)}"
        if first:
            log.error("storage: %s failed (%s): %s; counted, not logged, until it works again", op, kind, describe(exc))
        return kind

    def ok(self, op: str) -> None:
        if not self._active:  # unlocked peek: the common case costs nothing
            return
        with self._lock:
            cleared = {kind for kind in self._active if kind.startswith(op + ":")}
            self._active -= cleared
        if cleared:
            log.info("storage: %s works again", op)

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


class Database:
    """The SQLite file: one locked writer connection, a pool of read-only ones, migrations on open."""

    def __init__(self, path: Path, *, readers: int = READERS) -> None:
        self.path = path
        self._write_lock = threading.Lock()
        self._closed = False
        self._pool: queue.LifoQueue[sqlite3.Connection] = queue.LifoQueue()
        self._pool_lock = threading.Lock()
        self._readers = 0
        self._max_readers = max(1, readers)
        _private_file(path)
        for suffix in ("-wal", "-shm"):
            companion = path.with_name(path.name + suffix)
            if companion.exists():
                _private_file(companion)
        self._writer = self._connect()
        try:
            self._prepare()
        except BaseException:
            self._writer.close()
            raise

    def _connect(self, *, query_only: bool = False) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS:d}")
            conn.execute("PRAGMA foreign_keys = ON")
            if query_only:
                conn.execute("PRAGMA query_only = ON")
        except BaseException:
            conn.close()
            raise
        return conn

    def _prepare(self) -> None:
        conn = self._writer
        version = self.version()  # reads the header: fails here for a file that is not a database
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has schema version {version}, but this edgewatch knows versions up to "
                f"{SCHEMA_VERSION}: it was written by a newer edgewatch. Install that version again, "
                "or move the file away to start an empty store."
            )
        if version == 0 and conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0:
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")  # only possible before the first table
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"{self.path}: SQLite refused WAL mode (got {mode!r}); is it on a network filesystem?")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute(f"PRAGMA journal_size_limit = {WAL_LIMIT_BYTES:d}")
        for target in range(version + 1, SCHEMA_VERSION + 1):
            with self.write(durable=True) as tx:  # one transaction per step: a crash leaves the old version
                for statement in MIGRATIONS[target - 1]:
                    tx.execute(statement)
                tx.execute(f"PRAGMA user_version = {target:d}")
            log.info("storage: database schema migrated to version %d", target)

    def version(self, conn: sqlite3.Connection | None = None) -> int:
        return int((conn or self._writer).execute("PRAGMA user_version").fetchone()[0])

    @contextlib.contextmanager
    def write(self, *, durable: bool = False) -> Iterator[sqlite3.Connection]:
        """One write transaction on the writer connection; `durable` commits it with synchronous=FULL."""
        with self._write_lock:
            if self._closed:
                raise StoreError("the store is closed")
            conn = self._writer
            if durable:
                conn.execute("PRAGMA synchronous = FULL")
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        with contextlib.suppress(sqlite3.Error):
                            conn.execute("ROLLBACK")
                    raise
            finally:
                if durable:
                    with contextlib.suppress(sqlite3.Error):  # only costs speed if it ever failed
                        conn.execute("PRAGMA synchronous = NORMAL")

    @contextlib.contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A pooled read-only connection; SQLite errors come out as StoreError."""
        conn = self._checkout()
        try:
            yield conn
        except sqlite3.Error as exc:
            raise StoreError(f"storage read failed ({error_kind(exc)}): {describe(exc)}") from exc
        finally:
            self._checkin(conn)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self.read() as conn:
            return conn.execute(sql, params).fetchall()

    def _checkout(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError("the store is closed")
        try:
            return self._pool.get_nowait()
        except queue.Empty:
            pass
        with self._pool_lock:
            create = self._readers < self._max_readers
            if create:
                self._readers += 1
        if not create:
            try:
                return self._pool.get(timeout=BUSY_TIMEOUT_MS / 1000)
            except queue.Empty:
                raise StoreError("storage read failed: every reader connection is busy") from None
        try:
            return self._connect(query_only=True)
        except sqlite3.Error as exc:
            with self._pool_lock:
                self._readers -= 1
            raise StoreError(f"storage read failed ({error_kind(exc)}): {describe(exc)}") from exc

    def _checkin(self, conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        if self._closed:
            conn.close()
        else:
            self._pool.put(conn)

    def live_bytes(self) -> int:
        """Bytes the database holds in use (pages minus free pages; the WAL is not counted)."""
        with self.read() as conn:
            pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
            free = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
            size = int(conn.execute("PRAGMA page_size").fetchone()[0])
        return (pages - free) * size

    def file_bytes(self) -> int:
        total = 0
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                total += self.path.with_name(self.path.name + suffix).stat().st_size
        return total

    def compact(self) -> None:
        """Gives freed pages back to the filesystem: incremental vacuum (databases made by this store use
        incremental auto-vacuum), then a checkpoint that truncates the WAL, unless a reader holds it for
        longer than CHECKPOINT_WAIT_MS (then it stays for the next time; it is bounded by WAL_LIMIT_BYTES)."""
        with self._write_lock:
            if self._closed:
                raise StoreError("the store is closed")
            conn = self._writer
            # Python's execute() steps this pragma once, which frees one page; executescript runs it to the end.
            conn.executescript("PRAGMA incremental_vacuum;")
            conn.execute(f"PRAGMA busy_timeout = {CHECKPOINT_WAIT_MS:d}")
            try:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            finally:
                conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS:d}")

    def close(self) -> None:
        with self._write_lock:
            if self._closed:
                return
            self._closed = True
            with contextlib.suppress(sqlite3.Error):
                self._writer.execute("PRAGMA wal_checkpoint(PASSIVE)")
            self._writer.close()
        while True:
            try:
                self._pool.get_nowait().close()
            except queue.Empty:
                break


class Store:
    """Events, alerts, state and best snapshots of one appliance, under `root` (storage.path)."""

    def __init__(self, root: Path, *, retain_days: int, max_mb: int) -> None:
        if retain_days < 1 or max_mb < 1:
            raise ValueError("retain_days and max_mb must be at least 1")
        self.root = Path(root)
        self.retain_days = retain_days
        self.max_bytes = max_mb * MB
        self._failures = _Failures()
        self._lock_fd = -1
        try:
            make_private_dir(self.root)
            self._lock_fd = _lock_folder(self.root / LOCK_NAME)
            self._files = SnapshotDir(self.root / SNAPSHOTS)
            self._files.remove_stale_tmp(0.0)  # we own the folder: any temporary file is a crash's leftover
            self._db = Database(self.root / DB_NAME)
            make_private_dir(self.root / RECORDINGS)
            self.footage = Footage(self._db, self.root / RECORDINGS, self._failures.record)
        except StoreError:
            self._unlock()
            raise
        except OSError as exc:
            self._unlock()
            raise StoreError(f"cannot open the store in {self.root}: {describe(exc)} ({error_kind(exc)})") from exc
        except sqlite3.Error as exc:
            self._unlock()
            raise StoreError(
                f"cannot open {self.root / DB_NAME} ({error_kind(exc)}): {describe(exc)}; "
                "if it is damaged, move it away to start an empty store"
            ) from exc

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if hasattr(self, "_db"):
            self._db.close()
        self._unlock()

    def _unlock(self) -> None:
        if self._lock_fd >= 0:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = -1

    # events ---------------------------------------------------------------------------

    def save_event(self, event: Event) -> None:
        """Inserts or updates the event by id (new -> update -> end). Never raises for a storage failure."""
        row = (
            event.id,
            event.camera,
            event.label,
            float(event.score),
            float(event.top_score),
            _json(event.box),
            _json(event.zones),
            float(event.start_time),
            None if event.end_time is None else float(event.end_time),
            int(event.stationary),
        )
        try:
            with self._db.write() as conn:
                conn.execute(_UPSERT_EVENT, row)
        except (OSError, sqlite3.DatabaseError, StoreError) as exc:
            self._failures.record("save_event", exc)
            return
        self._failures.ok("save_event")

    def event(self, event_id: str) -> Event | None:
        rows = self._db.query(_SELECT_EVENT, (event_id,))
        return _event(rows[0]) if rows else None

    def events(
        self, *, camera: str | None = None, label: str | None = None, since: float | None = None, limit: int = 50
    ) -> list[Event]:
        """Stored events, newest (by start time) first; `since` keeps those that started at or after it."""
        limit = min(max(int(limit), 0), MAX_LIMIT)
        if limit == 0:
            return []
        rows = self._db.query(_SELECT_EVENTS, (camera, label, None if since is None else float(since), limit))
        return [_event(row) for row in rows]

    # snapshots ------------------------------------------------------------------------

    def save_snapshot(
        self, event_id: str, image_bgr: npt.NDArray[np.uint8], box: Box, label: str, score: float
    ) -> Path | None:
        """Stores the event's best snapshot (box and label drawn), atomically replacing the previous one.

        Returns its path, or None when it could not be stored (disk full, read-only, unknown
        event): that is counted and logged once, never raised. A bad image raises ValueError.
        """
        data = render_snapshot(image_bgr, box, label, score)
        name = snapshot_name(event_id)
        tmp: Path | None = None
        try:
            tmp = self._files.write_tmp(name, data)
            with self._files.lock, self._db.write() as conn:
                if conn.execute("SELECT 1 FROM events WHERE id = ?", (event_id,)).fetchone() is None:
                    raise _UnknownEventError
                conn.execute(_UPSERT_SNAPSHOT, (event_id, name, len(data), time.time_ns()))
                path = self._files.publish(tmp, name)  # inside the transaction: a failed move keeps the old row
                tmp = None
        except (OSError, sqlite3.DatabaseError, StoreError, _UnknownEventError) as exc:
            self._failures.record("save_snapshot", exc)
            return None
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    tmp.unlink()
        self._failures.ok("save_snapshot")
        return path

    def snapshot_path(self, event_id: str) -> Path | None:
        """The event's snapshot file, if it has one on disk."""
        rows = self._db.query("SELECT name FROM snapshots WHERE event_id = ?", (event_id,))
        if not rows:
            return None
        path = self._files.file(str(rows[0][0]))
        return path if path.is_file() else None

    # alerts ---------------------------------------------------------------------------

    def add_alert(self, alert: Alert) -> bool:
        """Stores the alert durably (fsynced) before returning; False if that id was already stored.

        Raises StoreError when it could not: the caller still publishes the alert.
        """
        row = (
            alert.id,
            alert.rule,
            alert.camera,
            alert.label,
            float(alert.score),
            _json(alert.box),
            _json(alert.zones),
            alert.event_id,
            float(alert.started_at),
            float(alert.fired_at),
            alert.severity,
            time.time(),
        )
        try:
            with self._db.write(durable=True) as conn:
                added = conn.execute(_INSERT_ALERT, row).rowcount == 1
        except (OSError, sqlite3.DatabaseError, StoreError) as exc:
            kind = self._failures.record("add_alert", exc)
            raise StoreError(f"alert {alert.id!r} was not stored durably ({kind}): {describe(exc)}") from exc
        self._failures.ok("add_alert")
        return added

    def alerts(self, *, since: float | None = None, limit: int = 50) -> list[Alert]:
        """Stored alerts, newest (by firing time) first; `since` keeps those fired at or after it."""
        return [alert for alert, _ in self.alert_log(since=since, limit=limit)]

    def alert_log(self, *, since: float | None = None, limit: int = 50) -> list[tuple[Alert, float | None]]:
        """Like `alerts`, each with when the broker acknowledged it (None: not yet, or no broker)."""
        limit = min(max(int(limit), 0), MAX_LIMIT)
        if limit == 0:
            return []
        rows = self._db.query(_SELECT_ALERTS, (None if since is None else float(since), limit))
        return [(_alert(row), None if row[11] is None else float(row[11])) for row in rows]

    # outbox ---------------------------------------------------------------------------

    def pending_alerts(self, *, since: float, limit: int = 100) -> list[Alert]:
        """Alerts fired at or after `since` the broker has not acknowledged yet, oldest first."""
        limit = min(max(int(limit), 0), MAX_LIMIT)
        rows = self._db.query(
            "SELECT id, rule, camera, label, score, box, zones, event_id, started_at, fired_at, severity "
            "FROM alerts WHERE delivered_at IS NULL AND fired_at >= ? ORDER BY fired_at, rowid LIMIT ?",
            (float(since), limit),
        )
        return [_alert(row) for row in rows]

    def pending_count(self, *, since: float) -> int:
        rows = self._db.query(
            "SELECT COUNT(*) FROM alerts WHERE delivered_at IS NULL AND fired_at >= ?", (float(since),)
        )
        return int(rows[0][0])

    def mark_delivered(self, alert_id: str, at: float) -> None:
        """The broker has it. Not fsynced: after a power cut the alert may go out once more,
        with the same id, which subscribers can deduplicate; losing it is not an option."""
        try:
            with self._db.write() as conn:
                conn.execute("UPDATE alerts SET delivered_at = ? WHERE id = ?", (float(at), alert_id))
        except (OSError, sqlite3.DatabaseError, StoreError) as exc:
            self._failures.record("mark_delivered", exc)
            return
        self._failures.ok("mark_delivered")

    # state ----------------------------------------------------------------------------

    def get_state(self, key: str) -> str | None:
        rows = self._db.query("SELECT value FROM state WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def set_state(self, key: str, value: str) -> None:
        """Stores a small value durably (synchronous=FULL); raises StoreError if it could not."""
        if not key or len(key) > MAX_STATE_KEY or len(value) > MAX_STATE_VALUE:
            raise ValueError(f"state keys are 1..{MAX_STATE_KEY} characters, values up to {MAX_STATE_VALUE}")
        try:
            with self._db.write(durable=True) as conn:
                conn.execute(
                    "INSERT INTO state (key, value, updated_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                    (key, value, time.time()),
                )
        except (OSError, sqlite3.DatabaseError, StoreError) as exc:
            kind = self._failures.record("set_state", exc)
            raise StoreError(f"state {key!r} was not stored ({kind}): {describe(exc)}") from exc
        self._failures.ok("set_state")

    # housekeeping ---------------------------------------------------------------------

    def enforce_retention(self, now: float) -> RetentionReport:
        """Deletes what is older than retain_days, then evicts oldest-first down to max_mb. Never raises
        for a storage failure (counted in the report and in failures())."""
        return enforce(
            self._db,
            self._files,
            self.footage,
            retain_days=self.retain_days,
            max_bytes=self.max_bytes,
            now=now,
            on_error=self._failures.record,
        )

    def free_footage(self, needed: int, now: float) -> tuple[int, int]:
        """Delete the oldest footage (of no alert first) until `needed` bytes are freed, whatever
        max_mb says: the disk itself is nearly full. (segments, bytes) deleted; never raises."""
        tally = FootageTally()
        try:
            self.footage.evict(needed, now, tally)
        except (OSError, sqlite3.Error) as exc:
            self._failures.record("footage_free", exc)
        return tally.evicted, tally.bytes

    def usage(self) -> tuple[float, float]:
        """(MiB the store takes on disk: database files, snapshots and footage, MiB free on its filesystem)."""
        try:
            snaps = int(self._db.query("SELECT COALESCE(SUM(size), 0) FROM snapshots")[0][0])
            snaps += self.footage.total_bytes()
        except StoreError:
            snaps = 0
        st = os.statvfs(self.root)
        return (self._db.file_bytes() + snaps) / MB, st.f_bavail * st.f_frsize / MB

    def failures(self) -> dict[str, int]:
        """Storage failures so far, by "operation:kind" (e.g. "save_snapshot:ENOSPC")."""
        return self._failures.counts()

    @property
    def last_error(self) -> str | None:
        return self._failures.last


def _private_file(path: Path) -> None:
    os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600))
    if path.stat().st_mode & 0o777 != 0o600:
        os.chmod(path, 0o600)


def _lock_folder(path: Path) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StoreError(f"another process is using the store in {path.parent}") from None
    except BaseException:
        os.close(fd)
        raise
    return fd


def _json(values: Sequence[object]) -> str:
    return json.dumps(list(values), separators=(",", ":"))


def _box(text: str) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (float(v) for v in json.loads(text))
    return (x1, y1, x2, y2)


def _zones(text: str) -> tuple[str, ...]:
    return tuple(str(z) for z in json.loads(text))


def _event(row: Sequence[Any]) -> Event:
    return Event(
        id=str(row[0]),
        camera=str(row[1]),
        label=str(row[2]),
        score=float(row[3]),
        top_score=float(row[4]),
        box=_box(row[5]),
        zones=_zones(row[6]),
        start_time=float(row[7]),
        end_time=None if row[8] is None else float(row[8]),
        stationary=bool(row[9]),
    )


def _alert(row: Sequence[Any]) -> Alert:
    return Alert(
        id=str(row[0]),
        rule=str(row[1]),
        camera=str(row[2]),
        label=str(row[3]),
        score=float(row[4]),
        box=_box(row[5]),
        zones=_zones(row[6]),
        event_id=str(row[7]),
        started_at=float(row[8]),
        fired_at=float(row[9]),
        severity=str(row[10]),
    )
