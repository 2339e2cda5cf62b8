"""`mqtt-net`: the thread that owns the MQTT socket, driving paho through its external-loop API.

paho's own `loop_start()` builds its wake-up pipe from a TCP listener on 127.0.0.1 (paho 2.2):
for a moment a port that another local process could connect to first, on a box that must
connect to nothing but its cameras and the broker. This loop does paho's job with the public
external-loop calls (`reconnect`, `loop_read`, `loop_write`, `loop_misc`, `want_write`,
`socket`) around a select() woken through a Unix socket pair, which has no port at all.

Reconnects follow paho's backoff: the first attempt at once, then 1 s after a failure or a loss,
doubling up to `RECONNECT_MAX_DELAY`, back to 1 s once a connection was accepted (`accepted()`).
Every paho callback runs in this thread.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

log = logging.getLogger(__name__)

RECONNECT_MIN_DELAY = 1.0  # s
RECONNECT_MAX_DELAY = 30.0  # s
TICK = 1.0  # s; the longest select(): paho's keepalive is checked at least this often
STOP_WAIT = 2.0  # s; longest stop() waits for queued bytes (the DISCONNECT) to be written


class Loopable(Protocol):
    """The part of `paho.mqtt.client.Client` this loop drives (its documented external-loop API)."""

    def reconnect(self) -> object: ...

    def socket(self) -> Any: ...  # paho's SocketLike, or None while there is no connection

    def want_write(self) -> bool: ...

    def loop_read(self) -> object: ...

    def loop_write(self) -> object: ...

    def loop_misc(self) -> object: ...


class NetworkLoop:
    def __init__(
        self,
        client: Loopable,
        *,
        on_connect_error: Callable[[Exception], None],
        on_closed: Callable[[], None],
    ) -> None:
        """`on_connect_error`: an attempt failed before MQTT (refused, unreachable, TLS). `on_closed`:
        a connection's socket is gone, whether or not paho reported it (idempotent, please)."""
        self._client = client
        self._on_connect_error = on_connect_error
        self._on_closed = on_closed
        self._wake_r, self._wake_w = socket.socketpair()  # AF_UNIX on Linux
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._stopping = threading.Event()
        self._backoff: float | None = None  # this thread's own
        self._thread = threading.Thread(target=self._run, name="mqtt-net", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """Something was queued for the socket (from any thread): look at it now."""
        with contextlib.suppress(OSError):  # full (already woken) or closed (stopped)
            self._wake_w.send(b"\0")

    def accepted(self) -> None:
        """The broker accepted the connection (called in this thread): the next loss waits 1 s."""
        self._backoff = None

    def stop(self) -> None:
        """Write what is queued (a DISCONNECT queued before this call), close, end the thread."""
        self._stopping.set()
        self.wake()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()
        self._wake_w.close()
        self._wake_r.close()

    def _run(self) -> None:
        first = True
        while not self._stopping.is_set():
            if not first:
                delay = self._backoff
                self._backoff = RECONNECT_MIN_DELAY if delay is None else min(delay * 2, RECONNECT_MAX_DELAY)
                if self._stopping.wait(self._backoff):
                    break
            first = False
            try:
                if self._open():
                    self._serve()
            except Exception:  # a bug, ours or paho's: this connection is given up (reconnect closes it)
                log.exception("MQTT network loop failed; reconnecting")
            self._on_closed()

    def _open(self) -> bool:
        try:  # TCP (and TLS) connect, blocking up to paho's connect timeout; CONNECT is then queued
            self._client.reconnect()
        except (OSError, ValueError) as exc:  # refused, unreachable, name unknown, certificate refused
            self._on_connect_error(exc)
            return False
        return self._client.socket() is not None

    def _serve(self) -> None:
        """Read, write and keep alive until paho closes the socket, or stop() is done with it."""
        client, wake = self._client, self._wake_r
        sock = client.socket()
        deadline: float | None = None
        while sock is not None and client.socket() is sock:
            if self._stopping.is_set():  # stay only to write what is queued
                deadline = deadline or time.monotonic() + STOP_WAIT
                if not client.want_write() or time.monotonic() > deadline:
                    sock.close()  # the client is dropped with it
                    return
            # TLS may hold decrypted bytes that select() cannot see: read them without waiting
            pending = sock.pending() if isinstance(sock, ssl.SSLSocket) else 0
            writing = [sock] if client.want_write() else []
            try:
                readable, writable, _ = select.select([sock, wake], writing, [], 0.0 if pending else TICK)
            except (OSError, ValueError):  # closed under us
                return
            if wake in readable:
                with contextlib.suppress(BlockingIOError):
                    wake.recv(4096)
            if (sock in readable or pending) and client.socket() is sock:
                client.loop_read()
            if sock in writable and client.socket() is sock:
                client.loop_write()
            if client.socket() is sock:
                client.loop_misc()
