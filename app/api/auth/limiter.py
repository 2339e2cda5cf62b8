"""The login limiter: how many password and setup-code guesses the box lets through, and to whom.

How it works (issue 15):

- **An attempt counts when it starts.** `reserve` takes a slot atomically, before the ~100 ms
  argon2 verify, and the slot stays taken — as a failure — unless the attempt succeeds. So a burst
  of concurrent guesses from one address gets `max_failures` verifies and 429 for all the rest;
  checking first and recording the failure after the verify let a whole burst through.
- **Per address:** `max_failures` attempts within the window. A success gives its slot back and
  forgives that address's earlier failures.
- **Globally, slow guessing down without locking the owner out.** `max_global` attempts within
  the window from all addresses together mean a distributed attack. Refusing everyone then (what
  this limiter used to do) let one attacker lock the owner out of their own box. Instead, while
  the budget is spent, a *source* that already tried within the window is refused until its
  attempts age out, and a source with no recent attempt still gets one. The owner, on a phone or
  laptop that has not been guessing, still logs in; each attacking source drops from
  `max_failures` guesses per window to one.
- **Sources:** an IPv4 address, or an IPv6 /64. One host can take any number of addresses in its
  /64 (SLAAC, privacy addresses), so during an attack a /64 is one source; outside an attack the
  per-address count applies, because a home LAN usually is one /64 — grouping there would let
  one host's five failures lock out every IPv6 device of the house.

What an attacker holding many LAN addresses can still do: one guess per source per window beyond
the global budget — bounded by the IPv4 addresses it can claim on the LAN and the /64s it can
route (usually one). No rule can refuse those guesses without refusing the owner too, who is
indistinguishable from a fresh source; the password's strength (passwords.py) and argon2's cost
carry the rest. An IPv6 device sharing the attacker's /64 waits out the attack (at most a window
after it stops) or uses IPv4. Memory: at most `max_addresses` addresses and as many sources.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

IPV6_SOURCE_PREFIX = 64
_Record = OrderedDict[str, deque[float]]  # key -> recent attempt times, oldest first; least recently tried first


@dataclass(frozen=True)
class Attempt:
    """A reserved attempt; hand it back to `LoginLimiter.success` when the guess was right."""

    address: str
    source: str
    at: float


class TooManyAttempts(Exception):
    """Refused before any verification; `retry_after` is when this address may try again (seconds)."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many login attempts; try again in {retry_after:.0f} s")
        self.retry_after = retry_after


def keys_of(address: str) -> tuple[str, str]:
    """(address, source): the address as counted (IPv4-mapped IPv6 as IPv4) and its source — itself for IPv4,
    its /64 for IPv6 (anything unparsable: itself)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address, address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped), str(parsed.ipv4_mapped)
        return str(parsed), str(ipaddress.IPv6Network((parsed, IPV6_SOURCE_PREFIX), strict=False))
    return str(parsed), str(parsed)


class LoginLimiter:
    """At most `max_failures` attempts per address within `window_s`, counted when they start; see the module
    docstring for the global budget `max_global`. Thread-safe."""

    def __init__(
        self,
        max_failures: int = 5,
        window_s: float = 60.0,
        *,
        max_global: int = 30,
        clock: Callable[[], float] = time.monotonic,
        max_addresses: int = 4096,
    ) -> None:
        if min(max_failures, max_global, max_addresses) < 1 or window_s <= 0:
            raise ValueError("LoginLimiter: limits must be at least 1 and the window positive")
        self._max_failures, self._max_global, self._max_addresses = max_failures, max_global, max_addresses
        self._window = window_s
        self._clock = clock
        self._lock = threading.Lock()
        self._by_address: _Record = OrderedDict()
        self._by_source: _Record = OrderedDict()
        self._everyone: deque[float] = deque(maxlen=max_global)  # the latest attempts from all addresses
        self._attack_logged_at = float("-inf")

    def reserve(self, address: str) -> Attempt:
        """Counts an attempt from `address` now, as a failure until `success`; TooManyAttempts (nothing counted)
        when it must wait."""
        now = self._clock()
        address, source = keys_of(address)
        with self._lock:
            own, group = self._recent(self._by_address, address, now), self._recent(self._by_source, source, now)
            wait = self._wait(own, group, now)
            if wait > 0:
                raise TooManyAttempts(wait)
            own.append(now)
            group.append(now)
            self._everyone.append(now)
            if self._under_attack(now) and now - self._attack_logged_at >= self._window:
                self._attack_logged_at = now
                log.warning(
                    "api: %d or more login attempts within %.0f s: until they stop, an address that tried may try "
                    "again only once its attempts are %.0f s old",
                    self._max_global, self._window, self._window,
                )  # fmt: skip
        return Attempt(address, source, now)

    def success(self, attempt: Attempt) -> None:
        """The attempt was right: its slot goes back, and its address's (and source's) failures are forgotten —
        not the others': one success says nothing about them."""
        with self._lock:
            self._by_address.pop(attempt.address, None)
            self._by_source.pop(attempt.source, None)
            with contextlib.suppress(ValueError):  # already pushed out of the global record by newer attempts
                self._everyone.remove(attempt.at)

    def _recent(self, record: _Record, key: str, now: float) -> deque[float]:
        """`key`'s attempts within the window, now the most recently tried entry (the least recent is forgotten
        beyond `max_addresses`); kept even while empty, so the caller can append to it."""
        times = record.pop(key, None)
        if times is None:
            times = deque(maxlen=self._max_failures)
        while times and times[0] <= now - self._window:
            times.popleft()
        record[key] = times
        while len(record) > self._max_addresses:
            record.popitem(last=False)
        return times

    def _under_attack(self, now: float) -> bool:
        return len(self._everyone) == self._max_global and self._everyone[0] > now - self._window

    def _wait(self, own: deque[float], group: deque[float], now: float) -> float:
        """Seconds until this address may try; 0 when it may now. `own`/`group`: the address's and its source's
        attempts within the window, oldest first (the last `max_failures` of them)."""
        normal_at = own[0] + self._window if len(own) >= self._max_failures else now
        if not self._under_attack(now):
            return normal_at - now
        fresh_at = group[-1] + self._window if group else now  # the source's attempts aged out: one try again
        calm_at = self._everyone[0] + self._window  # the global budget frees a slot: normal rules again
        return min(fresh_at, max(calm_at, normal_at)) - now
