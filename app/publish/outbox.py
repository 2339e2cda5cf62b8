"""The durable alert outbox: every alert is already in the store; this sends the ones the
broker has not acknowledged, oldest first, and marks each delivered only on its PUBACK.

During a broker outage alerts simply wait in the store (they survive a restart too);
once the broker is back they go out in order, marked `late`. Alerts older than the TTL
are kept in the store for the dashboard but no longer pushed. `companions` may add messages
that go out with each alert (Home Assistant's event entity): best effort, never acknowledged,
sent only once the alert itself is on its way.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from app.domain import Alert
from app.payloads import alert_payload
from app.publish.mqtt import Message
from app.store import Store

log = logging.getLogger(__name__)

LATE_AFTER_S = 5.0  # delivered this long after it fired: it waited in the outbox
DEFAULT_TTL_S = 24 * 3600.0
BATCH = 100
ACKED_MEMORY = 4 * BATCH  # more than one flush can have read before their acks arrived


class Publisher(Protocol):
    @property
    def connected(self) -> bool: ...

    def publish(self, message: Message, on_acked: Callable[[], None] | None = None) -> bool: ...


class Outbox:
    def __init__(
        self,
        store: Store,
        publisher: Publisher,
        topic: str,
        *,
        ttl_s: float = DEFAULT_TTL_S,
        snapshot_url: Callable[[Alert], str | None] = lambda _alert: None,
        clip_url: Callable[[Alert], str | None] = lambda _alert: None,
        companions: Callable[[Alert, dict[str, Any]], Sequence[Message]] = lambda _alert, _payload: (),
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._topic = topic
        self._ttl = ttl_s
        self._snapshot_url = snapshot_url
        self._clip_url = clip_url
        self._companions = companions
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._in_flight: set[str] = set()
        # Acknowledged while a flush was walking an older read of the store: not again.
        self._acked_ids: OrderedDict[str, None] = OrderedDict()
        self._volatile: list[Alert] = []  # alerts the store refused: best effort, not durable
        self._thread = threading.Thread(target=self._run, name="outbox", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def submit(self, alert: Alert, stored: bool = True) -> None:
        """A new alert: send it now if the broker is there. A stored one is read back in order
        from the store; one the store could not keep (disk full) is held in memory instead."""
        if not stored:
            with self._lock:
                self._volatile.append(alert)
        self._wake.set()

    def reconnected(self) -> None:
        """The connection was re-established: unacknowledged sends are lost, send them again."""
        with self._lock:
            self._in_flight.clear()
        self._wake.set()

    def depth(self) -> int:
        with self._lock:
            volatile = len(self._volatile)
        return self._store.pending_count(since=time.time() - self._ttl) + volatile

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(1.0)
            self._wake.clear()
            if self._publisher.connected:
                try:
                    self._flush()
                except Exception:
                    log.exception("outbox: sending failed; will retry")

    def _flush(self) -> None:
        with self._lock:
            volatile = list(self._volatile)
        for alert in [*self._store.pending_alerts(since=time.time() - self._ttl, limit=BATCH), *volatile]:
            with self._lock:
                if alert.id in self._in_flight or alert.id in self._acked_ids:
                    continue
                self._in_flight.add(alert.id)
            now = time.time()
            payload = alert_payload(
                alert,
                sent_at=now,
                late=now - alert.fired_at > LATE_AFTER_S,
                snapshot_url=self._snapshot_url(alert),
                clip_url=self._clip_url(alert),
            )
            message = Message(self._topic, json.dumps(payload).encode(), qos=1, retain=False)
            if not self._publisher.publish(message, on_acked=self._acked(alert.id)):
                with self._lock:
                    self._in_flight.discard(alert.id)
                return  # not connected any more: keep order, try again after the reconnect
            for extra in self._companions(alert, payload):
                self._publisher.publish(extra)

    def _acked(self, alert_id: str) -> Callable[[], None]:
        def done() -> None:
            self._store.mark_delivered(alert_id, time.time())
            with self._lock:
                self._volatile = [a for a in self._volatile if a.id != alert_id]
                self._in_flight.discard(alert_id)
                self._acked_ids[alert_id] = None
                while len(self._acked_ids) > ACKED_MEMORY:
                    self._acked_ids.popitem(last=False)

        return done
