"""What is read after the run: the alerts committed in the store, the appliance's log, the machine."""

from __future__ import annotations

import contextlib
import os
import platform
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from app.store import Store
from app.store.db import DB_NAME, MAX_LIMIT


def count_log(logs: Sequence[Path], needles: Sequence[str], start: float, end: float) -> int:
    """Lines of the appliance's log between two wall-clock times that mention one of `needles`."""
    n = 0
    for log in logs:
        with contextlib.suppress(OSError):
            for line in log.read_text(errors="replace").splitlines():
                try:  # "2026-11-25 02:45:01,123 WARNING ...": logging's asctime, local time
                    t = time.mktime(time.strptime(line[:19], "%Y-%m-%d %H:%M:%S")) + int(line[20:23]) / 1000
                except ValueError:
                    continue
                if start <= t <= end and any(x in line for x in needles):
                    n += 1
    return n


def read_store(storage: Path) -> tuple[dict[str, dict[str, Any]], str]:
    """Every alert committed in the store, read after the appliance has stopped, and an integrity check."""
    conn = sqlite3.connect(storage / DB_NAME)
    try:
        integrity = str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()
    with Store(storage, retain_days=1, max_mb=32) as store:
        rows = store.alert_log(since=None, limit=MAX_LIMIT)
    if len(rows) >= MAX_LIMIT:
        raise RuntimeError(f"{MAX_LIMIT} alerts or more: the store lists only {MAX_LIMIT} at once")
    return {
        a.id: {"camera": a.camera, "event_id": a.event_id, "fired_at": a.fired_at, "delivered_at": d} for a, d in rows
    }, integrity


def machine_line() -> str:
    model = ""
    with contextlib.suppress(OSError):
        model = next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            "",
        )
    return f"{platform.machine()} {model}, {os.cpu_count()} cores".strip()
