"""Alerts and the MQTT outbox: an alert is stored durably before anything acts on it, and stays
pending until the broker acknowledged it (`delivered_at`).

Raises StoreError for a storage failure (see `app.store`); never counts or logs it.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

from app.domain import Alert
from app.store.db import Database, clamp_limit
from app.store.events import box_of, to_json, zones_of

_COLUMNS = "id, rule, camera, label, score, box, zones, event_id, started_at, fired_at, severity, delivered_at"
_INSERT = """
    INSERT INTO alerts (id, rule, camera, label, score, box, zones, event_id, started_at, fired_at, severity, stored_at)
    VALUES (:id, :rule, :camera, :label, :score, :box, :zones, :event_id, :started_at, :fired_at, :severity, :stored_at)
    ON CONFLICT (id) DO NOTHING
"""
_SELECT = f"""
    SELECT {_COLUMNS} FROM alerts WHERE (:since IS NULL OR fired_at >= :since)
    ORDER BY fired_at DESC, id DESC LIMIT :limit
"""  # noqa: S608 - a constant column list, every value bound
_PENDING = f"""
    SELECT {_COLUMNS} FROM alerts WHERE delivered_at IS NULL AND fired_at >= ? ORDER BY fired_at, rowid LIMIT ?
"""  # noqa: S608 - a constant column list, every value bound


class Alerts:
    """The alerts table, including the outbox's delivery marks."""

    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock

    def add(self, alert: Alert) -> bool:
        """Stores the alert durably (fsynced) before returning; False if that id was already stored."""
        row = {
            "id": alert.id,
            "rule": alert.rule,
            "camera": alert.camera,
            "label": alert.label,
            "score": float(alert.score),
            "box": to_json(alert.box),
            "zones": to_json(alert.zones),
            "event_id": alert.event_id,
            "started_at": float(alert.started_at),
            "fired_at": float(alert.fired_at),
            "severity": alert.severity,
            "stored_at": self._clock(),
        }
        with self._db.write(durable=True) as conn:
            return bool(conn.execute(_INSERT, row).rowcount == 1)

    def log(self, *, since: float | None = None, limit: int = 50) -> list[tuple[Alert, float | None]]:
        """Newest (by firing time) first, each with when the broker acknowledged it (None: not yet)."""
        limit = clamp_limit(limit)
        if limit == 0:
            return []
        rows = self._db.query(_SELECT, {"since": None if since is None else float(since), "limit": limit})
        return [(_alert(row), None if row["delivered_at"] is None else float(row["delivered_at"])) for row in rows]

    def pending(self, *, since: float, limit: int = 100) -> list[Alert]:
        """Alerts fired at or after `since` the broker has not acknowledged yet, oldest first."""
        return [_alert(row) for row in self._db.query(_PENDING, (float(since), clamp_limit(limit)))]

    def pending_count(self, *, since: float) -> int:
        rows = self._db.query(
            "SELECT COUNT(*) AS n FROM alerts WHERE delivered_at IS NULL AND fired_at >= ?", (float(since),)
        )
        return int(rows[0]["n"])

    def mark_delivered(self, alert_id: str, at: float) -> None:
        """Not fsynced: after a power cut the alert may go out once more, with the same id."""
        with self._db.write() as conn:
            conn.execute("UPDATE alerts SET delivered_at = ? WHERE id = ?", (float(at), alert_id))

    def expire(self, cutoff: float) -> int:
        """Deletes alerts fired before `cutoff`; how many."""
        with self._db.write() as conn:
            return int(conn.execute("DELETE FROM alerts WHERE fired_at < ?", (float(cutoff),)).rowcount)


def _alert(row: sqlite3.Row) -> Alert:
    return Alert(
        id=str(row["id"]),
        rule=str(row["rule"]),
        camera=str(row["camera"]),
        label=str(row["label"]),
        score=float(row["score"]),
        box=box_of(row["box"]),
        zones=zones_of(row["zones"]),
        event_id=str(row["event_id"]),
        started_at=float(row["started_at"]),
        fired_at=float(row["fired_at"]),
        severity=str(row["severity"]),
    )
