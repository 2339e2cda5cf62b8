"""The snapshot index: which JPEG file (app.store.snapshots) is each event's best snapshot.

A row and its file change together under `SnapshotDir.lock`, taken by the callers (the store
and retention). Raises StoreError for a storage failure (see `app.store`); never counts or logs it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from app.store.db import Database
from app.store.errors import UnknownEventError

_UPSERT = """
    INSERT INTO snapshots (event_id, name, size, saved_ns) VALUES (?, ?, ?, ?)
    ON CONFLICT (event_id) DO UPDATE SET name = excluded.name, size = excluded.size, saved_ns = excluded.saved_ns
"""
_OLDEST = """
    SELECT s.event_id AS event_id, s.name AS name, s.size AS size, s.saved_ns AS saved_ns
    FROM snapshots s JOIN events e ON e.id = s.event_id ORDER BY e.start_time, s.saved_ns LIMIT ?
"""


@dataclass(frozen=True, slots=True)
class SnapshotRow:
    event_id: str
    name: str
    size: int = 0
    saved_ns: int = 0


class SnapshotIndex:
    """The snapshots table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def put(self, event_id: str, name: str, size: int, publish: Callable[[], Path]) -> Path:
        """Records `name` as the event's snapshot and calls `publish` (which puts the file in place) inside
        the same transaction: a failed move keeps the old row. UnknownEventError for an event not stored."""
        with self._db.write() as conn:
            if conn.execute("SELECT 1 FROM events WHERE id = ?", (event_id,)).fetchone() is None:
                raise UnknownEventError(f"no stored event {event_id!r}")
            conn.execute(_UPSERT, (event_id, name, size, time.time_ns()))
            return publish()

    def name(self, event_id: str) -> str | None:
        rows = self._db.query("SELECT name FROM snapshots WHERE event_id = ?", (event_id,))
        return str(rows[0]["name"]) if rows else None

    def total_bytes(self) -> int:
        return int(self._db.query("SELECT COALESCE(SUM(size), 0) AS total FROM snapshots")[0]["total"])

    # -- for retention

    def all(self) -> list[SnapshotRow]:
        rows = self._db.query("SELECT event_id, name FROM snapshots")
        return [SnapshotRow(str(row["event_id"]), str(row["name"])) for row in rows]

    def oldest(self, limit: int) -> list[SnapshotRow]:
        """Snapshots of the oldest events first."""
        return [
            SnapshotRow(str(row["event_id"]), str(row["name"]), int(row["size"]), int(row["saved_ns"]))
            for row in self._db.query(_OLDEST, (limit,))
        ]

    def forget(self, rows: Iterable[SnapshotRow]) -> None:
        """Deletes these rows (by event and name: a newer snapshot saved meanwhile stays)."""
        with self._db.write() as conn:
            conn.executemany(
                "DELETE FROM snapshots WHERE event_id = ? AND name = ?", [(r.event_id, r.name) for r in rows]
            )

    def evict(self, rows: Iterable[SnapshotRow]) -> None:
        """Deletes these rows (by event and version: a newer snapshot saved meanwhile stays)."""
        with self._db.write() as conn:
            conn.executemany(
                "DELETE FROM snapshots WHERE event_id = ? AND saved_ns = ?", [(r.event_id, r.saved_ns) for r in rows]
            )
