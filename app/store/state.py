"""Small key/value state that must survive a restart (the mode, cameras switched off, the MQTT client id).

Raises StoreError for a storage failure (see `app.store`); never counts or logs it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from app.store.db import Database

MAX_KEY = 200
MAX_VALUE = 64 * 1024

_UPSERT = """
    INSERT INTO state (key, value, updated_at) VALUES (?, ?, ?)
    ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
"""


class State:
    """The state table."""

    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock

    def get(self, key: str) -> str | None:
        rows = self._db.query("SELECT value FROM state WHERE key = ?", (key,))
        return str(rows[0]["value"]) if rows else None

    def set(self, key: str, value: str) -> None:
        """Stores a small value durably (synchronous=FULL). ValueError for a key or value out of bounds."""
        if not key or len(key) > MAX_KEY or len(value) > MAX_VALUE:
            raise ValueError(f"state keys are 1..{MAX_KEY} characters, values up to {MAX_VALUE}")
        with self._db.write(durable=True) as conn:
            conn.execute(_UPSERT, (key, value, self._clock()))
