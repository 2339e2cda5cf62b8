"""The connection layer under the app: uvicorn's httptools protocol with bounds it lacks.

uvicorn with httptools has no limit on a request head (h11's `h11_max_incomplete_event_size` is not
used by it): llhttp hands a header to Python only once it is complete and httptools grows it by
`bytes` concatenation, so a 64 MB header was 64 MB and more of memory, copied over and over. And
uvicorn never times out a connection that has not sent a complete request, so a few hundred idle or
trickling sockets (slowloris) held its 256-connection limit and every request got 503. Here:

- A request head (request line and headers) is at most `MAX_HEAD_BYTES` and `MAX_HEADER_FIELDS`
  fields, else 431 and the connection closes. Received bytes are counted as they arrive, so memory
  stays within the limit plus two reads (asyncio reads up to 256 KiB at a time); after the 431
  the rest the client is still sending is read and dropped for up to `LINGER_S`, so it gets to read
  the answer instead of a connection reset.
- A connection must start a request within `READ_TIMEOUT_S` of opening (or of its previous response)
  and a started request must arrive whole — head and body — within `READ_TIMEOUT_S`: else 408 (or a
  plain close when nothing came) — a per-request deadline, not per byte, so trickling does not help.
  uvicorn's keep-alive timeout still closes a quiet keep-alive connection first (5 s).
- At most `MAX_CONNECTIONS` connections: when one more arrives, the connection idle the longest (no
  request being answered) is closed to make room, so idle sockets can never crowd out a request. Only
  when every connection is busy answering does the newcomer get uvicorn's 503.

Why not switch to h11: it does bound the head, but answers 400 (not 431), has the same idle-socket
problem, and cost 0.72 ms of CPU per request against httptools' 0.50 ms here (5000 keep-alive
requests to a trivial app): +45 % on a Pi that is busy detecting. The subclass adds a timer and a few
counters per request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

log = logging.getLogger(__name__)

MAX_HEAD_BYTES = 32 * 1024  # nginx's default large header buffers; our own cookie is ~60 bytes
MAX_HEADER_FIELDS = 100  # Apache's LimitRequestFields
READ_TIMEOUT_S = 10.0
LINGER_S = 2.0
MAX_CONNECTIONS = 256
EVICTION_LOG_EVERY_S = 60.0


class HeadTooLarge(Exception):
    """Raised from a parser callback; httptools wraps it, `data_received` answers 431."""


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """Pass as `uvicorn.Config(http=...)` with `limit_concurrency=MAX_CONNECTIONS + 1`."""

    max_head_bytes = MAX_HEAD_BYTES
    max_header_fields = MAX_HEADER_FIELDS
    read_timeout_s = READ_TIMEOUT_S
    max_connections = MAX_CONNECTIONS
    _eviction_logged_at = float("-inf")

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._boundaries = 0  # requests begun, heads completed, requests completed: parser events that split reads
        self._reading_head = True  # the next request's head is not complete yet
        self._in_message = False  # between a request's first byte and its last
        self._head_bytes = 0  # bytes received for the head being read (whole reads only)
        self._head_size = 0  # its request line and fields as parsed
        self._head_fields = 0
        self._idle_since: float | None = None  # None while a request is being answered
        self._timer: asyncio.TimerHandle | None = None
        self._discarding = False  # answered 431/408: whatever else arrives is dropped

    # -- the connection

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._idle_since = time.monotonic()
        self._set_timer(self.read_timeout_s, self._timed_out)
        self._make_room()

    def connection_lost(self, exc: Exception | None) -> None:
        self._set_timer(None)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._discarding:
            return
        boundaries = self._boundaries
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if isinstance(exc.__context__, HeadTooLarge):
                self._refuse(431, str(exc.__context__))
            else:
                self.logger.debug("api: invalid HTTP request received")
                self.send_400_response("Invalid HTTP request received.")
            return
        except httptools.HttpParserUpgrade:
            # No route takes an upgrade (the LAN guard closes WebSockets); as uvicorn does, it is left to the app.
            if self._should_upgrade():
                self._set_timer(None)
                self.handle_websocket_upgrade()
            return
        # A read that held nothing but part of one head counts whole. One with a boundary in it (the head's
        # first bytes) is left out — at most one read per head; a head completed in it was measured as parsed.
        if self._reading_head and self._boundaries == boundaries:
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head_bytes:
                self._refuse(431, f"request header fields too large (at most {self.max_head_bytes} bytes)")

    # -- parser callbacks

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._boundaries += 1
        self._in_message = True
        self._head_size = self._head_fields = 0
        self._set_timer(self.read_timeout_s, self._timed_out)  # the whole request, from its first byte

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_fields += 1
        if self._head_fields > self.max_header_fields:
            raise HeadTooLarge(f"too many request header fields (at most {self.max_header_fields})")
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._boundaries += 1
        self._reading_head = False
        self._head_bytes = 0
        self._idle_since = None
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._boundaries += 1
        self._in_message = False
        self._reading_head = True
        self._set_timer(None)
        super().on_message_complete()

    def on_response_complete(self) -> None:
        started_next = bool(self.pipeline)
        super().on_response_complete()
        if self.transport.is_closing() or started_next:
            return
        self._idle_since = time.monotonic()
        if not self._in_message:  # else the next request is arriving, under its own deadline
            self._set_timer(self.read_timeout_s, self._timed_out)

    # -- internals

    def _count(self, size: int) -> None:
        self._head_size += size
        if self._head_size > self.max_head_bytes:
            raise HeadTooLarge(f"request header fields too large (at most {self.max_head_bytes} bytes)")

    def _timed_out(self) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        if self._in_message:
            self._refuse(408, f"the request did not arrive within {self.read_timeout_s:.0f} s")
        else:
            self.transport.close()  # idle: nothing to answer

    def _refuse(self, status: int, reason: str) -> None:
        """Answers `status` and closes, reading and dropping what the client still sends for a while."""
        self._discarding = True
        self._set_timer(None)
        if self.cycle is not None and not self.cycle.response_complete:
            self.transport.close()  # an answer is being sent: a status line now would corrupt it
            return
        body = reason.encode()
        head = f"content-type: text/plain; charset=utf-8\r\ncontent-length: {len(body)}\r\nconnection: close\r\n\r\n"
        self.transport.write(STATUS_LINE[status] + head.encode() + body)
        if self.transport.can_write_eof():
            self.transport.write_eof()  # the answer, then FIN; the client may still be sending
        self._idle_since = self._idle_since or time.monotonic()
        self._set_timer(LINGER_S, self.transport.close)

    def _set_timer(self, delay: float | None, callback: Any = None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None if delay is None else self.loop.call_later(delay, callback)

    def _make_room(self) -> None:
        """Over `max_connections`: closes the connection idle the longest (never one being answered)."""
        if len(self.connections) <= self.max_connections:
            return
        open_ = [c for c in self.connections if c.transport is not None and not c.transport.is_closing()]
        if len(open_) <= self.max_connections:
            return  # the surplus is already closing (its connection_lost comes on the next loop turn)
        idle = [
            c for c in open_ if isinstance(c, GuardedHttpToolsProtocol) and c is not self and c._idle_since is not None
        ]
        if not idle:
            return  # every connection is busy: uvicorn answers this one 503
        oldest = min(idle, key=lambda c: c._idle_since or 0.0)
        oldest._set_timer(None)
        oldest.transport.close()
        now = time.monotonic()
        if now - GuardedHttpToolsProtocol._eviction_logged_at >= EVICTION_LOG_EVERY_S:
            GuardedHttpToolsProtocol._eviction_logged_at = now
            log.warning(
                "api: %d connections open (at most %d): closing the longest idle ones to make room",
                len(self.connections), self.max_connections,
            )  # fmt: skip
