"""Login, logout, first-boot setup and API tokens.

No default password: until `edgewatch passwd` or the one-time setup code (printed
on the console at start) sets one, nothing but /api/health and this step answers.
Logins and setup attempts share one limiter (auth/limiter.py): each attempt takes its slot
before the password or code is checked, so concurrent guesses cannot outrun it (429)."""

from __future__ import annotations

import logging
import math
import pathlib
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, Response
from starlette.concurrency import run_in_threadpool

from app.api.auth import (
    Attempt,
    Credentials,
    CredentialsError,
    LoginLimiter,
    Sessions,
    SetupCode,
    TokenInfo,
    TooManyAttempts,
    WeakPasswordError,
    check_password_strength,
    remove_setup_code,
)
from app.api.gate import SESSION_COOKIE, session_of
from app.api.models import LoginIn, SetupIn, SetupState, TokenCreated, TokenIn, TokenOut
from app.payloads import iso_utc

log = logging.getLogger(__name__)

NO_PASSWORD = "no admin password is set yet: run `edgewatch passwd`, or use the setup code shown on the console"  # noqa: S105
TokenId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


def account_router(
    credentials: Credentials,
    sessions: Sessions,
    limiter: LoginLimiter,
    setup_code: SetupCode | None,
    *,
    session_max_age_s: int,
    setup_code_file: pathlib.Path | None = None,
) -> APIRouter:
    router = APIRouter(tags=["account"])

    def open_session(request: Request, response: Response) -> None:
        _open_session(sessions, session_max_age_s, request, response)

    @router.post("/api/login", status_code=204, responses={401: {}, 409: {}, 429: {}})
    async def login(body: LoginIn, request: Request, response: Response) -> None:
        address = _client(request)
        if not credentials.has_password():
            raise HTTPException(409, NO_PASSWORD)
        attempt = _reserve(limiter, address)  # counted now, not after the verify: a burst cannot all get through
        ok = await run_in_threadpool(credentials.verify_password, body.username, body.password)  # argon2: ~100 ms
        if not ok:
            log.warning("api: failed login from %s", address)  # never the name or password typed
            raise HTTPException(401, "wrong username or password")
        limiter.success(attempt)
        log.info("api: login from %s", address)
        open_session(request, response)

    @router.post("/api/logout", status_code=204)
    def logout(request: Request, response: Response) -> None:
        session = session_of(request.scope.get("state", {}))
        if session is not None:
            sessions.revoke(session)
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
        response.status_code = 204

    router.include_router(_setup_router(credentials, limiter, setup_code, setup_code_file, open_session))
    return router


def _setup_router(
    credentials: Credentials,
    limiter: LoginLimiter,
    setup_code: SetupCode | None,
    setup_code_file: pathlib.Path | None,
    open_session: Callable[[Request, Response], None],
) -> APIRouter:
    """First boot: the admin password set with the setup code shown on the console."""
    router = APIRouter(tags=["account"])

    @router.get("/api/setup")
    def setup_state() -> SetupState:
        return SetupState(required=not credentials.has_password())

    @router.post("/api/setup", status_code=204, responses={401: {}, 409: {}, 422: {}, 429: {}})
    async def setup(body: SetupIn, request: Request, response: Response) -> None:
        address = _client(request)
        if credentials.has_password() or setup_code is None:
            raise HTTPException(409, "the admin password is already set; log in instead")
        try:
            check_password_strength(body.password)  # before the code is spent on a password we refuse
        except WeakPasswordError as exc:
            raise HTTPException(422, f"password too weak: {exc}") from None
        attempt = _reserve(limiter, address)  # a guess at the code: counted like a password guess
        if not setup_code.redeem(body.code):  # check and consume at once: two racing requests, one winner
            log.warning("api: wrong setup code from %s", address)
            raise HTTPException(401, "wrong setup code (it is printed on the console at start)")
        await run_in_threadpool(_set_first_password, credentials, body.password, setup_code_file)
        limiter.success(attempt)
        log.info("api: admin password set from %s with the setup code", address)
        open_session(request, response)

    return router


def _client(request: Request) -> str:
    return str(request.scope.get("state", {}).get("client_ip", "?"))


def _reserve(limiter: LoginLimiter, address: str) -> Attempt:
    """Takes this attempt's slot before anything is verified; 429 when the address must wait."""
    try:
        return limiter.reserve(address)
    except TooManyAttempts as exc:
        wait = max(1, math.ceil(exc.retry_after))
        raise HTTPException(
            429, f"too many failed attempts; try again in {wait} s", headers={"Retry-After": str(wait)}
        ) from None


def _open_session(sessions: Sessions, max_age_s: int, request: Request, response: Response) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        sessions.create(),
        max_age=max_age_s,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    response.status_code = 204


def _set_first_password(credentials: Credentials, password: str, setup_code_file: pathlib.Path | None) -> None:
    """The setup step's password (argon2: ~100 ms). The code is spent by now, whether or not the password is
    stored: its copy for root's console helper goes either way."""
    try:
        credentials.set_password(password)
    finally:
        if setup_code_file is not None:
            remove_setup_code(setup_code_file)


def token_router(credentials: Credentials) -> APIRouter:
    """Long-lived API tokens for hubs and Prometheus: shown once, stored hashed, revocable."""
    router = APIRouter(tags=["account"])

    def session_only(request: Request) -> None:
        # A token cannot mint or revoke tokens: a leaked hub token must not be able to entrench itself.
        if session_of(request.scope.get("state", {})) is None:
            raise HTTPException(403, "API tokens are managed from a login session, not with a token")

    @router.get("/api/tokens", responses={403: {}})
    def tokens(request: Request) -> list[TokenOut]:
        session_only(request)
        return [_token_out(t) for t in credentials.tokens()]

    @router.post("/api/tokens", status_code=201, responses={403: {}, 409: {}})
    def create_token(body: TokenIn, request: Request) -> TokenCreated:
        session_only(request)
        try:
            info, secret = credentials.create_token(body.name)
        except ValueError as exc:
            raise HTTPException(409, str(exc)) from None
        except CredentialsError as exc:
            raise HTTPException(503, f"the credentials file cannot be used: {exc}") from None
        log.info("api: token %s (%s) created", info.id, info.name)
        return TokenCreated(**_token_out(info).model_dump(), token=secret)

    @router.delete("/api/tokens/{token_id}", status_code=204, responses={403: {}, 404: {}})
    def revoke_token(token_id: TokenId, request: Request) -> None:
        session_only(request)
        if not credentials.revoke_token(token_id):
            raise HTTPException(404, "no such token")
        log.info("api: token %s revoked", token_id)

    return router


def _token_out(info: TokenInfo) -> TokenOut:
    return TokenOut(
        id=info.id,
        name=info.name,
        created_at=iso_utc(info.created_at),
        last_used_at=None if info.last_used_at is None else iso_utc(info.last_used_at),
    )
