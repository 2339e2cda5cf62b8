"""`Store`: the one object callers use. It opens the folder, composes the database and the repositories,
and is the one place where a storage failure is turned into a degraded answer (see `app.store`)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

import numpy as np
import numpy.typing as npt

from app.domain import Alert, Box, Event
from app.files import lock_exclusive, make_private_dir
from app.store.alerts import Alerts
from app.store.db import DB_NAME, MB, Database
from app.store.errors import Failures, StoreError, describe, error_kind
from app.store.events import Events
from app.store.footage import RECORDINGS, Footage, FootageTally
from app.store.retention import Holdings, RetentionReport, enforce
from app.store.snapshot_index import SnapshotIndex
from app.store.snapshots import SnapshotDir, render_snapshot, snapshot_name
from app.store.state import State

LOCK_NAME = "edgewatch.lock"
SNAPSHOTS = "snapshots"


class Store:
    """Events, alerts, state and best snapshots of one appliance, under `root` (storage.path).

    The repositories are attributes too (`event_rows`, `alert_rows`, `snapshot_rows`, `state`, `footage`);
    they raise StoreError. The methods below apply the failure contract written in `app.store`."""

    def __init__(self, root: Path, *, retain_days: int, max_mb: int) -> None:
        if retain_days < 1 or max_mb < 1:
            raise ValueError("retain_days and max_mb must be at least 1")
        self.root = Path(root)
        self.retain_days = retain_days
        self.max_bytes = max_mb * MB
        self._failures = Failures()
        self._lock_fd = -1
        try:
            make_private_dir(self.root)
            self._lock_fd = _lock_folder(self.root / LOCK_NAME)
            self._files = SnapshotDir(self.root / SNAPSHOTS)
            self._files.remove_stale_tmp(0.0)  # we own the folder: any temporary file is a crash's leftover
            self._db = Database(self.root / DB_NAME)
            make_private_dir(self.root / RECORDINGS)
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
        self.event_rows = Events(self._db)
        self.alert_rows = Alerts(self._db)
        self.snapshot_rows = SnapshotIndex(self._db)
        self.state = State(self._db)
        self.footage = Footage(self._db, self.root / RECORDINGS, self._failures)
        self._holdings = Holdings(
            self._db, self.event_rows, self.alert_rows, self.snapshot_rows, self._files, self.footage
        )

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
        """Inserts or updates the event by id (new -> update -> end). Degrades: never raises for a storage failure."""
        self._failures.degrade("save_event", lambda: self.event_rows.save(event), None)

    def event(self, event_id: str) -> Event | None:
        return self.event_rows.get(event_id)

    def events(
        self, *, camera: str | None = None, label: str | None = None, since: float | None = None, limit: int = 50
    ) -> list[Event]:
        """Stored events, newest (by start time) first; `since` keeps those that started at or after it."""
        return self.event_rows.find(camera=camera, label=label, since=since, limit=limit)

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
        return self._failures.degrade("save_snapshot", lambda: self._put_snapshot(event_id, name, data), None)

    def _put_snapshot(self, event_id: str, name: str, data: bytes) -> Path:
        tmp: Path | None = None
        try:
            tmp = written = self._files.write_tmp(name, data)
            with self._files.lock:
                # The move happens inside the row's transaction: a failed move keeps the old row.
                path = self.snapshot_rows.put(event_id, name, len(data), lambda: self._files.publish(written, name))
                tmp = None
            with contextlib.suppress(OSError):  # the rename is done; its fsync only hardens it
                self._files.sync()
            return path
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    tmp.unlink()

    def snapshot_path(self, event_id: str) -> Path | None:
        """The event's snapshot file, if it has one on disk."""
        name = self.snapshot_rows.name(event_id)
        if name is None:
            return None
        path = self._files.file(name)
        return path if path.is_file() else None

    # alerts and the outbox ------------------------------------------------------------

    def add_alert(self, alert: Alert) -> bool:
        """Stores the alert durably (fsynced) before returning; False if that id was already stored.

        Raises StoreError when it could not (counted too): the caller still publishes the alert.
        """
        try:
            added = self.alert_rows.add(alert)
        except StoreError as exc:
            kind = self._failures.record("add_alert", exc)
            raise StoreError(f"alert {alert.id!r} was not stored durably ({kind}): {describe(exc)}") from exc
        self._failures.ok("add_alert")
        return added

    def alerts(self, *, since: float | None = None, limit: int = 50) -> list[Alert]:
        """Stored alerts, newest (by firing time) first; `since` keeps those fired at or after it."""
        return [alert for alert, _ in self.alert_rows.log(since=since, limit=limit)]

    def alert_log(self, *, since: float | None = None, limit: int = 50) -> list[tuple[Alert, float | None]]:
        """Like `alerts`, each with when the broker acknowledged it (None: not yet, or no broker)."""
        return self.alert_rows.log(since=since, limit=limit)

    def pending_alerts(self, *, since: float, limit: int = 100) -> list[Alert]:
        """Alerts fired at or after `since` the broker has not acknowledged yet, oldest first."""
        return self.alert_rows.pending(since=since, limit=limit)

    def pending_count(self, *, since: float) -> int:
        return self.alert_rows.pending_count(since=since)

    def mark_delivered(self, alert_id: str, at: float) -> bool:
        """The broker has it. Not fsynced: after a power cut the alert may go out once more,
        with the same id, which subscribers can deduplicate; losing it is not an option. Degrades:
        False when it could not be marked (the caller tries again, or the alert stays pending)."""

        def mark() -> bool:
            self.alert_rows.mark_delivered(alert_id, at)
            return True

        return self._failures.degrade("mark_delivered", mark, False)

    # state ----------------------------------------------------------------------------

    def get_state(self, key: str) -> str | None:
        return self.state.get(key)

    def set_state(self, key: str, value: str) -> None:
        """Stores a small value durably (synchronous=FULL); raises StoreError (counted too) if it could not."""
        try:
            self.state.set(key, value)
        except StoreError as exc:
            kind = self._failures.record("set_state", exc)
            raise StoreError(f"state {key!r} was not stored ({kind}): {describe(exc)}") from exc
        self._failures.ok("set_state")

    # housekeeping ---------------------------------------------------------------------

    def enforce_retention(self, now: float) -> RetentionReport:
        """Deletes what is older than retain_days, then evicts oldest-first down to max_mb. Degrades: each
        failed step is counted (in the report and in failures()) and the next step runs."""
        return enforce(
            self._holdings,
            retain_days=self.retain_days,
            max_bytes=self.max_bytes,
            now=now,
            on_error=self._failures.record,
        )

    def free_footage(self, needed: int, now: float) -> tuple[int, int]:
        """Delete the oldest footage (of no alert first) until `needed` bytes are freed, whatever
        max_mb says: the disk itself is nearly full. (segments, bytes) deleted. Degrades."""
        tally = FootageTally()
        self._failures.degrade("footage_free", lambda: self.footage.evict(needed, now, tally), 0)
        return tally.evicted, tally.bytes

    def usage(self) -> tuple[float, float]:
        """(MiB the store takes on disk: database files, snapshots and footage, MiB free on its filesystem).
        A failed query counts its part as 0 (not a failure: the status page asks often); statvfs may raise OSError."""
        try:
            files = self.snapshot_rows.total_bytes() + self.footage.total_bytes()
        except StoreError:
            files = 0
        st = os.statvfs(self.root)
        return (self._db.file_bytes() + files) / MB, st.f_bavail * st.f_frsize / MB

    def failures(self) -> dict[str, int]:
        """Storage failures so far, by "operation:kind" (e.g. "save_snapshot:ENOSPC")."""
        return self._failures.counts()

    @property
    def last_error(self) -> str | None:
        return self._failures.last


def _lock_folder(path: Path) -> int:
    try:
        return lock_exclusive(path, wait=False)
    except BlockingIOError:
        raise StoreError(f"another process is using the store in {path.parent}") from None
