"""The first-boot setup code: shown on the console while no password exists, never otherwise; under systemd
also kept in `$RUNTIME_DIRECTORY/setup-code` (0600) until it is redeemed."""

from __future__ import annotations

import io
import logging
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from app.api.app import create_app
from app.api.auth import Credentials, credentials_path
from app.api.boot import open_security
from tests.api.conftest import FAST_HASHER, PASSWORD, Stack


def test_no_password_means_a_fresh_setup_code_on_the_console(tmp_path: Path) -> None:
    console = io.StringIO()
    security = open_security(str(tmp_path), console)
    assert security.setup_code is not None
    assert security.setup_code.code in console.getvalue()
    again = io.StringIO()
    second = open_security(str(tmp_path), again)
    assert second.setup_code is not None
    assert second.setup_code.code != security.setup_code.code  # new every start
    assert not security.setup_code.check(second.setup_code.code)


def test_with_a_password_there_is_no_setup_code(tmp_path: Path) -> None:
    Credentials(credentials_path(str(tmp_path)), hasher=FAST_HASHER).set_password(PASSWORD)
    console = io.StringIO()
    security = open_security(str(tmp_path), console)
    assert security.setup_code is None
    assert console.getvalue() == ""


# -- under systemd: the code's 0600 copy in $RUNTIME_DIRECTORY for root's console helper ----------------------


def runtime_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, extra: bool = False) -> Path:
    """RUNTIME_DIRECTORY as systemd sets it: one path, or several joined with ':' (the first is ours)."""
    folder = tmp_path / "run" / "edgewatch"
    folder.mkdir(parents=True, mode=0o700)
    value = f"{folder}:{tmp_path / 'run' / 'other'}" if extra else str(folder)
    monkeypatch.setenv("RUNTIME_DIRECTORY", value)
    return folder


def test_under_systemd_the_code_shown_is_also_in_a_0600_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = runtime_dir(tmp_path, monkeypatch, extra=True)
    renamed: list[tuple[str, int]] = []
    real_replace = os.replace

    def watching_replace(src: str, dst: str) -> None:  # the temporary file's mode at the moment it is renamed
        renamed.append((str(Path(src).parent), stat.S_IMODE(os.stat(src).st_mode)))
        real_replace(src, dst)

    monkeypatch.setattr("app.api.auth.setupfile.os.replace", watching_replace)
    console = io.StringIO()
    old_umask = os.umask(0)  # the mode must come from how the file is made, not from the caller's umask
    try:
        security = open_security(str(tmp_path / "state"), console)
    finally:
        os.umask(old_umask)
    assert security.setup_code is not None
    code = security.setup_code.code
    assert code in console.getvalue()
    written = folder / "setup-code"
    assert written.read_text(encoding="ascii") == f"{code}\n"  # one line: the code, as the console shows it
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert renamed == [(str(folder), 0o600)]  # made 0600 in the same folder, then renamed: never readable by others
    assert sorted(p.name for p in folder.iterdir()) == ["setup-code"]  # no temporary file left behind
    assert not (tmp_path / "run" / "other").exists()  # only the first of several runtime directories


def test_without_a_runtime_directory_no_file_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNTIME_DIRECTORY", raising=False)  # by hand, or in the container
    security = open_security(str(tmp_path / "state"), io.StringIO())
    assert security.setup_code is not None
    assert security.setup_code_file is None
    monkeypatch.setenv("RUNTIME_DIRECTORY", "relative/run")  # not systemd's: ignored, not written to
    monkeypatch.chdir(tmp_path)
    assert open_security(str(tmp_path / "state"), io.StringIO()).setup_code_file is None
    assert not (tmp_path / "relative").exists()


def test_with_a_password_the_runtime_file_does_not_exist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = runtime_dir(tmp_path, monkeypatch)
    (folder / "setup-code").write_text("K7QM-2XHP-9TRB\n")  # left from a start before the password was set
    Credentials(credentials_path(str(tmp_path / "state")), hasher=FAST_HASHER).set_password(PASSWORD)
    console = io.StringIO()
    security = open_security(str(tmp_path / "state"), console)
    assert security.setup_code is None
    assert console.getvalue() == ""
    assert not (folder / "setup-code").exists()


def test_the_file_goes_once_the_code_is_redeemed_through_the_setup_route(
    tmp_path: Path, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = runtime_dir(tmp_path, monkeypatch)
    security = open_security(str(tmp_path / "fresh"), io.StringIO())
    assert security.setup_code is not None
    code_file = folder / "setup-code"
    app = create_app(stack.service, stack.service.metrics, security, stack.config.api)
    with TestClient(app, base_url="http://127.0.0.1:8080", client=("127.0.0.1", 1)) as client:
        wrong = client.post("/api/setup", json={"code": "WRONG-CODE-XX", "password": "a fine long passphrase"})
        assert wrong.status_code == 401
        assert code_file.is_file()  # a wrong guess spends nothing
        weak = client.post("/api/setup", json={"code": security.setup_code.code, "password": "password1"})
        # refused before the code is spent
        assert weak.status_code == 422
        assert code_file.is_file()
        done = client.post("/api/setup", json={"code": security.setup_code.code, "password": "a fine long passphrase"})
        assert done.status_code == 204
    assert not code_file.exists()
    assert open_security(str(tmp_path / "fresh"), io.StringIO()).setup_code is None  # the password is set
    assert not code_file.exists()


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder nobody may write to: mode 0500, or for root (who ignores modes) a read-only tmpfs."""
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o500)
        yield folder
        folder.chmod(0o700)
        return
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=64k,mode=0700", "tmpfs", str(folder)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here: {done.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_a_runtime_directory_that_cannot_be_written_is_a_warning_without_the_code(
    tmp_path: Path, read_only_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("RUNTIME_DIRECTORY", str(read_only_dir))
    console = io.StringIO()
    with caplog.at_level(logging.DEBUG):
        security = open_security(str(tmp_path / "state"), console)  # does not raise
    assert security.setup_code is not None
    assert security.setup_code.code in console.getvalue()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, caplog.records
    assert str(read_only_dir / "setup-code") in warnings[0], caplog.records
    assert security.setup_code.code not in caplog.text
    assert list(read_only_dir.iterdir()) == []
