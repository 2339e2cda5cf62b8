"""The SQLite database under the store: the pool of connections, migrations, transactions, size, compaction.

Durability
    WAL mode. Ordinary writes commit with `synchronous=NORMAL`: never corrupt, but the last
    commits may roll back after a power cut. `write(durable=True)` switches the single writer
    connection to `synchronous=FULL` for that one transaction (and back after it, all under
    the writer lock), so SQLite fsyncs the WAL before COMMIT returns; that fsync also makes
    every earlier NORMAL commit durable, since they precede it in the WAL. Migrations commit
    with FULL too.

Threads
    One writer connection guarded by a lock takes every write, each in a short
    `BEGIN IMMEDIATE` transaction; a small pool of read-only connections answers the
    queries. WAL lets those readers run while the writer commits (each sees the last
    committed state), so the API never waits behind a pipeline's write. Any thread may
    call any method.

Errors
    `read()`, `write()`, `query()` and `compact()` raise `StoreError` for every SQLite or OS
    failure inside them (the original as `__cause__`), and for a closed database. Rows are
    `sqlite3.Row`: read them by column name.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from app.files import private_file
from app.store.errors import StoreError, wrap

log = logging.getLogger(__name__)

DB_NAME = "edgewatch.db"
MB = 1024 * 1024  # storage.max_mb and usage() count MiB
BUSY_TIMEOUT_MS = 5000
CHECKPOINT_WAIT_MS = 200  # how long retention's WAL truncation waits for readers (it holds the writer meanwhile)
READERS = 4  # pooled read-only connections
MAX_LIMIT = 1000  # most rows one query returns
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


def clamp_limit(limit: int) -> int:
    """A caller's row limit, within 0..MAX_LIMIT."""
    return min(max(int(limit), 0), MAX_LIMIT)


class Database:
    """The SQLite file: one locked writer connection, a pool of read-only ones, migrations on open.

    Opening raises sqlite3.Error or OSError as they come (the store names the file and what to do);
    after that, see "Errors" above."""

    def __init__(self, path: Path, *, readers: int = READERS) -> None:
        self.path = path
        self._write_lock = threading.Lock()
        self._closed = False
        self._pool: queue.LifoQueue[sqlite3.Connection] = queue.LifoQueue()
        self._pool_lock = threading.Lock()
        self._readers = 0
        self._max_readers = max(1, readers)
        private_file(path)
        for suffix in ("-wal", "-shm"):
            companion = path.with_name(path.name + suffix)
            if companion.exists():
                private_file(companion)
        self._writer = self._connect()
        try:
            self._prepare()
        except BaseException:
            self._writer.close()
            raise

    def _connect(self, *, query_only: bool = False) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
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
        if version == 0 and conn.execute("SELECT count(*) AS n FROM sqlite_master").fetchone()["n"] == 0:
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")  # only possible before the first table
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()["journal_mode"]
        if str(mode).lower() != "wal":
            raise StoreError(f"{self.path}: SQLite refused WAL mode (got {mode!r}); is it on a network filesystem?")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute(f"PRAGMA journal_size_limit = {WAL_LIMIT_BYTES:d}")
        for target in range(version + 1, SCHEMA_VERSION + 1):
            with self._transaction(durable=True) as tx:  # one transaction per step: a crash leaves the old version
                for statement in MIGRATIONS[target - 1]:
                    tx.execute(statement)
                tx.execute(f"PRAGMA user_version = {target:d}")
            log.info("storage: database schema migrated to version %d", target)

    def version(self, conn: sqlite3.Connection | None = None) -> int:
        return int((conn or self._writer).execute("PRAGMA user_version").fetchone()["user_version"])

    @contextlib.contextmanager
    def write(self, *, durable: bool = False) -> Iterator[sqlite3.Connection]:
        """One write transaction on the writer connection; `durable` commits it with synchronous=FULL.
        A SQLite or OS error inside it rolls back and comes out as StoreError."""
        try:
            with self._transaction(durable=durable) as conn:
                yield conn
        except (sqlite3.Error, OSError) as exc:
            raise wrap("storage write", exc) from exc

    @contextlib.contextmanager
    def _transaction(self, *, durable: bool) -> Iterator[sqlite3.Connection]:
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
        """A pooled read-only connection; SQLite and OS errors come out as StoreError."""
        conn = self._checkout()
        try:
            yield conn
        except (sqlite3.Error, OSError) as exc:
            raise wrap("storage read", exc) from exc
        finally:
            self._checkin(conn)

    def query(self, sql: str, params: Sequence[object] | Mapping[str, object] = ()) -> list[sqlite3.Row]:
        with self.read() as conn:
            rows: list[sqlite3.Row] = conn.execute(sql, params).fetchall()
            return rows

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
            raise wrap("storage read", exc) from exc

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
            pages = int(conn.execute("PRAGMA page_count").fetchone()["page_count"])
            free = int(conn.execute("PRAGMA freelist_count").fetchone()["freelist_count"])
            size = int(conn.execute("PRAGMA page_size").fetchone()["page_size"])
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
            try:
                # Python's execute() steps this pragma once, which frees one page; executescript runs it to the end.
                conn.executescript("PRAGMA incremental_vacuum;")
                conn.execute(f"PRAGMA busy_timeout = {CHECKPOINT_WAIT_MS:d}")
                try:
                    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
                finally:
                    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS:d}")
            except sqlite3.Error as exc:
                raise wrap("storage compact", exc) from exc

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
