"""Writes to a Store from several threads as fast as it can, until it is killed.

    python crash_writer.py ROOT RUN

The subject of tests/store/test_crash.py. Prints `ready` once the store is open, then
`alert <id>` right after each `add_alert` has returned (the acknowledgement the test
holds the store to), and `state <value>` after each `set_state`. Pipeline-like
threads save events and snapshots (new, update, end, and some already older than the
retention window), a reader queries, and a janitor enforces retention against a 1 MB
quota, so a kill can land anywhere: in a commit, a snapshot replace, an eviction or a
checkpoint.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from app.domain import Alert, Box, Event
from app.store import Store

DAY = 86_400.0


_OUT = threading.Lock()


def say(line: str) -> None:
    """One line on stdout, whole, from any thread: what the test reads."""
    with _OUT:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def pipeline(store: Store, run: str, camera: str, frames: Sequence[npt.NDArray[np.uint8]]) -> None:
    """Events and snapshots as a camera's pipeline writes them: new, update, end."""
    i = 0
    while True:
        old = i % 7 == 0  # an event already past retain_days: the janitor deletes it
        start = time.time() - (2 * DAY if old else 0.0)
        ev = Event(f"{run}-{camera}-{i}", camera, "person", 0.5, 0.5, (0.1, 0.1, 0.4, 0.8), ("porch",), start,
                   None, False)  # fmt: skip
        store.save_event(ev)
        store.save_snapshot(ev.id, frames[i % 3], Box(10, 10, 80, 100), "person", 0.5)
        ev = dataclasses.replace(ev, score=0.8, top_score=0.8, zones=("porch", "drive"))
        store.save_event(ev)
        store.save_snapshot(ev.id, frames[(i + 1) % 3], Box(20, 15, 90, 110), "person", 0.8)
        store.save_event(dataclasses.replace(ev, end_time=start + 3.0))
        i += 1


def reader(store: Store) -> None:
    while True:
        for ev in store.events(limit=20):
            store.snapshot_path(ev.id)
        store.alerts(limit=20)
        store.get_state("mode")


def janitor(store: Store) -> None:
    while True:
        store.enforce_retention(time.time())
        time.sleep(0.02)  # the janitor's own (fast) schedule in this stress writer


def alerts_and_state(store: Store, run: str) -> None:
    """Alerts, each acknowledged on stdout once add_alert has returned; every tenth, a state change too."""
    i = 0
    while True:
        ev = Event(f"{run}-alerts-{i}", "cam3", "car", 0.9, 0.9, (0.2, 0.2, 0.6, 0.9), (), time.time(), None, False)
        store.save_event(ev)
        alert = Alert(f"{ev.id}:rule", "rule", ev.camera, ev.label, 0.9, ev.box, ("drive",), ev.id, ev.start_time,
                      time.time(), "alert")  # fmt: skip
        store.add_alert(alert)
        say(f"alert {alert.id}")  # acknowledged: add_alert has returned
        if i % 10 == 0:
            store.set_state("mode", f"away-{run}-{i}")
            say(f"state away-{run}-{i}")
        i += 1


def main() -> None:
    root, run = Path(sys.argv[1]), sys.argv[2]
    store = Store(root, retain_days=1, max_mb=1)
    rng = np.random.default_rng(int(run))
    frames = [rng.integers(0, 256, (120, 160, 3), dtype=np.uint8) for _ in range(3)]
    say("ready")
    threads: tuple[tuple[Callable[..., None], tuple[object, ...]], ...] = (
        (pipeline, (store, run, "cam1", frames)),
        (pipeline, (store, run, "cam2", frames)),
        (reader, (store,)),
        (janitor, (store,)),
    )
    for target, args in threads:
        threading.Thread(target=target, args=args, daemon=True).start()
    alerts_and_state(store, run)


if __name__ == "__main__":
    main()
