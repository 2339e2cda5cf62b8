"""Pacing for what anyone on the broker can make this box do: coalesce republishes, throttle warnings.

Any client on the broker can publish `homeassistant/status online` or junk commands as often as
it likes; neither may turn into a publish storm or a flooded journal. Clock injected (monotonic).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

Clock = Callable[[], float]


class Debounce:
    """Coalesces requests into one run `delay` s after the first, and at most one run per `spacing` s.

    `request()` from any thread; the worker polls `take()` and, when it says True, does the work.
    `ran()` records work done for another reason (e.g. a reconnect), which also answers a pending request.
    """

    def __init__(self, delay: float, spacing: float, clock: Clock = time.monotonic) -> None:
        self._delay = delay
        self._spacing = spacing
        self._clock = clock
        self._lock = threading.Lock()
        self._due: float | None = None
        self._last = float("-inf")

    def request(self) -> None:
        with self._lock:
            if self._due is None:
                self._due = max(self._clock() + self._delay, self._last + self._spacing)

    def take(self) -> bool:
        with self._lock:
            if self._due is None or self._clock() < self._due:
                return False
            self._due, self._last = None, self._clock()
            return True

    def ran(self) -> None:
        with self._lock:
            self._due, self._last = None, self._clock()


class Throttle:
    """At most one pass per `every` s; `allow()` says how many were held back since the last pass."""

    def __init__(self, every: float, clock: Clock = time.monotonic) -> None:
        self._every = every
        self._clock = clock
        self._lock = threading.Lock()
        self._next = float("-inf")
        self._held = 0

    def allow(self) -> int | None:
        """None: hold this one back. Else the number held back before it (0 for the first)."""
        with self._lock:
            now = self._clock()
            if now < self._next:
                self._held += 1
                return None
            held, self._held, self._next = self._held, 0, now + self._every
            return held
