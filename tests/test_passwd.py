"""`edgewatch passwd`: in-process through `cmd_passwd`, and as an installer runs it (a subprocess)."""

from __future__ import annotations

import argparse
import getpass
import io
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from app.api.auth import USERNAME, Credentials, credentials_path
from app.passwd import cmd_passwd

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "correct horse battery staple"


def write_config(tmp_path: Path, storage: Path | None = None) -> Path:
    config = tmp_path / "edgewatch.yaml"
    config.write_text(
        f"cameras:\n  porch:\n    source: /nonexistent/clip.mp4\nstorage:\n  path: '{storage or tmp_path / 'state'}'\n"
    )
    return config


def run(config: Path | None, *, stdin: bool) -> int:
    return cmd_passwd(argparse.Namespace(config=config, stdin=stdin))


def stored(tmp_path: Path) -> Credentials:
    return Credentials(credentials_path(str(tmp_path / "state")))


def test_stdin_sets_the_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    assert run(config, stdin=True) == 0
    out, err = capsys.readouterr()
    path = credentials_path(str(tmp_path / "state"))
    assert out == f"password set for admin ({path})\n"
    assert PASSWORD not in out + err
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stored(tmp_path).verify_password(USERNAME, PASSWORD)


def test_stdin_keeps_spaces_and_drops_only_the_line_break(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write_config(tmp_path)
    monkeypatch.setattr(sys, "stdin", io.StringIO(f" {PASSWORD} \r\nsecond line ignored\n"))
    assert run(config, stdin=True) == 0
    assert stored(tmp_path).verify_password(USERNAME, f" {PASSWORD} ")
    assert not stored(tmp_path).verify_password(USERNAME, PASSWORD)


@pytest.mark.parametrize(
    ("given", "message"),
    [("password123\n", "well-known"), ("short\n", "too short"), ("\n", "no password"), ("", "no password")],
)
def test_weak_or_missing_password_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], given: str, message: str
) -> None:
    config = write_config(tmp_path)
    monkeypatch.setattr(sys, "stdin", io.StringIO(given))
    assert run(config, stdin=True) == 2
    err = capsys.readouterr().err
    assert err.startswith("edgewatch passwd: ")
    assert message in err
    assert not credentials_path(str(tmp_path / "state")).exists()


def test_interactive_prompts_twice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prompts: list[str] = []

    def fake_getpass(prompt: str = "Password: ", _stream: object = None) -> str:
        prompts.append(prompt)
        return PASSWORD

    monkeypatch.setattr(getpass, "getpass", fake_getpass)
    assert run(write_config(tmp_path), stdin=False) == 0
    assert prompts == ["New admin password: ", "Repeat: "]
    assert stored(tmp_path).verify_password(USERNAME, PASSWORD)


def test_interactive_mismatch_exits_2_and_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = iter([PASSWORD, PASSWORD + "!"])
    monkeypatch.setattr(getpass, "getpass", lambda _prompt="", _stream=None: next(answers))
    assert run(write_config(tmp_path), stdin=False) == 2
    assert "do not match" in capsys.readouterr().err
    assert not stored(tmp_path).has_password()


def test_a_new_password_replaces_the_old_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write_config(tmp_path)
    for password in (PASSWORD, "another long passphrase"):
        monkeypatch.setattr(sys, "stdin", io.StringIO(password + "\n"))
        assert run(config, stdin=True) == 0
    assert stored(tmp_path).verify_password(USERNAME, "another long passphrase")
    assert not stored(tmp_path).verify_password(USERNAME, PASSWORD)


def test_a_new_password_says_that_the_hubs_tokens_were_revoked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    assert run(config, stdin=True) == 0
    for hub in ("home-assistant", "node-red"):
        stored(tmp_path).create_token(hub)
    capsys.readouterr()
    monkeypatch.setattr(sys, "stdin", io.StringIO("another long passphrase\n"))
    assert run(config, stdin=True) == 0
    out, _ = capsys.readouterr()
    assert "2 API token(s) revoked" in out
    assert stored(tmp_path).tokens() == []


def test_bad_config_exits_2_with_file_line_col(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("cameras:\n  porch:\n    source: /x.mp4\n    bogus: 1\n")
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    assert run(config, stdin=True) == 2
    assert capsys.readouterr().err.startswith(f"{config}:4:5: cameras.porch.bogus: unknown key")
    assert not (tmp_path / "state").exists()


def test_unwritable_storage_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    config = write_config(tmp_path, storage=blocker / "state")
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    assert run(config, stdin=True) == 1
    err = capsys.readouterr().err
    assert err.startswith("edgewatch passwd: cannot write ")
    assert "Not a directory" in err
    assert PASSWORD not in err


def test_no_config_uses_the_demo_storage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EDGEWATCH_DEMO_STATE", str(tmp_path / "demo-state"))
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    assert run(None, stdin=True) == 0
    assert str(tmp_path / "demo-state" / "credentials.json") in capsys.readouterr().out
    assert Credentials(tmp_path / "demo-state" / "credentials.json").verify_password(USERNAME, PASSWORD)


# ---- as a subprocess, once app.cli has the verb


def edgewatch(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_subprocess_sets_the_password_and_refuses_weak_ones(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    weak = edgewatch("passwd", "--config", str(config), "--stdin", stdin="password123\n")
    assert weak.returncode == 2
    assert "edgewatch passwd: password is a well-known password" in weak.stderr
    result = edgewatch("passwd", "--config", str(config), "--stdin", stdin=PASSWORD + "\n")
    assert result.returncode == 0, result.stderr
    assert "password set for admin" in result.stdout
    assert PASSWORD not in result.stdout + result.stderr
    assert stored(tmp_path).verify_password(USERNAME, PASSWORD)
