"""The outermost layer: who may talk to the box at all, how much they may send, and the
security headers every response carries.

Runs before routing, so an address outside `api.allow` gets 403 on every path,
existing or not, and learns nothing about what is behind it. `X-Forwarded-For` is
believed only when the connection itself comes from one of `api.trusted_proxies`.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# The named networks of `api.allow` (SPEC default: private, loopback, link-local).
# Explicit lists, not `is_private`: that also admits documentation and benchmark
# ranges, and CGNAT (100.64/10) is the provider's network, not the home LAN.
NAMED: dict[str, tuple[str, ...]] = {
    "private": ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"),
    "loopback": ("127.0.0.0/8", "::1/128"),
    "link-local": ("169.254.0.0/16", "fe80::/10"),
}
MAX_BODY_BYTES = 16 * 1024  # the largest JSON body any route takes is a few hundred bytes
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; "
    "connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (b"cache-control", b"no-store"),
)
DENIED_LOG_EVERY_S = 60.0


def networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """`api.allow` / `api.trusted_proxies` entries (names or CIDRs, as validated by the config)."""
    result: list[Network] = []
    for entry in entries:
        for cidr in NAMED.get(entry, (entry,)):
            result.append(ipaddress.ip_network(cidr, strict=False))
    return tuple(result)


def parse_address(text: str) -> Address | None:
    try:
        address = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # a dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d
    return address


def inside(address: Address, nets: Sequence[Network]) -> bool:
    return any(address.version == net.version and address in net for net in nets)


def client_address(peer: str | None, forwarded_for: str | None, trusted: Sequence[Network]) -> Address | None:
    """The client the request is for: the peer, or — only when the peer is a trusted proxy —
    the right-most `X-Forwarded-For` hop that is not itself a trusted proxy.

    Right-most, because every hop appends; the left end is whatever the client wrote."""
    address = parse_address(peer) if peer else None
    if address is None or not forwarded_for or not inside(address, trusted):
        return address
    for hop in reversed(forwarded_for.split(",")):
        hop_address = parse_address(hop)
        if hop_address is None:
            return None  # a mangled chain is not evidence of anything
        if not inside(hop_address, trusted):
            return hop_address
    return address


class LanGuard:
    """Pure ASGI middleware: 403 outside `allow`, 413/411 for bodies, security headers."""

    def __init__(
        self,
        app: ASGIApp,
        allow: Sequence[str],
        trusted_proxies: Sequence[str] = (),
        *,
        max_body: int = MAX_BODY_BYTES,
    ) -> None:
        self._app = app
        self._allow = networks(allow)
        self._trusted = networks(trusted_proxies)
        self._max_body = max_body
        self._denied_logged: dict[str, float] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":  # no route uses one; refuse before anything runs
                await send({"type": "websocket.close", "code": 1008})
                return
            await self._app(scope, receive, send)
            return
        headers = _headers(scope)
        peer = scope["client"][0] if scope.get("client") else None
        address = client_address(peer, headers.get("x-forwarded-for"), self._trusted)
        if address is None or not inside(address, self._allow):
            self._log_denied(str(address) if address else str(peer))
            await _reply(send, 403, "forbidden: this address may not use the API (see api.allow)")
            return
        scope.setdefault("state", {})["client_ip"] = str(address)
        if scope["method"] in BODY_METHODS:
            problem = self._body_problem(headers)
            if problem is not None:
                await _reply(send, *problem)
                return
        await self._app(scope, _limited(receive, self._max_body), _with_headers(send))

    def _body_problem(self, headers: dict[str, str]) -> tuple[int, str] | None:
        length = headers.get("content-length")
        if length is None:
            if "chunked" in headers.get("transfer-encoding", "").lower():
                return 411, "send a Content-Length; chunked request bodies are not accepted"
            return None
        if not length.isdigit():
            return 400, "Content-Length is not a number"
        if int(length) > self._max_body:
            return 413, f"request body too large (at most {self._max_body} bytes)"
        return None

    def _log_denied(self, who: str) -> None:
        now = time.monotonic()
        if now - self._denied_logged.get(who, -DENIED_LOG_EVERY_S) >= DENIED_LOG_EVERY_S:
            if len(self._denied_logged) > 1024:
                self._denied_logged.clear()
            self._denied_logged[who] = now
            log.warning("api: refused a request from %s (outside api.allow)", who)


def _headers(scope: Scope) -> dict[str, str]:
    # Joined like HTTP does for repeated fields, so a second X-Forwarded-For cannot hide.
    result: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        result[name] = f"{result[name]},{value}" if name in result else value
    return result


def _limited(receive: Receive, limit: int) -> Receive:
    """Never hand the app more than `limit` body bytes, whatever Content-Length claimed."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                return {"type": "http.disconnect"}
        return message

    return wrapped


def _with_headers(send: Send) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            present = {name.lower() for name, _ in message.get("headers", [])}
            extra = [(name, value) for name, value in SECURITY_HEADERS if name not in present]
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return wrapped


async def _reply(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers: list[Any] = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *SECURITY_HEADERS,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
