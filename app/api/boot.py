"""Starts the API inside `edgewatch run`: login state, the first-boot setup code, the server."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import TextIO

from app.api.app import Security, create_app
from app.api.auth import (
    Credentials,
    LoginLimiter,
    Sessions,
    SetupCode,
    credentials_path,
    remove_setup_code,
    setup_code_path,
    write_setup_code,
)
from app.api.routes import Backend
from app.api.server import ApiServer
from app.config import ApiConfig
from app.run.metrics import Metrics


def open_security(
    storage_path: str, console: TextIO | None = None, environ: Mapping[str, str] | None = None
) -> Security:
    """The login state. With no password yet, a one-time setup code is made and shown on
    the console (never logged: logs are kept and shipped, the console is the installer's).
    Under systemd (`RuntimeDirectory=`) it is also written to `$RUNTIME_DIRECTORY/setup-code`
    (0600) for the unit's root helper, which shows it on the box's screen; with a password
    that file must not exist."""
    credentials = Credentials(credentials_path(storage_path))
    code_file = setup_code_path(os.environ if environ is None else environ)
    code = None
    if credentials.has_password():
        if code_file is not None:
            remove_setup_code(code_file)  # a copy left from an earlier start is no use to anyone
    else:
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
        if code_file is not None:
            write_setup_code(code_file, code.code)  # a failure is a warning: the console above has it
    return Security(credentials, Sessions(), LoginLimiter(), code, code_file)


def start_api(backend: Backend, metrics: Metrics, config: ApiConfig, security: Security) -> ApiServer:
    server = ApiServer(create_app(backend, metrics, security, config), *config.listen)
    server.start()
    return server
