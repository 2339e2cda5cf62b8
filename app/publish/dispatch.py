"""The MQTT client's event thread: paho's network thread only hands work to it.

paho calls our handlers in the thread that also reads and writes the socket, so a handler that
waits (a slow SQLite fsync, a lock) stalls keepalive and every PUBACK behind it. The handlers
therefore only queue a job here, and one thread of ours runs the jobs in arrival order: the
caller's on_connect, on_message and on_acked, never two at once, never in paho's thread.

Incoming messages are bounded: anyone on the broker can send them, so past `max_messages`
waiting they are dropped with a warning (at most one a minute). Connects and acks are never
dropped; they are bounded by connects and by our own publishes.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from app.publish.pacing import Throttle

log = logging.getLogger(__name__)

Job = Callable[[], None]
MAX_MESSAGES = 1000  # incoming messages waiting to be handled; more is a flood, not traffic
WARN_EVERY_S = 60.0


class Dispatcher:
    """One thread that runs queued jobs in order. `put` from any thread; never blocks."""

    def __init__(self, name: str, *, max_messages: int = MAX_MESSAGES) -> None:
        self._jobs: queue.SimpleQueue[tuple[Job, bool] | None] = queue.SimpleQueue()
        self._max_messages = max_messages
        self._lock = threading.Lock()
        self._messages = 0  # incoming messages queued and not yet run
        self._warn = Throttle(WARN_EVERY_S)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def put(self, job: Job) -> None:
        self._jobs.put((job, False))

    def put_message(self, job: Job) -> bool:
        """Queue the handling of an incoming message; False (dropped, logged) while too many wait."""
        with self._lock:
            full = self._messages >= self._max_messages
            if not full:
                self._messages += 1
        if full:
            held = self._warn.allow()
            if held is not None:
                more = f" ({held} more since the last warning)" if held else ""
                log.warning("MQTT: dropped an incoming message: %d wait to be handled%s", self._max_messages, more)
            return False
        self._jobs.put((job, True))
        return True

    def in_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def stop(self, timeout: float) -> None:
        """Run every job queued so far, then end. A job still running after `timeout` s is left to finish."""
        self._jobs.put(None)
        if self._thread.is_alive() and not self.in_thread():
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("MQTT: a callback is still running %.0f s after stop; not waiting for it", timeout)

    def _run(self) -> None:
        while (item := self._jobs.get()) is not None:
            job, message = item
            try:
                job()
            except Exception:  # jobs catch their callers' errors; this one would be ours
                log.exception("MQTT event handling failed")
            finally:
                if message:
                    with self._lock:
                        self._messages -= 1
