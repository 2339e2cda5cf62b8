"""The login gate: every route needs a session cookie or an API token, except the
health probe and the login/setup step; state-changing requests from a foreign origin
are refused whoever sends them.

A pure ASGI layer in front of the router, so a route added later is closed by
default — it cannot forget to ask for a login."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.auth import Credentials, Sessions

SESSION_COOKIE = "ew_session"
BEARER = "bearer"  # the auth scheme; schemes are case-insensitive (RFC 9110 11.1): `Bearer`, `bearer`, `BEARER`
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The only doors that open without a login: they reveal nothing and change nothing but
# the login state. Static assets are the login page's script and style, no data.
PUBLIC = frozenset({("GET", "/api/health"), ("GET", "/login"), ("GET", "/api/setup"), ("POST", "/api/setup"),
                    ("POST", "/api/login")})  # fmt: skip
PUBLIC_PREFIX = "/assets/"


class LoginGate:
    def __init__(self, app: ASGIApp, credentials: Credentials, sessions: Sessions) -> None:
        self._app = app
        self._credentials = credentials
        self._sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if method not in SAFE_METHODS and not same_origin(headers):
            await _reply(send, 403, "cross-origin request refused")
            return
        public = (method if method != "HEAD" else "GET", path) in PUBLIC or path.startswith(PUBLIC_PREFIX)
        principal = self._principal(headers)
        scope.setdefault("state", {})["principal"] = principal
        if principal is None and not public:
            if method in ("GET", "HEAD") and path == "/":
                await _redirect(send, "/login")
            else:
                await _reply(send, 401, "login required", [(b"www-authenticate", b'Bearer realm="edgewatch"')])
            return
        await self._app(scope, receive, send)

    def _principal(self, headers: dict[str, str]) -> str | None:
        """'session:<id>' or 'token:<id>' when the request proves a login, else None."""
        scheme, _, credentials = headers.get("authorization", "").strip().partition(" ")
        if scheme.lower() == BEARER:
            token = self._credentials.verify_token(credentials.strip())
            return f"token:{token.id}" if token is not None else None
        session = cookie(headers.get("cookie", ""), SESSION_COOKIE)
        if session and self._sessions.valid(session, not_before=self._credentials.password_set_at()):
            return f"session:{session}"
        return None


def same_origin(headers: dict[str, str]) -> bool:
    """True unless the browser tells us the request comes from another site.

    Browsers send `Origin` on every state-changing fetch and form post; when it is
    absent (curl, a hub), `Sec-Fetch-Site` is the fallback. The comparison is by
    host:port against `Host`, so it holds behind a TLS-terminating proxy too."""
    origin = headers.get("origin")
    if origin is not None:
        if origin == "null":
            return False
        parts = urlsplit(origin)
        return bool(parts.scheme in ("http", "https") and parts.netloc) and parts.netloc == headers.get("host")
    return headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none")


def cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name:
            return value
    return None


def session_of(scope_state: dict[str, object]) -> str | None:
    principal = scope_state.get("principal")
    if isinstance(principal, str) and principal.startswith("session:"):
        return principal.removeprefix("session:")
    return None


async def _reply(send: Send, status: int, detail: str, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _redirect(send: Send, location: str) -> None:
    headers = [(b"location", location.encode()), (b"content-length", b"0")]
    await send({"type": "http.response.start", "status": 303, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
