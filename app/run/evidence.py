"""Keeps the evidence of every outcome: events and their best snapshots, and alerts —
each alert committed durably before anything else may act on it (publish, notify)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from app.analysis.camera import Outcome
from app.domain import Alert
from app.store import Store, StoreError

log = logging.getLogger(__name__)

AlertSink = Callable[[Alert, bool], None]  # (alert, stored durably)


class Evidence:
    """A runner listener. `sinks` are called for each alert after it is stored."""

    def __init__(self, store: Store, sinks: list[AlertSink] | None = None) -> None:
        self._store = store
        self._sinks = sinks if sinks is not None else []

    def add_sink(self, sink: AlertSink) -> None:
        self._sinks.append(sink)

    def __call__(self, outcome: Outcome) -> None:
        for alert in outcome.alerts:
            stored = True
            try:
                self._store.add_alert(alert)
            except StoreError as exc:  # it still goes out, from memory: losing it twice helps nobody
                stored = False
                log.error("alert %s could not be stored: %s", alert.id, exc)
            log.info("ALERT %s: %s on %s (score %.2f, zones %s)", alert.rule, alert.label, alert.camera, alert.score,
                     ", ".join(alert.zones) or "-")  # fmt: skip
            for sink in self._sinks:
                try:
                    sink(alert, stored)
                except Exception:
                    log.exception("an alert sink failed for %s", alert.id)
        # Alerts first: the event row and its JPEG (~6-14 ms) must not delay them.
        for change in outcome.changes:
            self._store.save_event(change.event)  # degrades (counts, logs) on a full disk
            if change.best_frame is not None and change.best_box is not None:
                e = change.event
                self._store.save_snapshot(e.id, change.best_frame.image, change.best_box, e.label, e.top_score)
