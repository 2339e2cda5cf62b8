"""The footage index: every finished segment file (app.record) as a row, and its retention.

    <storage.path>/recordings/<camera>/<YYYY-MM-DD>/<HH>/<start_ms>.mp4     0600 files, 0700 folders

A row holds what `app.record.Segment` says (times, size, frames, codec parameters), so a
clip is built from the index without opening any file but those it joins. Names are
stored relative to the recordings folder and resolved under it: no row can point outside.

Retention (called by `app.store.retention.enforce`, files before rows as for snapshots):
  - age: segments that ended more than the camera's `retain_days` ago;
  - unwanted (cameras in `mode: events`): segments that overlap no stored event ± the
    camera's pre/post capture, once post-capture and `UNWANTED_GRACE_S` have passed (an
    event is stored when its track is confirmed, a moment after the object appeared);
  - quota: the oldest footage first — footage of no alert, then that of alerts, oldest
    alert first, so the evidence of the newest alerts goes last.

Errors follow `app.store`: StoreError from the index, OSError from the files; only `add` (the
recorder's sink) degrades, through the store's `Failures`.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from app.record import Segment, StreamInfo, as_codec
from app.store.db import Database
from app.store.errors import Failures

log = logging.getLogger(__name__)

RECORDINGS = "recordings"
DAY_S = 86_400.0
UNWANTED_GRACE_S = 30.0
BATCH = 200

_INSERT = """
    INSERT INTO segments (name, camera, start, end, size, frames, codec, width, height, tb_num, tb_den, extradata)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (name) DO UPDATE SET
        camera = excluded.camera, start = excluded.start, end = excluded.end, size = excluded.size,
        frames = excluded.frames, codec = excluded.codec, width = excluded.width, height = excluded.height,
        tb_num = excluded.tb_num, tb_den = excluded.tb_den, extradata = excluded.extradata
"""
_COLUMNS = "name, camera, start, end, size, frames, codec, width, height, tb_num, tb_den, extradata"
_OVERLAPPING = f"""
    SELECT {_COLUMNS} FROM segments WHERE camera = ? AND start <= ? AND end > ? ORDER BY start
"""  # noqa: S608 - a constant column list, every value bound
_ANY_OVERLAPPING = "SELECT 1 FROM segments WHERE camera = ? AND start <= ? AND end > ? LIMIT 1"
# Segments of one camera overlapping no event ± (pre, post); an open event counts up to `now`.
_UNWANTED = """
    SELECT s.name, s.size FROM segments s WHERE s.camera = ?1 AND s.end < ?2 AND NOT EXISTS (
        SELECT 1 FROM events e WHERE e.camera = s.camera
        AND e.start_time - ?3 <= s.end AND COALESCE(e.end_time, ?4) + ?5 >= s.start
    ) ORDER BY s.start LIMIT ?6
"""
# Footage overlapping no alerted event's window, oldest first.
_NOT_EVIDENCE = """
    SELECT s.name, s.size FROM segments s WHERE NOT EXISTS (
        SELECT 1 FROM alerts a JOIN events e ON e.id = a.event_id WHERE e.camera = s.camera
        AND e.start_time - ?1 <= s.end AND COALESCE(e.end_time, ?2) + ?1 >= s.start
    ) ORDER BY s.start LIMIT ?3
"""


@dataclass(frozen=True, slots=True)
class FootagePolicy:
    """One camera's recording settings, as retention and clips need them."""

    mode: str  # events | continuous
    pre_capture: float
    post_capture: float
    retain_days: int


@dataclass(slots=True)
class FootageTally:
    expired: int = 0  # segments deleted for age
    unwanted: int = 0  # segments deleted for overlapping no event (mode: events)
    evicted: int = 0  # segments deleted for size
    files: int = 0
    bytes: int = 0


class Footage:
    """The segment index of one store. Thread-safe (the database is; `lock` orders files with rows)."""

    def __init__(self, db: Database, root: Path, failures: Failures) -> None:
        self._db = db
        self.root = Path(root)
        self._failures = failures
        self.lock = threading.Lock()
        self.policies: dict[str, FootagePolicy] = {}  # set by the service; unknown cameras: store defaults

    def folder(self, camera: str) -> Path:
        """Where a camera's segments are written (camera names are path-safe: config NAME_PATTERN)."""
        if not camera or "/" in camera or camera in (".", ".."):
            raise ValueError(f"not a camera name: {camera!r}")
        return self.root / camera

    def add(self, segment: Segment) -> bool:
        """Index a finished segment (a `SegmentSink`). Never raises for a storage failure (the recorder's
        thread must go on): that is counted as "index_segment" in the store's failures, and False returned."""
        try:
            name = Path(segment.path).resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            log.warning("footage: %s is outside %s; not indexed", segment.path, self.root)
            return False
        info = segment.stream
        row = (
            name, segment.camera, float(segment.start), float(segment.end), int(segment.size), int(segment.frames),
            info.codec, info.width, info.height, info.time_base.numerator, info.time_base.denominator,
            info.extradata,
        )  # fmt: skip

        def index() -> bool:
            with self.lock, self._db.write() as conn:
                conn.execute(_INSERT, row)
            return True

        return self._failures.degrade("index_segment", index, False)

    def segments(self, camera: str, start: float, end: float) -> list[Segment]:
        """The camera's indexed segments overlapping [start, end], oldest first."""
        rows = self._db.query(_OVERLAPPING, (camera, float(end), float(start)))
        return [self._segment(row) for row in rows]

    def has(self, camera: str, start: float, end: float) -> bool:
        return bool(self._db.query(_ANY_OVERLAPPING, (camera, float(end), float(start))))

    def names(self, camera: str) -> set[str]:
        return {str(r["name"]) for r in self._db.query("SELECT name FROM segments WHERE camera = ?", (camera,))}

    def total_bytes(self) -> int:
        return int(self._db.query("SELECT COALESCE(SUM(size), 0) AS total FROM segments")[0]["total"])

    def path_of(self, name: str) -> Path:
        return self.root / name

    def _segment(self, row: sqlite3.Row) -> Segment:
        info = StreamInfo(as_codec(str(row["codec"])), int(row["width"]), int(row["height"]),
                          Fraction(int(row["tb_num"]), int(row["tb_den"])), bytes(row["extradata"]))  # fmt: skip
        return Segment(str(row["camera"]), self.path_of(str(row["name"])), float(row["start"]), float(row["end"]),
                       int(row["size"]), int(row["frames"]), info)  # fmt: skip

    # -- retention -------------------------------------------------------------------------

    def policy(self, camera: str, retain_days: int) -> FootagePolicy:
        return self.policies.get(camera) or FootagePolicy("continuous", 0.0, 0.0, retain_days)

    def sweep(self) -> None:
        """Rows whose file is gone (deleted by hand, or a crash between a file's and its row's deletion)."""
        rows = self._db.query("SELECT name FROM segments")
        gone = [(str(r["name"]),) for r in rows if not self.path_of(str(r["name"])).is_file()]
        if gone:
            with self.lock, self._db.write() as conn:
                conn.executemany("DELETE FROM segments WHERE name = ?", gone)

    def expire(self, now: float, default_days: int, tally: FootageTally) -> None:
        for camera in self._cameras():
            cutoff = now - self.policy(camera, default_days).retain_days * DAY_S
            while rows := self._db.query(
                "SELECT name, size FROM segments WHERE camera = ? AND end < ? ORDER BY start LIMIT ?",
                (camera, cutoff, BATCH),
            ):
                tally.expired += self._delete(rows, tally)

    def drop_unwanted(self, now: float, default_days: int, tally: FootageTally) -> None:
        for camera in self._cameras():
            policy = self.policy(camera, default_days)
            if policy.mode != "events":
                continue
            settled = now - policy.post_capture - UNWANTED_GRACE_S
            params = (camera, settled, policy.pre_capture, now, policy.post_capture, BATCH)
            while rows := self._db.query(_UNWANTED, params):
                tally.unwanted += self._delete(rows, tally)

    def evict(self, excess: int, now: float, tally: FootageTally) -> int:
        """Delete the oldest footage, non-evidence first, until `excess` bytes are freed; the bytes still over."""
        margin = max([0.0, *(max(p.pre_capture, p.post_capture) for p in self.policies.values())])
        for sql, params in (
            (_NOT_EVIDENCE, (margin, now, BATCH)),
            ("SELECT name, size FROM segments ORDER BY start LIMIT ?", (BATCH,)),
        ):
            while excess > 0:
                rows = self._db.query(sql, params)
                if not rows:
                    break
                chosen = []
                for row in rows:
                    chosen.append(row)
                    excess -= int(row["size"])
                    if excess <= 0:
                        break
                tally.evicted += self._delete(chosen, tally)
        return excess

    def _cameras(self) -> list[str]:
        return [str(r["camera"]) for r in self._db.query("SELECT DISTINCT camera FROM segments")]

    def _delete(self, rows: Iterable[sqlite3.Row], tally: FootageTally) -> int:
        """Files first, then rows (a full disk may refuse the commit; the sweep catches up)."""
        names = []
        with self.lock:
            for row in rows:
                name = str(row["name"])
                path = self.path_of(name)
                try:
                    path.unlink()
                    tally.files += 1
                    tally.bytes += int(row["size"])
                except FileNotFoundError:
                    pass
                if path.parent.parent.name + "/" + path.parent.name != time.strftime("%Y-%m-%d/%H", time.gmtime()):
                    for parent in (path.parent, path.parent.parent):  # the hour, then the day, once empty
                        with contextlib.suppress(OSError):  # (never the hour a writer may be creating files in)
                            parent.rmdir()
                names.append((name,))
            with self._db.write() as conn:
                conn.executemany("DELETE FROM segments WHERE name = ?", names)
        return len(names)
