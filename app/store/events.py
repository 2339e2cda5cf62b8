"""Events: one row per tracked object's event (new -> update -> end), and what retention asks of them.

Raises StoreError for a storage failure (see `app.store`); never counts or logs it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from app.domain import Event
from app.store.db import Database, clamp_limit

# SQL is written out in full (no string building); every value is a bound parameter.
_UPSERT = """
    INSERT INTO events (id, camera, label, score, top_score, box, zones, start_time, end_time, stationary)
    VALUES (:id, :camera, :label, :score, :top_score, :box, :zones, :start_time, :end_time, :stationary)
    ON CONFLICT (id) DO UPDATE SET
        camera = excluded.camera, label = excluded.label, score = excluded.score,
        top_score = excluded.top_score, box = excluded.box, zones = excluded.zones,
        start_time = excluded.start_time, end_time = excluded.end_time, stationary = excluded.stationary
"""
_SELECT = """
    SELECT id, camera, label, score, top_score, box, zones, start_time, end_time, stationary FROM events
    WHERE (:camera IS NULL OR camera = :camera) AND (:label IS NULL OR label = :label)
    AND (:since IS NULL OR start_time >= :since)
    ORDER BY start_time DESC, id DESC LIMIT :limit
"""
_SELECT_ONE = """
    SELECT id, camera, label, score, top_score, box, zones, start_time, end_time, stationary FROM events WHERE id = ?
"""
_EXPIRED = """
    SELECT e.id AS id, s.name AS snapshot FROM events e LEFT JOIN snapshots s ON s.event_id = e.id
    WHERE COALESCE(e.end_time, e.start_time) < ? ORDER BY e.start_time LIMIT ?
"""
_OLDEST_ENDED = """
    SELECT e.id AS id, s.name AS snapshot FROM events e LEFT JOIN snapshots s ON s.event_id = e.id
    WHERE e.end_time IS NOT NULL ORDER BY e.start_time LIMIT ?
"""


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event's id and the name of its snapshot file, if it has one: what deleting it involves."""

    id: str
    snapshot: str | None


class Events:
    """The events table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def save(self, event: Event) -> None:
        """Inserts or updates the event by id."""
        row = {
            "id": event.id,
            "camera": event.camera,
            "label": event.label,
            "score": float(event.score),
            "top_score": float(event.top_score),
            "box": to_json(event.box),
            "zones": to_json(event.zones),
            "start_time": float(event.start_time),
            "end_time": None if event.end_time is None else float(event.end_time),
            "stationary": int(event.stationary),
        }
        with self._db.write() as conn:
            conn.execute(_UPSERT, row)

    def get(self, event_id: str) -> Event | None:
        rows = self._db.query(_SELECT_ONE, (event_id,))
        return _event(rows[0]) if rows else None

    def find(
        self, *, camera: str | None = None, label: str | None = None, since: float | None = None, limit: int = 50
    ) -> list[Event]:
        """Newest (by start time) first; `since` keeps those that started at or after it."""
        limit = clamp_limit(limit)
        if limit == 0:
            return []
        params = {"camera": camera, "label": label, "since": None if since is None else float(since), "limit": limit}
        return [_event(row) for row in self._db.query(_SELECT, params)]

    def count(self) -> int:
        return int(self._db.query("SELECT count(*) AS n FROM events")[0]["n"])

    # -- for retention

    def expired(self, cutoff: float, limit: int) -> list[StoredEvent]:
        """The oldest events whose last known time (end, or start while open) is before `cutoff`."""
        return _stored(self._db.query(_EXPIRED, (float(cutoff), limit)))

    def oldest_ended(self, limit: int) -> list[StoredEvent]:
        """The oldest events that have ended (open ones are never evicted for size)."""
        return _stored(self._db.query(_OLDEST_ENDED, (limit,)))

    def delete(self, ids: Iterable[str]) -> None:
        """Deletes the events (their snapshot rows go with them: ON DELETE CASCADE)."""
        with self._db.write() as conn:
            conn.executemany("DELETE FROM events WHERE id = ?", [(event_id,) for event_id in ids])


def to_json(values: Sequence[object]) -> str:
    return json.dumps(list(values), separators=(",", ":"))


def box_of(text: str) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (float(v) for v in json.loads(text))
    return (x1, y1, x2, y2)


def zones_of(text: str) -> tuple[str, ...]:
    return tuple(str(z) for z in json.loads(text))


def _stored(rows: list[sqlite3.Row]) -> list[StoredEvent]:
    return [StoredEvent(str(row["id"]), None if row["snapshot"] is None else str(row["snapshot"])) for row in rows]


def _event(row: sqlite3.Row) -> Event:
    return Event(
        id=str(row["id"]),
        camera=str(row["camera"]),
        label=str(row["label"]),
        score=float(row["score"]),
        top_score=float(row["top_score"]),
        box=box_of(row["box"]),
        zones=zones_of(row["zones"]),
        start_time=float(row["start_time"]),
        end_time=None if row["end_time"] is None else float(row["end_time"]),
        stationary=bool(row["stationary"]),
    )
