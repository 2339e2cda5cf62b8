"""The MQTT client's event thread: jobs in order, incoming messages bounded, acks never dropped."""

from __future__ import annotations

import functools
import logging
import threading

import pytest

from app.publish.dispatch import Dispatcher
from tests.support.waiting import wait_until


def test_jobs_run_in_order_and_a_flood_of_messages_is_cut_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="app.publish")
    events = Dispatcher("test-events", max_messages=3)
    events.start()
    ran: list[str] = []
    busy, release = threading.Event(), threading.Event()

    def blocker() -> None:
        busy.set()
        release.wait(10)

    events.put(blocker)
    assert busy.wait(5)  # the thread is held up, as by a slow store
    taken = [events.put_message(functools.partial(ran.append, f"message-{n}")) for n in range(10)]
    for n in range(5):
        events.put(functools.partial(ran.append, f"ack-{n}"))  # never dropped, however full
    assert taken == [True] * 3 + [False] * 7
    release.set()
    assert wait_until(lambda: len(ran) == 8)
    assert ran == ["message-0", "message-1", "message-2", "ack-0", "ack-1", "ack-2", "ack-3", "ack-4"]
    assert events.put_message(lambda: ran.append("after")) is True  # room again once handled
    events.stop(5)
    assert ran[-1] == "after"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["MQTT: dropped an incoming message: 3 wait to be handled"]  # once, not seven times


def test_a_failing_job_is_logged_and_the_next_one_runs(caplog: pytest.LogCaptureFixture) -> None:
    events = Dispatcher("test-events")
    events.start()
    done = threading.Event()

    def explode() -> None:
        raise RuntimeError("bug")

    events.put(explode)
    events.put(done.set)
    assert done.wait(5)
    events.stop(5)
    assert [r.getMessage() for r in caplog.records if r.exc_info] == ["MQTT event handling failed"]


def test_stop_runs_what_is_queued_first() -> None:
    events = Dispatcher("test-events")
    ran: list[int] = []
    for n in range(100):
        events.put(functools.partial(ran.append, n))
    events.start()
    events.stop(5)
    assert ran == list(range(100))
