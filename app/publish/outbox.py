"""The durable alert outbox: every alert is already in the store; this sends the ones the
broker has not acknowledged, oldest first, and marks each delivered only on its PUBACK.

During a broker outage alerts simply wait in the store (they survive a restart too);
once the broker is back they go out in order, marked `late`. Alerts older than the TTL
are kept in the store for the dashboard but no longer pushed. `companions` may add messages
that go out with each alert (Home Assistant's event entity): best effort, never acknowledged,
sent only once the alert itself is on its way.

Threads. The outbox's own thread reads the store, publishes and marks alerts delivered; the MQTT
client's event thread only hands it the acks (an id appended to a list). A slow or stuck store
therefore holds up neither the connection nor the other MQTT callbacks, and everything but the
two hand-over lists belongs to that one thread.

Connections. What was sent on a connection and not acked is lost with it. The outbox tells
connections apart by the publisher's `connection` number: on a new one it sends again, oldest
first, whatever was in flight. It publishes only on the connection it read (`connection=`), and
the client gives that number only once the acks of every earlier connection have been handed
over, so an alert acked just before an outage is not sent twice.

`clock` (wall time, default `time.time`) dates everything: the TTL, `late`, `sent_at` and the
delivery mark. Tests pass a fake one instead of sleeping.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from app.domain import Alert
from app.payloads import alert_payload
from app.publish.messages import Message

log = logging.getLogger(__name__)

LATE_AFTER_S = 5.0  # delivered this long after it fired: it waited in the outbox
DEFAULT_TTL_S = 24 * 3600.0
POLL_S = 1.0  # real time between looks at the store when nothing wakes the thread
BATCH = 100
ACKED_MEMORY = 4 * BATCH  # acked ids kept, in case the store could not mark one delivered

Clock = Callable[[], float]


class AlertQueue(Protocol):
    """The store's alerts outbox, as `app.store.Store` offers it."""

    def pending_alerts(self, *, since: float, limit: int = ...) -> list[Alert]: ...

    def pending_count(self, *, since: float) -> int: ...

    def mark_delivered(self, alert_id: str, at: float) -> bool: ...  # False: not marked (try again)


class Publisher(Protocol):
    """`app.publish.mqtt.MqttClient` as the outbox uses it."""

    @property
    def connection(self) -> int | None: ...

    def publish(
        self, message: Message, on_acked: Callable[[], None] | None = None, *, connection: int | None = None
    ) -> bool: ...


class Outbox:
    def __init__(
        self,
        store: AlertQueue,
        publisher: Publisher,
        topic: str,
        *,
        ttl_s: float = DEFAULT_TTL_S,
        clock: Clock = time.time,
        poll_s: float = POLL_S,
        snapshot_url: Callable[[Alert], str | None] = lambda _alert: None,
        clip_url: Callable[[Alert], str | None] = lambda _alert: None,
        companions: Callable[[Alert, dict[str, Any]], Sequence[Message]] = lambda _alert, _payload: (),
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._topic = topic
        self._ttl = ttl_s
        self._clock = clock
        self._poll = poll_s
        self._snapshot_url = snapshot_url
        self._clip_url = clip_url
        self._companions = companions
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()  # guards the two hand-over lists
        self._acks: list[str] = []  # acked ids, from the client's event thread
        self._volatile: list[Alert] = []  # alerts the store refused: best effort, not durable
        # The outbox thread's own:
        self._connection: int | None = None  # the connection `_in_flight` was sent on
        self._in_flight: set[str] = set()
        self._acked_ids: OrderedDict[str, None] = OrderedDict()
        # Acked, not yet marked delivered (the store failed: a full disk): marked on a later step,
        # else the alert would stay pending for good and the outbox never read as drained.
        self._unmarked: OrderedDict[str, float] = OrderedDict()
        self._thread = threading.Thread(target=self._run, name="outbox", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Mark what was acked so far delivered, then end (nothing more is sent)."""
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
        """The connection was (re-)established and announced: send what waits, now."""
        self._wake.set()

    def depth(self) -> int:
        with self._lock:
            volatile = len(self._volatile)
        return self._store.pending_count(since=self._clock() - self._ttl) + volatile

    def _run(self) -> None:
        while True:
            self._wake.wait(self._poll)
            self._wake.clear()
            stopping = self._stop.is_set()
            try:
                self._step(send=not stopping)
            except Exception:
                log.exception("outbox: sending failed; will retry")
            if stopping:
                return

    def _step(self, *, send: bool) -> None:
        connection = self._publisher.connection  # first: the acks of older connections are in by then
        self._apply_acks()
        if connection != self._connection:  # a new connection (or none): what was in flight is lost
            self._in_flight.clear()
            self._connection = connection
        if send and connection is not None:
            self._flush(connection)

    def _flush(self, connection: int) -> None:
        with self._lock:
            volatile = list(self._volatile)
        pending = self._store.pending_alerts(since=self._clock() - self._ttl, limit=BATCH)
        for alert in [*pending, *volatile]:
            if alert.id in self._in_flight or alert.id in self._acked_ids:
                continue
            now = self._clock()
            payload = alert_payload(
                alert,
                sent_at=now,
                late=now - alert.fired_at > LATE_AFTER_S,
                snapshot_url=self._snapshot_url(alert),
                clip_url=self._clip_url(alert),
            )
            message = Message(self._topic, json.dumps(payload).encode(), qos=1, retain=False)
            acked = functools.partial(self._acked, alert.id)
            if not self._publisher.publish(message, on_acked=acked, connection=connection):
                return  # that connection is gone: the next one sends this again, in order
            self._in_flight.add(alert.id)
            for extra in self._companions(alert, payload):
                self._publisher.publish(extra, connection=connection)

    def _acked(self, alert_id: str) -> None:
        """on_acked, in the client's event thread: hand over and return (no store access here)."""
        with self._lock:
            self._acks.append(alert_id)
        self._wake.set()

    def _apply_acks(self) -> None:
        with self._lock:
            acks, self._acks = self._acks, []
            if acks:
                done = set(acks)
                self._volatile = [a for a in self._volatile if a.id not in done]
        now = self._clock()
        for alert_id in acks:
            self._in_flight.discard(alert_id)
            self._acked_ids[alert_id] = None
            while len(self._acked_ids) > ACKED_MEMORY:
                self._acked_ids.popitem(last=False)
            self._unmarked[alert_id] = now
        self._mark_delivered()

    def _mark_delivered(self) -> None:
        """Marks acked alerts delivered, oldest first; stops at the first the store refuses (it
        counts and logs that) and tries again on the next step. Remembered in `_acked_ids`
        meanwhile: not sent again."""
        while self._unmarked:
            alert_id, at = next(iter(self._unmarked.items()))
            try:
                marked = self._store.mark_delivered(alert_id, at)
            except Exception:
                log.exception("outbox: could not mark alert %s delivered", alert_id)
                marked = False
            if not marked:
                return
            del self._unmarked[alert_id]
