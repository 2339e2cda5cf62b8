"""Starts the API inside `edgewatch run`: login state, the first-boot setup code, the server."""

from __future__ import annotations

import sys
from typing import TextIO

from app.api.app import Security, create_app
from app.api.auth import Credentials, LoginLimiter, Sessions, SetupCode, credentials_path
from app.api.routes import Backend
from app.api.server import ApiServer
from app.config import ApiConfig
from app.metrics import Metrics


def open_security(storage_path: str, console: TextIO | None = None) -> Security:
    """The login state. With no password yet, a one-time setup code is made and shown on
    the console (never logged: logs are kept and shipped, the console is the installer's)."""
    credentials = Credentials(credentials_path(storage_path))
    code = None
    if not credentials.has_password():
        code = SetupCode()
        out = console or sys.stderr
        print(
            "\n"
            "  edgewatch: no admin password is set, so the dashboard is locked.\n"
            f"  Open the dashboard's /login page and enter the setup code  {code.code}\n"
            "  (it works once, and changes at every start), or run `edgewatch passwd`.\n",
            file=out,
            flush=True,
        )
    return Security(credentials, Sessions(), LoginLimiter(), code)


def start_api(backend: Backend, metrics: Metrics, config: ApiConfig, security: Security) -> ApiServer:
    server = ApiServer(create_app(backend, metrics, security, config), *config.listen)
    server.start()
    return server
