"""Builds the FastAPI application: LAN guard → Host check → login gate → routes (SPEC: HTTP API).

No CORS middleware (the API is for this origin only), no Swagger/ReDoc pages (they
load scripts from a CDN, and the box may be offline); the OpenAPI schema itself is at
/openapi.json, behind the login like everything else."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from string import Template
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from app import __version__
from app.api.account import account_router, token_router
from app.api.auth import Credentials, LoginLimiter, Sessions, SetupCode, passwords
from app.api.gate import LoginGate
from app.api.guard import LanGuard
from app.api.hosts import HostGuard
from app.api.models import Health
from app.api.routes import Backend, data_router
from app.config import ApiConfig
from app.run.metrics import Metrics
from app.store import StoreError

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
PAGES = HERE / "pages"
STATIC = HERE / "static"
SESSION_MAX_AGE_S = 7 * 24 * 3600


@dataclass(frozen=True)
class Security:
    """The login state the app shares with `edgewatch passwd` (through the credentials file)."""

    credentials: Credentials
    sessions: Sessions
    limiter: LoginLimiter
    setup_code: SetupCode | None  # None once a password exists at start
    setup_code_file: Path | None = None  # its copy for root's console helper under systemd (auth/setupfile.py)


def create_app(backend: Backend, metrics: Metrics, security: Security, config: ApiConfig) -> FastAPI:
    app = FastAPI(
        title="edgewatch",
        version=__version__,
        summary="LAN-only status API of an edgewatch appliance",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )

    @app.get("/api/health", tags=["status"])
    def health() -> Health:
        return Health()

    @app.get("/", include_in_schema=False)
    def dashboard() -> FileResponse:
        return FileResponse(PAGES / "index.html", media_type="text/html")

    login_html = login_page_html()

    @app.get("/login", include_in_schema=False)
    def login_page() -> HTMLResponse:
        return HTMLResponse(login_html)

    app.mount("/assets", StaticFiles(directory=STATIC), name="assets")
    app.include_router(data_router(backend, metrics))
    app.include_router(
        account_router(
            security.credentials,
            security.sessions,
            security.limiter,
            security.setup_code,
            session_max_age_s=SESSION_MAX_AGE_S,
            setup_code_file=security.setup_code_file,
        )
    )
    app.include_router(token_router(security.credentials))

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> Response:
        # FastAPI's default echoes the offending input back — which may be a password.
        errors = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
            for e in exc.errors()
        ]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(StoreError)
    async def storage_down(request: Request, exc: StoreError) -> Response:
        log.error("api: storage error on %s: %s", request.url.path, exc)
        return JSONResponse({"detail": "storage is unavailable right now"}, status_code=503)

    # Added innermost first: the guard ends up outermost, before anything else runs.
    app.add_middleware(LoginGate, credentials=security.credentials, sessions=security.sessions)
    names = list(config.hostnames)
    if config.url is not None and urlsplit(config.url).hostname:  # the dashboard link Home Assistant shows
        names.append(str(urlsplit(config.url).hostname))
    app.add_middleware(HostGuard, listen_host=config.listen[0], hostnames=names)
    app.add_middleware(LanGuard, allow=config.allow, trusted_proxies=config.trusted_proxies)
    return app


def login_page_html() -> str:
    """The login page with the account name and the server's own password limits written into it (the setup
    form's minlength/maxlength and its hint): login.js checks what `check_password_strength` will, and no
    number is copied into the page or its script. Nothing new is disclosed: the page was public, with the
    same rule in its text, before. A placeholder left unfilled fails here, at start, not in a browser."""
    template = Template((PAGES / "login.html").read_text(encoding="utf-8"))
    return template.substitute(
        username=passwords.USERNAME,
        min_password_chars=passwords.MIN_PASSWORD_CHARS,
        max_password_chars=passwords.MAX_PASSWORD_CHARS,
    )
