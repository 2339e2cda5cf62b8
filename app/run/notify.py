"""Tells systemd how the service is doing (`Type=notify`, `WatchdogSec=`), without libsystemd.

The sd_notify protocol is one datagram of newline-separated `KEY=value` lines sent to the
AF_UNIX socket named in $NOTIFY_SOCKET (a leading '@' means the abstract namespace). Doing
it by hand keeps a C binding (and its build) off the Pi for a dozen lines of socket code.

The watchdog is only worth having if its pings mean something: `Heartbeat` pings while
`Service.health()` says every stage still turns, and goes quiet when one is wedged, so
systemd restarts the process — the one remedy for a detector call that cannot be
interrupted. An offline camera is not wedged (it is retried), so it never stops the pings.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
from collections.abc import Callable, Mapping

from app.status import Health

log = logging.getLogger(__name__)

MAX_STATUS_CHARS = 200  # `systemctl status` shows one line; the full problems go to the log


class Notifier:
    """A datagram socket aimed at systemd's notification socket."""

    def __init__(self, address: str) -> None:
        """`address`: a filesystem path, or an abstract name starting with a NUL byte."""
        self.address = address
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self._lock = threading.Lock()
        self._failed = False  # the first failure is logged; a gone systemd must not flood the log

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Notifier | None:
        """The notifier systemd asked for, or None when not run by systemd with `Type=notify`."""
        name = environ.get("NOTIFY_SOCKET", "")
        if name.startswith("@"):
            return cls("\0" + name[1:])
        if name.startswith("/"):
            return cls(name)
        if name:  # sd_notify(3) accepts nothing else (e.g. vsock: addresses are for VMs, not us)
            log.warning("NOTIFY_SOCKET=%r is not a unix socket path; systemd will not hear from us", name)
        return None

    def send(self, *states: str) -> bool:
        """Send `states` ("READY=1", "STATUS=...", "WATCHDOG=1", "STOPPING=1") in one datagram.
        Never raises: a notification that cannot be delivered must not take detection down."""
        message = "\n".join(states).encode("utf-8", errors="replace")
        try:
            with self._lock:
                self._sock.sendto(message, self.address)
        except OSError as exc:
            if not self._failed:
                self._failed = True
                log.warning("systemd notification to %r failed: %s (logged once)", self.address, exc)
            return False
        return True

    def close(self) -> None:
        with self._lock:
            self._sock.close()


def watchdog_interval(environ: Mapping[str, str] = os.environ) -> float | None:
    """How often to ping systemd's watchdog, in seconds: half its period, so one late or lost
    ping is not a restart. None when no watchdog was asked for (or it is meant for another
    process: WATCHDOG_PID names the one systemd watches, as sd_watchdog_enabled(3) does)."""
    try:
        usec = int(environ.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    if usec <= 0:
        return None
    pid = environ.get("WATCHDOG_PID")
    if pid is not None:
        try:
            if int(pid) != os.getpid():
                return None
        except ValueError:
            return None
    return usec / 1_000_000 / 2


class Heartbeat:
    """Sends WATCHDOG=1 every interval while health().ok; when not ok, sends nothing (systemd then
    restarts us) and logs the problems once per change; STATUS= line with a short summary."""

    def __init__(
        self, notifier: Notifier, interval_s: float, health: Callable[[], Health], *, ok_status: str = "running"
    ) -> None:
        """`ok_status`: the STATUS= line restored when health recovers (the one sent with READY=1)."""
        if interval_s <= 0:
            raise ValueError(f"the heartbeat interval must be positive, not {interval_s}")
        self._notifier = notifier
        self._interval = interval_s
        self._health = health
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)
        self._ok_status = ok_status
        # The state last logged and sent as STATUS=. It starts healthy: READY=1 carried the first
        # STATUS= line, and only a change is news.
        self._shown = _shape(Health(True, ()))

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        # Beat at once: systemd's watchdog clock runs from READY=1, not from our first interval.
        while True:
            self._beat()
            if self._stop.wait(self._interval):
                return

    def _beat(self) -> None:
        try:
            health = self._health()
        except Exception as exc:  # noqa: BLE001 - a health check that fails cannot vouch for anything: wedged
            health = Health(False, (f"health check failed: {exc!r}",))
        shown = _shape(health)
        changed = shown != self._shown
        self._shown = shown
        if health.ok:
            if changed:
                log.info("health: ok again; systemd watchdog pings resume")
            self._notifier.send("WATCHDOG=1", *([f"STATUS={self._ok_status}"] if changed else []))
            return
        if changed:
            log.error("health: %s; systemd watchdog pings withheld (it restarts us)", "; ".join(health.problems))
            self._notifier.send("STATUS=" + _summary(health))


def _shape(health: Health) -> tuple[str, ...]:
    """The health state with its counts masked: a problem growing older ("stuck for 31 s",
    "32 s", ...) is not news, a new or cleared problem is."""
    return (str(health.ok), *(re.sub(r"\d+(\.\d+)?", "N", p) for p in health.problems))


def _summary(health: Health) -> str:
    """One line for `systemctl status` (a newline would end the STATUS= field early)."""
    text = "unhealthy: " + "; ".join(health.problems or ("unspecified",))
    text = " ".join(text.split())
    return text if len(text) <= MAX_STATUS_CHARS else text[: MAX_STATUS_CHARS - 1] + "…"
