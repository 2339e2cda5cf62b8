"""The outbox against a real store, a fake clock and a publisher the test drives (no broker):
time moves when the test says so, acks come when it says so, connections end when it says so.
The broker end to end is in test_bridge.py."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from app.domain import Alert
from app.publish.messages import Message
from app.publish.outbox import DEFAULT_TTL_S, LATE_AFTER_S, Outbox
from app.store import Store
from tests.publish.hub import Clock, alert
from tests.support.waiting import wait_until

T0 = 1_800_000_000.0  # the fake clock's start: 2027-01-15, nowhere near the real time


@dataclass
class Sent:
    body: dict[str, Any]
    topic: str
    connection: int | None
    on_acked: Callable[[], None] | None


class Publisher:
    """Stands in for MqttClient: records what is published; the test acks and drops connections."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.sent: list[Sent] = []
        self.live: int | None = None

    @property
    def connection(self) -> int | None:
        with self._lock:
            return self.live

    def publish(
        self, message: Message, on_acked: Callable[[], None] | None = None, *, connection: int | None = None
    ) -> bool:
        with self._lock:
            if self.live is None or connection not in (None, self.live):
                return False
            self.sent.append(Sent(json.loads(message.payload), message.topic, connection, on_acked))
            return True

    def ids(self) -> list[str]:
        with self._lock:
            return [s.body["id"] for s in self.sent if s.topic == "p/alerts"]

    def ack(self, alert_id: str) -> None:
        with self._lock:
            sent = [s for s in self.sent if s.topic == "p/alerts" and s.body["id"] == alert_id][-1]
        assert sent.on_acked is not None
        sent.on_acked()


def at(n: int, fired: float) -> Alert:
    """Alert `n`, fired at `fired` on the fake clock."""
    return alert(n, age=0.0, at=fired)


def fire(store: Store, outbox: Outbox, count: int) -> list[Alert]:
    """`count` alerts fired a second apart from T0, stored and handed to the outbox as evidence does."""
    fired = [at(n, T0 + n) for n in range(count)]
    for each in fired:
        store.add_alert(each)
        outbox.submit(each)
    return fired


@contextmanager
def running(store: Any, publisher: Publisher, clock: Clock, **kwargs: Any) -> Iterator[Outbox]:
    outbox = Outbox(store, publisher, "p/alerts", clock=clock, **kwargs)
    outbox.start()
    try:
        yield outbox
    finally:
        outbox.stop()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "s", retain_days=7, max_mb=64) as store:
        yield store


def test_alerts_wait_out_an_outage_then_go_in_order_marked_late_by_the_clock(store: Store) -> None:
    clock, publisher = Clock(T0), Publisher()
    with running(store, publisher, clock) as outbox:
        fired = fire(store, outbox, 3)
        assert outbox.depth() == 3
        clock.advance(2 + LATE_AFTER_S + 0.1)  # the last one fired LATE_AFTER_S + 0.1 s ago: all late
        publisher.live = 1
        outbox.reconnected()
        assert wait_until(lambda: len(publisher.ids()) == 3)
        assert publisher.ids() == [a.id for a in fired]
        assert all(s.body["late"] and s.connection == 1 for s in publisher.sent)
        assert {s.body["sent_at"] for s in publisher.sent} == {"2027-01-15T08:00:07.100Z"}  # the fake clock's
        assert outbox.depth() == 3  # sent is not delivered: only an ack marks it
        delivered_at = clock.now
        clock.advance(1)
        for each in fired:
            publisher.ack(each.id)
        assert wait_until(lambda: outbox.depth() == 0)
    assert {when for _, when in store.alert_log(limit=10)} == {delivered_at + 1}  # marked by the clock
    assert publisher.ids() == [a.id for a in fired]  # each once


def test_a_fresh_alert_is_not_late_and_one_past_the_ttl_is_kept_but_not_pushed(store: Store) -> None:
    clock, publisher = Clock(T0), Publisher()
    publisher.live = 1
    with running(store, publisher, clock, ttl_s=DEFAULT_TTL_S) as outbox:
        old = at(1, T0)
        store.add_alert(old)
        clock.advance(DEFAULT_TTL_S + 1)  # a day and a second later, without waiting a day
        assert outbox.depth() == 0
        fresh = at(2, clock.now - LATE_AFTER_S + 0.5)
        store.add_alert(fresh)
        outbox.submit(fresh)
        assert wait_until(lambda: publisher.ids() == [fresh.id])  # the expired one would have gone first
        assert publisher.sent[0].body["late"] is False
    assert {a.id for a, _ in store.alert_log(limit=10)} == {old.id, fresh.id}  # kept for the dashboard


def test_a_new_connection_resends_what_was_in_flight_in_order_and_nothing_acked(store: Store) -> None:
    clock, publisher = Clock(T0), Publisher()
    publisher.live = 1
    with running(store, publisher, clock) as outbox:
        fired = fire(store, outbox, 4)
        assert wait_until(lambda: len(publisher.ids()) == 4)
        publisher.ack(fired[0].id)
        publisher.ack(fired[2].id)  # acked out of order, just before the connection dies
        publisher.live = 2
        outbox.reconnected()
        assert wait_until(lambda: len(publisher.ids()) == 6)
        again = publisher.sent[4:]
        assert [s.body["id"] for s in again] == [fired[1].id, fired[3].id]  # oldest first, acked ones not
        assert all(s.connection == 2 for s in again)
        for each in (fired[1], fired[3]):
            publisher.ack(each.id)
        assert wait_until(lambda: outbox.depth() == 0)
        sentinel = at(9, clock.now)  # nothing else is waiting to go: the next send is this one
        store.add_alert(sentinel)
        outbox.submit(sentinel)
        assert wait_until(lambda: len(publisher.ids()) == 7)
    assert publisher.ids()[6:] == [sentinel.id]


def test_nothing_goes_out_on_a_connection_the_outbox_has_not_seen(store: Store) -> None:
    # The client numbers a connection for the outbox only once every ack of the earlier ones has
    # been handed over; a send for an older number is refused, so it cannot jump the queue.
    clock, publisher = Clock(T0), Publisher()
    publisher.live = 1
    with running(store, publisher, clock) as outbox:
        first = at(1, T0)
        store.add_alert(first)
        outbox.submit(first)
        assert wait_until(lambda: len(publisher.ids()) == 1)
        assert publisher.publish(Message("p/alerts", b'{"id": "x"}'), connection=0) is False
        publisher.live = None  # down: the outbox waits
        second = at(2, T0 + 1)
        store.add_alert(second)
        outbox.submit(second)
        assert outbox.depth() == 2
        publisher.live = 3
        outbox.reconnected()
        assert wait_until(lambda: len(publisher.ids()) == 3)
    assert publisher.ids() == [first.id, first.id, second.id]  # the unacked first again, before the second


class StuckStore:
    """The real store, except that marking an alert delivered hangs until `release`."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.marking = threading.Event()
        self.release = threading.Event()

    def pending_alerts(self, *, since: float, limit: int = 100) -> list[Alert]:
        return self._store.pending_alerts(since=since, limit=limit)

    def pending_count(self, *, since: float) -> int:
        return self._store.pending_count(since=since)

    def mark_delivered(self, alert_id: str, at: float) -> bool:
        self.marking.set()
        assert self.release.wait(10), "never released"
        return self._store.mark_delivered(alert_id, at)


def test_an_ack_is_handed_over_at_once_even_while_the_store_is_stuck(store: Store) -> None:
    clock, publisher, stuck = Clock(T0), Publisher(), StuckStore(store)
    publisher.live = 1
    with running(stuck, publisher, clock) as outbox:
        fired = fire(store, outbox, 2)
        assert wait_until(lambda: len(publisher.ids()) == 2)
        publisher.ack(fired[0].id)  # the client's event thread: returns without touching the store
        assert stuck.marking.wait(5)  # the outbox's own thread is now stuck in the store ...
        returned = threading.Event()

        def ack_second() -> None:
            publisher.ack(fired[1].id)
            returned.set()

        hand_over = threading.Thread(target=ack_second)
        hand_over.start()
        assert returned.wait(5)  # ... and the next ack is still handed over at once
        assert not stuck.release.is_set()
        hand_over.join()
        stuck.release.set()
        assert wait_until(lambda: outbox.depth() == 0)
    assert publisher.ids() == [a.id for a in fired]


class FullStore:
    """The real store, except that marking an alert delivered fails (as Store does on a full disk:
    counted, False) while `full` is set."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.full = threading.Event()
        self.refused = 0

    def pending_alerts(self, *, since: float, limit: int = 100) -> list[Alert]:
        return self._store.pending_alerts(since=since, limit=limit)

    def pending_count(self, *, since: float) -> int:
        return self._store.pending_count(since=since)

    def mark_delivered(self, alert_id: str, at: float) -> bool:
        if self.full.is_set():
            self.refused += 1
            return False
        return self._store.mark_delivered(alert_id, at)


def test_a_delivery_the_store_could_not_mark_is_marked_once_it_can_and_not_sent_again(store: Store) -> None:
    clock, publisher, full = Clock(T0), Publisher(), FullStore(store)
    publisher.live = 1
    with running(full, publisher, clock, poll_s=0.05) as outbox:
        fired = fire(store, outbox, 2)
        assert wait_until(lambda: len(publisher.ids()) == 2)
        full.full.set()
        for each in fired:
            publisher.ack(each.id)
        assert wait_until(lambda: full.refused >= 3)  # tried again, step after step
        assert outbox.depth() == 2  # still pending in the store ...
        full.full.clear()  # ... until the disk has room again
        assert wait_until(lambda: outbox.depth() == 0)
        assert store.pending_alerts(since=T0 - 60) == []
        publisher.live = 2  # a new connection: nothing acked goes out again
        outbox.reconnected()
        marker = at(9, T0 + 9)
        store.add_alert(marker)
        outbox.submit(marker)
        assert wait_until(lambda: publisher.ids()[-1:] == [marker.id])
    assert publisher.ids() == [*(a.id for a in fired), marker.id]


def test_an_alert_the_store_refused_goes_out_once_and_is_forgotten_on_its_ack(store: Store) -> None:
    clock, publisher = Clock(T0), Publisher()
    with running(store, publisher, clock) as outbox:
        lost = at(1, T0)
        outbox.submit(lost, stored=False)
        assert outbox.depth() == 1
        publisher.live = 1
        outbox.reconnected()
        assert wait_until(lambda: publisher.ids() == [lost.id])
        publisher.ack(lost.id)
        assert wait_until(lambda: outbox.depth() == 0)
        publisher.live = 2  # a later connection does not send it again
        outbox.reconnected()
        marker = at(2, T0 + 1)
        store.add_alert(marker)
        outbox.submit(marker)
        assert wait_until(lambda: len(publisher.ids()) == 2)
    assert publisher.ids() == [lost.id, marker.id]


def test_companions_go_out_with_the_alert_on_the_same_connection(store: Store) -> None:
    clock, publisher = Clock(T0), Publisher()
    publisher.live = 5

    def companions(_sent: Alert, payload: dict[str, Any]) -> list[Message]:
        return [Message("p/event", json.dumps({"of": payload["id"]}).encode())]

    with running(store, publisher, clock, companions=companions) as outbox:
        fired = at(1, T0)
        store.add_alert(fired)
        outbox.submit(fired)
        assert wait_until(lambda: len(publisher.sent) == 2)
    assert [(s.topic, s.body.get("id", s.body.get("of")), s.connection) for s in publisher.sent] == [
        ("p/alerts", fired.id, 5),
        ("p/event", fired.id, 5),
    ]
