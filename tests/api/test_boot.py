"""The first-boot setup code: shown on the console while no password exists, never otherwise."""

from __future__ import annotations

import io
from pathlib import Path

from app.api.auth import Credentials, credentials_path
from app.api.boot import open_security
from tests.api.conftest import FAST_HASHER, PASSWORD


def test_no_password_means_a_fresh_setup_code_on_the_console(tmp_path: Path) -> None:
    console = io.StringIO()
    security = open_security(str(tmp_path), console)
    assert security.setup_code is not None and security.setup_code.code in console.getvalue()
    again = io.StringIO()
    second = open_security(str(tmp_path), again)
    assert second.setup_code is not None and second.setup_code.code != security.setup_code.code  # new every start
    assert not security.setup_code.check(second.setup_code.code)


def test_with_a_password_there_is_no_setup_code(tmp_path: Path) -> None:
    Credentials(credentials_path(str(tmp_path)), hasher=FAST_HASHER).set_password(PASSWORD)
    console = io.StringIO()
    security = open_security(str(tmp_path), console)
    assert security.setup_code is None and console.getvalue() == ""
