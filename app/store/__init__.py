"""The local evidence store: events, alerts and small state in SQLite, best snapshots as JPEG files,
the footage index; retention applies storage.retain_days and storage.max_mb.

Layout
    `store.Store`            the facade every caller uses; opens and flocks the folder
    `db.Database`            connections, migrations, transactions, size, compaction (durability, threads)
    `events`, `alerts`, `snapshot_index`, `state`, `footage`
                             one repository per record kind (`alerts` includes the MQTT outbox marks)
    `snapshots`              rendering and the snapshot files; `retention` the age and size limits
    `errors`                 StoreError, `error_kind`/`describe`, and `Failures` (the failure accounting)

The error contract (disk full, read-only, I/O errors: a disk failure degrades and recovers, it never
takes the service down)
    1. `Database` and every repository raise `StoreError` for any SQLite or OS failure of the
       database (the original as `__cause__`), and for a closed store; the snapshot and footage
       files raise `OSError` as it comes. They never count, log or swallow a failure. A bad
       argument is a ValueError (a caller's bug, not a storage failure).
    2. `Store` alone decides what a failure means to its caller, by operation:
       - degrade: `save_event`, `save_snapshot` (None), `mark_delivered`, `enforce_retention` (per
         step, in its report), `free_footage`, and `footage.add` (False, as "index_segment"). The
         pipeline, the outbox and the recorder go on; the failure is counted in `failures()`,
         logged once per kind until that operation works again, and kept as `last_error`.
       - raise, counted: `add_alert` and `set_state` raise StoreError when the value is not stored
         durably (the alert is still published; the mode change is refused).
       - raise, not counted: the reads (`event`, `events`, `alerts`, `alert_log`, `pending_alerts`,
         `pending_count`, `get_state`, `snapshot_path`, `footage.segments`/`has`): the API answers
         503, the outbox tries again. `usage` counts a part it cannot read as 0.
       All counting goes through `errors.Failures` (`degrade`, or `record` before re-raising).
    Messages name the operation, the error kind and the OS or SQLite reason, never a stored value.

One process owns a store folder at a time (an flock on `edgewatch.lock`).
"""

from app.store.db import SCHEMA_VERSION
from app.store.errors import StoreError, describe, error_kind
from app.store.retention import RetentionReport
from app.store.store import Store

__all__ = ["SCHEMA_VERSION", "RetentionReport", "Store", "StoreError", "describe", "error_kind"]
