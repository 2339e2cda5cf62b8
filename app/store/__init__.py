"""The local evidence store: events, alerts and small state in SQLite, best snapshots as JPEG files.

`Store` is the one entry point (see `app.store.db` for durability, threading and
failure behaviour); `enforce_retention` applies storage.retain_days and storage.max_mb.
"""

from app.store.db import SCHEMA_VERSION, Store, StoreError
from app.store.retention import RetentionReport

__all__ = ["SCHEMA_VERSION", "RetentionReport", "Store", "StoreError"]
