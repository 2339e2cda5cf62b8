"""The store's seams: the database's error mapping, one repository per record kind (rows by name),
the failure accounting, and retention going through the repositories."""

from __future__ import annotations

import dataclasses
import errno
import logging
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import app.store.retention
from app.domain import Alert, Box, Event
from app.store import Store, StoreError, describe, error_kind
from app.store.alerts import Alerts
from app.store.db import Database
from app.store.errors import Failures, UnknownEventError
from app.store.events import Events, StoredEvent
from app.store.snapshot_index import SnapshotIndex, SnapshotRow
from app.store.state import State

NOW = 1_764_025_200.0


def event(n: int, start: float = NOW, *, end: float | None = None) -> Event:
    return Event(f"ev-{n}", "porch", "person", 0.6, 0.7, (0.1, 0.2, 0.3, 0.4), ("porch",), start, end, False)


def alert(ev: Event, fired: float) -> Alert:
    return Alert(f"{ev.id}:r", "r", ev.camera, ev.label, 0.8, ev.box, ev.zones, ev.id, ev.start_time, fired, "alert")


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(tmp_path / "test.db")
    yield database
    database.close()


# ---- the database: rows by name, every failure a StoreError


def test_rows_are_read_by_name(db: Database) -> None:
    Events(db).save(event(1))
    row = db.query("SELECT id, camera FROM events")[0]
    assert isinstance(row, sqlite3.Row)
    assert (row["id"], row["camera"]) == ("ev-1", "porch")


def write_a_row_then_fail(db: Database) -> None:
    """One write transaction: a good insert, then one into a table that does not exist."""
    with db.write() as conn:
        conn.execute("INSERT INTO state (key, value, updated_at) VALUES ('k', 'v', 0)")
        conn.execute("INSERT INTO no_such_table VALUES (1)")


def test_a_sqlite_failure_in_a_write_rolls_back_and_is_a_store_error(db: Database) -> None:
    with pytest.raises(StoreError, match=r"storage write failed \(SQLITE_ERROR\)") as caught:
        write_a_row_then_fail(db)
    assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
    assert error_kind(caught.value) == "SQLITE_ERROR"  # the cause's kind, not "StoreError"
    assert "no such table" in describe(caught.value)
    assert State(db).get("k") is None  # rolled back


def test_an_os_failure_in_a_write_is_a_store_error_naming_its_errno(db: Database) -> None:
    with pytest.raises(StoreError) as caught, db.write():
        raise OSError(errno.ENOSPC, "No space left on device", "/secret/path")
    assert error_kind(caught.value) == "ENOSPC"
    assert describe(caught.value) == "No space left on device"  # no file name


def test_reads_and_writes_of_a_closed_database_raise_store_error(db: Database) -> None:
    db.close()
    with pytest.raises(StoreError) as caught:
        Events(db).save(event(1))
    assert error_kind(caught.value) == "closed"
    with pytest.raises(StoreError):
        Events(db).get("ev-1")
    with pytest.raises(StoreError):
        db.compact()


# ---- repositories


def test_events_repository(db: Database) -> None:
    events = Events(db)
    old, open_, young = event(1, NOW - 100, end=NOW - 90), event(2, NOW - 50), event(3, NOW - 10, end=NOW - 5)
    for ev in (old, open_, young):
        events.save(ev)
    assert events.get("ev-2") == open_
    assert events.get("nope") is None
    assert [e.id for e in events.find()] == ["ev-3", "ev-2", "ev-1"]  # newest first
    assert [e.id for e in events.find(since=NOW - 50, limit=1)] == ["ev-3"]
    assert events.find(limit=0) == []
    assert events.count() == 3
    assert events.expired(NOW - 60, 10) == [StoredEvent("ev-1", None)]
    assert [e.id for e in events.oldest_ended(10)] == ["ev-1", "ev-3"]  # the open one is never among them
    events.delete(["ev-1", "ev-3"])
    assert [e.id for e in events.find()] == ["ev-2"]


def test_alerts_repository_and_outbox_marks(db: Database) -> None:
    Events(db).save(event(1))
    alerts = Alerts(db, clock=lambda: NOW)
    early, late = alert(event(1), NOW - 30), dataclasses.replace(alert(event(1), NOW - 10), id="late")
    assert alerts.add(early)
    assert alerts.add(late)
    assert not alerts.add(early)  # the same id twice
    assert alerts.pending_count(since=0) == 2
    assert [a.id for a in alerts.pending(since=0)] == [early.id, "late"]  # oldest first
    alerts.mark_delivered(early.id, NOW)
    assert [a.id for a in alerts.pending(since=0)] == ["late"]
    assert alerts.log() == [(late, None), (early, NOW)]  # newest first, with delivery times
    assert alerts.expire(NOW - 20) == 1
    assert [a.id for a, _ in alerts.log()] == ["late"]


def test_state_repository(db: Database) -> None:
    state = State(db)
    assert state.get("mode") is None
    state.set("mode", "away")
    state.set("mode", "home")
    assert state.get("mode") == "home"
    with pytest.raises(ValueError, match="state keys"):
        state.set("", "x")


def test_snapshot_index(db: Database, tmp_path: Path) -> None:
    Events(db).save(event(1, NOW - 10))
    Events(db).save(event(2, NOW))
    index = SnapshotIndex(db)
    target = tmp_path / "a.jpg"
    assert index.put("ev-1", "a.jpg", 10, lambda: target) == target
    index.put("ev-2", "b.jpg", 20, lambda: target)
    with pytest.raises(UnknownEventError):
        index.put("nope", "c.jpg", 1, lambda: target)
    assert index.name("ev-1") == "a.jpg"
    assert index.name("nope") is None
    assert index.total_bytes() == 30
    assert {(r.event_id, r.name) for r in index.all()} == {("ev-1", "a.jpg"), ("ev-2", "b.jpg")}
    oldest = index.oldest(10)
    assert [(r.event_id, r.size) for r in oldest] == [("ev-1", 10), ("ev-2", 20)]  # by the event's start
    index.evict(oldest[:1])
    index.forget([SnapshotRow("ev-2", "b.jpg")])
    assert index.all() == []


def test_a_failed_publish_keeps_the_old_row(db: Database, tmp_path: Path) -> None:
    Events(db).save(event(1))
    index = SnapshotIndex(db)
    index.put("ev-1", "a.jpg", 10, lambda: tmp_path)

    def refuse() -> Path:
        raise OSError(errno.EROFS, "Read-only file system")

    with pytest.raises(StoreError) as caught:
        index.put("ev-1", "a.jpg", 99, refuse)
    assert error_kind(caught.value) == "EROFS"
    assert index.total_bytes() == 10


# ---- the failure accounting: one place


def test_degrade_counts_logs_once_and_recovers(caplog: pytest.LogCaptureFixture) -> None:
    failures = Failures()

    def broken() -> int:
        raise StoreError("storage write failed") from sqlite3.OperationalError("disk I/O error")

    caplog.set_level(logging.INFO, logger="app.store")
    assert failures.degrade("save_event", broken, -1) == -1
    assert failures.degrade("save_event", broken, -1) == -1
    assert failures.counts() == {"save_event:OperationalError": 2}
    assert failures.last == "save_event:OperationalError: disk I/O error"
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 1  # logged once
    assert failures.degrade("save_event", lambda: 7, -1) == 7
    assert any(r.getMessage() == "storage: save_event works again" for r in caplog.records)


def test_degrade_lets_a_bug_through() -> None:
    def bug() -> None:
        raise KeyError("not a storage failure")

    with pytest.raises(KeyError):
        Failures().degrade("save_event", bug, None)


def test_the_store_degrades_where_documented_and_raises_elsewhere(tmp_path: Path) -> None:
    store = Store(tmp_path / "store", retain_days=14, max_mb=64)
    # reachable, for callers
    assert isinstance(store.event_rows, Events)
    assert isinstance(store.alert_rows, Alerts)
    assert isinstance(store.snapshot_rows, SnapshotIndex)
    assert isinstance(store.state, State)
    store.save_event(event(1))
    image = np.zeros((60, 80, 3), dtype=np.uint8)
    assert store.save_snapshot("ev-1", image, Box(1, 2, 30, 40), "person", 0.9) is not None
    store.close()
    # degrade: counted, no exception
    store.save_event(event(2))
    assert store.save_snapshot("ev-1", image, Box(1, 2, 30, 40), "person", 0.9) is None
    assert store.mark_delivered("x", NOW) is False  # not marked: the outbox tries again
    assert store.free_footage(1, NOW) == (0, 0)
    report = store.enforce_retention(NOW)
    assert report.errors > 0
    # raise, counted
    with pytest.raises(StoreError, match="not stored durably"):
        store.add_alert(alert(event(1), NOW))
    with pytest.raises(StoreError, match="was not stored"):
        store.set_state("mode", "home")
    counted = store.failures()
    for op in ("save_event", "save_snapshot", "mark_delivered", "footage_free", "add_alert", "set_state"):
        assert counted.get(f"{op}:closed") == 1, op
    # raise, not counted
    for read in (store.events, lambda: store.get_state("mode"), lambda: store.pending_count(since=0)):
        with pytest.raises(StoreError):
            read()
    assert store.failures() == {**counted}


def test_retention_speaks_to_the_repositories_not_sql() -> None:
    source = Path(app.store.retention.__file__).read_text()
    assert not re.search(r"\b(SELECT|DELETE|INSERT|UPDATE)\b", source)
    assert "sqlite3" not in source
