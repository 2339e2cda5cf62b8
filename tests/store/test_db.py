"""The SQLite side of the evidence store, on real files: events, alerts, state, schema, threads."""

from __future__ import annotations

import dataclasses
import hashlib
import random
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from app.domain import Alert, Box, Event
from app.store import SCHEMA_VERSION, Store, StoreError
from app.store.db import DB_NAME, MIGRATIONS

NOW = 1_764_025_200.0


def event(
    n: int, *, camera: str = "porch", label: str = "person", start: float = NOW, end: float | None = None
) -> Event:
    return Event(
        id=f"{int(start * 1000)}-{camera}-{n}",
        camera=camera,
        label=label,
        score=0.61,
        top_score=0.72,
        box=(0.1, 0.25, 0.375, 0.9),
        zones=("drive", "porch"),
        start_time=start,
        end_time=end,
        stationary=False,
    )


def alert(ev: Event, *, rule: str = "person_at_porch", fired: float | None = None) -> Alert:
    return Alert(
        id=f"{ev.id}:{rule}",
        rule=rule,
        camera=ev.camera,
        label=ev.label,
        score=0.83,
        box=(0.2, 0.3, 0.4, 0.95),
        zones=("porch",),
        event_id=ev.id,
        started_at=ev.start_time,
        fired_at=ev.start_time + 1.5 if fired is None else fired,
        severity="alert",
    )


@pytest.fixture
def ev_store(tmp_path: Path) -> Iterator[Store]:
    store = Store(tmp_path / "store", retain_days=14, max_mb=64)
    yield store
    store.close()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_are_private(tmp_path: Path) -> None:
    root = tmp_path / "store"
    root.mkdir(mode=0o755)
    root.chmod(0o755)
    with Store(root, retain_days=14, max_mb=64) as store:
        store.save_event(event(1))  # makes the WAL exist
        assert mode(root) == 0o700
        assert mode(root / "snapshots") == 0o700
        for name in (DB_NAME, DB_NAME + "-wal", DB_NAME + "-shm", "edgewatch.lock"):
            assert mode(root / name) == 0o600, name


def test_event_new_update_end_round_trip(tmp_path: Path) -> None:
    root = tmp_path / "store"
    new = event(7)
    update = dataclasses.replace(new, score=0.9, top_score=0.9, box=(0.2, 0.3, 0.5, 1.0), zones=("porch",))
    end = dataclasses.replace(update, end_time=NOW + 42.5, stationary=True)
    with Store(root, retain_days=14, max_mb=64) as store:
        assert store.event(new.id) is None
        store.save_event(new)
        assert store.event(new.id) == new
        store.save_event(update)
        assert store.event(new.id) == update
        store.save_event(end)
        assert store.event(new.id) == end
        assert store.events() == [end]  # updated in place, not a second row
        assert store.failures() == {}
    with Store(root, retain_days=14, max_mb=64) as store:  # and it is on disk
        got = store.event(new.id)
    assert got == end
    assert got is not None
    assert isinstance(got.box, tuple)
    assert isinstance(got.zones, tuple)


def test_events_newest_first_with_filters_and_limit(ev_store: Store) -> None:
    evs = [
        event(1, camera="porch", label="person", start=NOW + 10),
        event(2, camera="porch", label="car", start=NOW + 20),
        event(3, camera="yard", label="person", start=NOW + 30),
        event(4, camera="yard", label="dog", start=NOW + 40),
        event(5, camera="porch", label="person", start=NOW + 50, end=NOW + 55),
    ]
    for ev in random.Random(3).sample(evs, len(evs)):
        ev_store.save_event(ev)

    def ids(found: list[Event]) -> list[int]:
        return [int(e.id.rsplit("-", 1)[1]) for e in found]

    assert ids(ev_store.events()) == [5, 4, 3, 2, 1]
    assert ids(ev_store.events(camera="porch")) == [5, 2, 1]
    assert ids(ev_store.events(label="person")) == [5, 3, 1]
    assert ids(ev_store.events(camera="yard", label="person")) == [3]
    assert ids(ev_store.events(since=NOW + 30)) == [5, 4, 3]
    assert ids(ev_store.events(camera="porch", since=NOW + 15)) == [5, 2]
    assert ids(ev_store.events(limit=2)) == [5, 4]
    assert ids(ev_store.events(label="person", limit=1)) == [5]
    assert ev_store.events(limit=0) == []
    assert ev_store.events(camera="garage") == []
    assert ev_store.events(camera="porch' OR '1'='1") == []  # values are bound, never spliced


def test_alerts_idempotent_newest_first(ev_store: Store) -> None:
    evs = [event(i, start=NOW + 100 * i) for i in range(4)]
    first = alert(evs[0])
    assert ev_store.add_alert(first) is True
    assert ev_store.add_alert(first) is False
    assert ev_store.add_alert(dataclasses.replace(first, score=0.99)) is False  # the stored one stays
    for ev in evs[1:]:
        assert ev_store.add_alert(alert(ev)) is True
    got = ev_store.alerts()
    assert [a.id for a in got] == [alert(ev).id for ev in reversed(evs)]
    assert got[-1] == first
    assert [a.id for a in ev_store.alerts(since=NOW + 150)] == [alert(evs[3]).id, alert(evs[2]).id]
    assert [a.id for a in ev_store.alerts(limit=1)] == [alert(evs[3]).id]
    assert ev_store.alerts(since=NOW + 1000) == []


def test_alert_commits_with_full_sync_and_events_do_not(ev_store: Store) -> None:
    statements: list[str] = []
    ev_store._db._writer.set_trace_callback(statements.append)
    ev = event(1)
    ev_store.save_event(ev)
    event_sql = list(statements)
    statements.clear()
    ev_store.add_alert(alert(ev))
    ev_store._db._writer.set_trace_callback(None)

    assert not any("synchronous = FULL" in s for s in event_sql)
    norm = [" ".join(s.split()) for s in statements]
    full = norm.index("PRAGMA synchronous = FULL")
    insert = next(i for i, s in enumerate(norm) if s.startswith("INSERT INTO alerts"))
    commit = norm.index("COMMIT")
    back = norm.index("PRAGMA synchronous = NORMAL")
    assert full < insert < commit < back
    with sqlite3.connect(ev_store.root / DB_NAME) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_state_round_trip_and_durable(tmp_path: Path) -> None:
    root = tmp_path / "store"
    with Store(root, retain_days=14, max_mb=64) as store:
        assert store.get_state("mode") is None
        store.set_state("mode", "away")
        store.set_state("mode", "night")
        store.set_state("other", "x")
        assert store.get_state("mode") == "night"
        with pytest.raises(ValueError, match=r"state keys are 1\.\.200 characters"):
            store.set_state("", "x")
    with Store(root, retain_days=14, max_mb=64) as store:
        assert store.get_state("mode") == "night"
        assert store.get_state("other") == "x"


# The schema exactly as version 1 shipped it (frozen here on purpose: migrations must
# keep upgrading databases that look like this, whatever MIGRATIONS[0] says).
V1_SCHEMA = (
    """CREATE TABLE events (id TEXT PRIMARY KEY, camera TEXT NOT NULL, label TEXT NOT NULL, score REAL NOT NULL,
       top_score REAL NOT NULL, box TEXT NOT NULL, zones TEXT NOT NULL, start_time REAL NOT NULL, end_time REAL,
       stationary INTEGER NOT NULL)""",
    "CREATE INDEX events_start ON events (start_time)",
    """CREATE TABLE alerts (id TEXT PRIMARY KEY, rule TEXT NOT NULL, camera TEXT NOT NULL, label TEXT NOT NULL,
       score REAL NOT NULL, box TEXT NOT NULL, zones TEXT NOT NULL, event_id TEXT NOT NULL, started_at REAL NOT NULL,
       fired_at REAL NOT NULL, severity TEXT NOT NULL, stored_at REAL NOT NULL)""",
    "CREATE INDEX alerts_fired ON alerts (fired_at)",
    "CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at REAL NOT NULL)",
)


def test_migrates_a_v1_database_to_current(tmp_path: Path) -> None:
    assert SCHEMA_VERSION >= 2
    assert len(MIGRATIONS) == SCHEMA_VERSION
    root = tmp_path / "store"
    root.mkdir()
    old = event(1, end=NOW + 9)
    conn = sqlite3.connect(root / DB_NAME)
    for sql in V1_SCHEMA:
        conn.execute(sql)
    conn.execute(
        "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (old.id, "porch", "person", 0.61, 0.72, "[0.1,0.25,0.375,0.9]", '["drive","porch"]', NOW, NOW + 9, 0),
    )
    conn.execute(
        "INSERT INTO alerts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (alert(old).id, "person_at_porch", "porch", "person", 0.83, "[0.2,0.3,0.4,0.95]", '["porch"]', old.id, NOW,
         NOW + 1.5, "alert", NOW + 2),
    )  # fmt: skip
    conn.execute("INSERT INTO state VALUES ('mode', 'home', 0)")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()

    with Store(root, retain_days=14, max_mb=64) as store:
        assert store.event(old.id) == old
        assert store.alerts() == [alert(old)]
        assert store.get_state("mode") == "home"
        # what version 2 brought works on the old rows
        path = store.save_snapshot(old.id, np.zeros((48, 64, 3), np.uint8), Box(2, 2, 30, 40), "person", 0.8)
        assert path is not None
        assert store.snapshot_path(old.id) == path
    with sqlite3.connect(root / DB_NAME) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert {"snapshots", "events_camera_start"} <= names
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []


def test_a_newer_schema_is_refused_and_left_untouched(tmp_path: Path) -> None:
    root = tmp_path / "store"
    root.mkdir()
    db = root / DB_NAME
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE future (x)")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    with pytest.raises(StoreError, match=rf"schema version {SCHEMA_VERSION + 1}.*newer edgewatch"):
        Store(root, retain_days=14, max_mb=64)
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert not (root / (DB_NAME + "-wal")).exists()
    with Store(root / "other", retain_days=14, max_mb=64):  # the refusal let go of its lock and files
        pass
    with pytest.raises(StoreError):  # still refused the second time
        Store(root, retain_days=14, max_mb=64)


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    root = tmp_path / "store"
    root.mkdir()
    (root / DB_NAME).write_bytes(b"this is not SQLite" * 100)
    with pytest.raises(StoreError, match="move it away"):
        Store(root, retain_days=14, max_mb=64)


def test_one_process_per_store_folder(tmp_path: Path) -> None:
    root = tmp_path / "store"
    first = Store(root, retain_days=14, max_mb=64)
    with pytest.raises(StoreError, match="another process"):
        Store(root, retain_days=14, max_mb=64)
    first.close()
    with Store(root, retain_days=14, max_mb=64) as again:
        assert again.events() == []


def test_readers_do_not_wait_for_a_long_write(ev_store: Store) -> None:
    ev_store.save_event(event(1))
    inside = threading.Event()
    release = threading.Event()

    def long_write() -> None:
        with ev_store._db.write() as conn:
            conn.execute(
                "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                ("slow", "porch", "person", 0.5, 0.5, "[0,0,1,1]", "[]", NOW + 5, None, 0),
            )
            inside.set()
            release.wait(10)

    writer = threading.Thread(target=long_write)
    writer.start()
    try:
        assert inside.wait(5)
        t0 = time.monotonic()
        seen = [e.id for e in ev_store.events()]
        alerts = ev_store.alerts()
        took = time.monotonic() - t0
        # Generous for a loaded box: far under the 10 s the writer holds its transaction.
        assert took < 2.0, f"a read waited {took:.2f} s behind the writer"
        assert seen == [event(1).id]  # the uncommitted row is not visible
        assert alerts == []
    finally:
        release.set()
        writer.join()
    assert [e.id for e in ev_store.events()] == ["slow", event(1).id]


def test_many_threads_write_and_read(ev_store: Store) -> None:
    errors: list[Exception] = []

    def work(cam: str) -> None:
        try:
            for i in range(150):
                ev = event(i, camera=cam, start=NOW + i)
                ev_store.save_event(ev)
                if i % 10 == 0:
                    assert ev_store.add_alert(alert(ev)) is True
                ev_store.events(camera=cam, limit=5)
                ev_store.save_event(dataclasses.replace(ev, end_time=NOW + i + 1))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"cam{n}",)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert ev_store.failures() == {}
    for n in range(6):
        got = ev_store.events(camera=f"cam{n}", limit=1000)
        assert len(got) == 150
        assert all(e.end_time is not None for e in got)
    assert len(ev_store.alerts(limit=1000)) == 6 * 15


def test_usage_reports_the_store_and_the_disk(ev_store: Store) -> None:
    used0, free = ev_store.usage()
    assert 0 < used0 < 1
    assert free > 0
    ev = event(1)
    ev_store.save_event(ev)
    noise = np.random.default_rng(1).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    path = ev_store.save_snapshot(ev.id, noise, Box(10, 10, 200, 200), "person", 0.9)
    assert path is not None
    used1, _ = ev_store.usage()
    assert used1 - used0 == pytest.approx(path.stat().st_size / 2**20, abs=0.1)


def test_closed_store(tmp_path: Path) -> None:
    store = Store(tmp_path / "store", retain_days=14, max_mb=64)
    store.close()
    store.close()  # twice is fine
    store.save_event(event(1))  # never raises into the pipeline
    assert store.failures() == {"save_event:closed": 1}
    with pytest.raises(StoreError):
        store.add_alert(alert(event(1)))
    with pytest.raises(StoreError):
        store.events()
