"""DNS rebinding: the API answers only requests whose `Host` names this box; anything else gets 421.

A web page from evil.example can make that name resolve to the box's LAN address: the browser then
sends the page's requests to the box — carrying `Host: evil.example` and a matching `Origin` — and
lets the page read the answers as its own. The LAN guard passes them (the browser is on the LAN)
and the login's same-origin check passes too (Origin and Host agree), so the name in `Host` is what
tells. Names this box answers to:

- IP literals of the box itself: the listen address, any address of its interfaces (asked of the
  kernel: an address is the box's when a socket can be bound to it, so DHCP renewals and new
  interfaces need no restart), the address the connection arrived on, loopback;
- `localhost`, the host name, its first label and `<first label>.local` (mDNS);
- whatever `api.hostnames` lists (a reverse proxy's name, a DNS name the router hands out, the host's
  address when a container's port is published through NAT).

A port is ignored (the browser sends the one it connected to), IPv6 literals come in brackets; a
missing, repeated or malformed `Host` is refused too. Runs inside the LAN guard (403 for outsiders
comes first) and before the login gate and every route, /api/health and static files included.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import time
from collections.abc import Iterable, Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
MISDIRECTED = "this box does not answer to that host name; use its address or add the name to api.hostnames"
REFUSED_LOG_EVERY_S = 60.0
LOCAL_CACHE_S = 30.0
LOCAL_CACHE_MAX = 256
MAX_HOST_CHARS = 300  # a DNS name is at most 253, plus brackets and a port


def host_of(value: str) -> str | Address | None:
    """The host in a `Host` header — an address, or a lower-case name without its trailing dot — or None
    when the header is malformed. The port, if any, is dropped."""
    value = value.strip().lower()
    if not value or len(value) > MAX_HOST_CHARS:
        return None
    if value.startswith("["):  # [IPv6]:port
        end = value.find("]")
        if end < 0 or ":" not in value[1:end] or not _port_ok(value[end + 1 :]):
            return None
        return _address(value[1:end].split("%", 1)[0])  # a zone id (%25eth0) says nothing about the box
    host, colon, port = value.partition(":")
    if colon and not _port_ok(colon + port):
        return None  # also a bare IPv6 literal: RFC 9110 wants it in brackets, and browsers send it so
    host = host.removesuffix(".")
    if not host:
        return None
    return _address(host) or host


class LocalAddresses:
    """Whether an address belongs to this box, asked of the kernel (binding a UDP socket to it works only for
    a local address) and remembered for a short while."""

    def __init__(self, ttl_s: float = LOCAL_CACHE_S) -> None:
        self._ttl = ttl_s
        self._known: dict[Address, tuple[bool, float]] = {}

    def __contains__(self, address: Address) -> bool:
        if address.is_unspecified or address.is_multicast:
            return False  # bind() accepts these without them being anyone's address
        now = time.monotonic()
        cached = self._known.get(address)
        if cached is not None and now < cached[1]:
            return cached[0]
        if len(self._known) >= LOCAL_CACHE_MAX:
            self._known.clear()
        local = _bindable(address)
        self._known[address] = (local, now + self._ttl)
        return local


class HostGuard:
    """Pure ASGI middleware: 421 unless `Host` names this box."""

    def __init__(
        self, app: ASGIApp, listen_host: str, hostnames: Sequence[str] = (), *, host_name: str | None = None
    ) -> None:
        self._app = app
        configured = [_address(name.strip().strip("[]")) or host_of(name) for name in (listen_host, *hostnames)]
        self._addresses = frozenset(
            a for a in configured if a is not None and not isinstance(a, str) and not a.is_unspecified
        )  # listening on 0.0.0.0 or :: means every address of the box, not the address 0.0.0.0
        self._names = frozenset(
            [*box_names(socket.gethostname() if host_name is None else host_name), *_names(configured)]
        )
        self._local = LocalAddresses()
        self._refused_logged_at = float("-inf")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        values = [value for name, value in scope["headers"] if name.lower() == b"host"]
        host = host_of(values[0].decode("latin-1")) if len(values) == 1 else None
        if host is None or not self.names_this_box(host, scope.get("server")):
            self._log_refused(values, scope)
            await _misdirected(send)
            return
        await self._app(scope, receive, send)

    def names_this_box(self, host: str | Address, server: Sequence[object] | None = None) -> bool:
        if isinstance(host, str):
            return host in self._names
        arrived_on = _address(str(server[0]).split("%", 1)[0]) if server else None
        return host.is_loopback or host in self._addresses or host == arrived_on or host in self._local

    def _log_refused(self, values: list[bytes], scope: Scope) -> None:
        now = time.monotonic()
        if now - self._refused_logged_at >= REFUSED_LOG_EVERY_S:  # at most once a minute: no log flood
            self._refused_logged_at = now
            shown = values[0][:64].decode("latin-1") if len(values) == 1 else f"{len(values)} Host headers"
            who = scope.get("state", {}).get("client_ip", "?")
            log.warning("api: refused a request for host %r from %s (421; see api.hostnames)", shown, who)


def box_names(host_name: str) -> set[str]:
    """`localhost`, the host name, its first label and that label under `.local` (what mDNS announces)."""
    names = {"localhost"}
    full = host_name.strip().lower().removesuffix(".")
    if full:
        first = full.split(".", 1)[0]
        names |= {full, first, f"{first}.local"}
    return names


def _names(hosts: Iterable[str | Address | None]) -> set[str]:
    return {host for host in hosts if isinstance(host, str)}


def _address(text: str) -> Address | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # a dual-stack socket reports IPv4 as ::ffff:a.b.c.d
    return address


def _port_ok(rest: str) -> bool:
    """'' or ':' followed by up to 5 digits (an empty port is allowed by RFC 3986)."""
    return rest == "" or (rest.startswith(":") and len(rest) <= 6 and (rest[1:] == "" or rest[1:].isdigit()))


def _bindable(address: Address) -> bool:
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.bind((str(address), 0))
    except OSError:
        return False
    return True


async def _misdirected(send: Send) -> None:
    body = json.dumps({"detail": MISDIRECTED}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 421, "headers": headers})
    await send({"type": "http.response.body", "body": body})
