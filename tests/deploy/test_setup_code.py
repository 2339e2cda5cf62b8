"""systemd/edgewatch-setup-code, the unit's root helper, run for real against files in tmp_path: `show` copies the
service's setup code to root's file (0600) and writes a banner on each console that is a character device (two
pseudo-terminals stand in for /dev/console and /dev/tty1); without a code it removes a stale copy and says nothing;
`clear` removes the copy."""

from __future__ import annotations

import os
import re
import select
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.deploy.test_install import require_tool

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "systemd" / "edgewatch-setup-code"
CODE = "K7QM-2XHP-9TRB"


@dataclass
class Console:
    """A pseudo-terminal: the script writes to `path` (a character device, as /dev/tty1 is), the test reads `master`."""

    path: str
    master: int
    slave: int

    def read(self) -> str:
        chunks = []
        while select.select([self.master], [], [], 0.3)[0]:
            try:
                data = os.read(self.master, 4096)
            except OSError:  # EIO: nothing left
                break
            if not data:
                break
            chunks.append(data)
        return b"".join(chunks).decode().replace("\r\n", "\n")  # the tty's ONLCR


@pytest.fixture
def consoles() -> Iterator[list[Console]]:
    opened = []
    for _ in range(2):
        master, slave = os.openpty()
        opened.append(Console(os.ttyname(slave), master, slave))
    yield opened
    for console in opened:
        os.close(console.master)
        os.close(console.slave)


@dataclass
class Box:
    runtime: Path  # /run/edgewatch
    root_file: Path  # /root/edgewatch-setup-code
    config: Path  # /etc/edgewatch/config.yaml
    consoles: list[Console]

    def run(self, verb: str, *, extra_consoles: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
        env = dict(
            os.environ,
            EDGEWATCH_RUNTIME_DIR=str(self.runtime),
            EDGEWATCH_ROOT_FILE=str(self.root_file),
            EDGEWATCH_CONFIG=str(self.config),
            EDGEWATCH_CONSOLES=" ".join([*(c.path for c in self.consoles), *extra_consoles]),
        )
        # umask 0: the root file's mode must come from the script, not from whoever runs it.
        return subprocess.run(
            ["bash", str(SCRIPT), verb], env=env, capture_output=True, text=True, check=False, timeout=30, umask=0
        )

    def give_code(self, text: str = CODE + "\n") -> None:
        (self.runtime / "setup-code").write_text(text)


@pytest.fixture
def box(tmp_path: Path, consoles: list[Console]) -> Box:
    runtime = tmp_path / "run" / "edgewatch"
    runtime.mkdir(parents=True)
    (tmp_path / "root").mkdir(mode=0o700)
    return Box(runtime, tmp_path / "root" / "edgewatch-setup-code", tmp_path / "config.yaml", consoles)


def _output(done: subprocess.CompletedProcess[str]) -> str:
    return f"exit {done.returncode}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"


def test_show_keeps_the_code_for_root_and_puts_it_on_every_console(box: Box) -> None:
    box.give_code()
    done = box.run("show")
    assert done.returncode == 0, _output(done)
    assert done.stdout == "", _output(done)
    assert done.stderr == "", _output(done)
    st = box.root_file.stat()
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o600, os.geteuid(), os.getegid())
    lines = box.root_file.read_text().splitlines()
    assert lines[0] == CODE
    assert "works once, until an admin password is set or the service restarts" in lines[1]
    assert re.fullmatch(r"Open http://\S+:8080/login( or http://\S+:8080/login)* and enter it .*", lines[2]), lines
    assert [p.name for p in box.root_file.parent.iterdir()] == [box.root_file.name]  # no temporary file left
    for console in box.consoles:
        shown = console.read()
        assert f"Setup code:  {CODE}\n" in shown, shown
        assert re.search(r"^    http://\S+:8080/login$", shown, re.M), shown
        assert str(box.root_file) in shown


def test_show_replaces_the_copy_of_an_earlier_start(box: Box) -> None:
    box.root_file.write_text("OLD0-OLD0-OLD0\n")
    box.root_file.chmod(0o644)
    box.give_code()
    assert box.run("show").returncode == 0
    assert box.root_file.read_text().splitlines()[0] == CODE
    assert stat.S_IMODE(box.root_file.stat().st_mode) == 0o600


def test_show_without_a_code_removes_a_stale_copy_and_says_nothing(box: Box) -> None:
    box.root_file.write_text(CODE + "\n")  # from a start before the password was set
    done = box.run("show")
    assert done.returncode == 0, _output(done)
    assert done.stdout == "", _output(done)
    assert done.stderr == "", _output(done)
    assert not box.root_file.exists()
    assert [console.read() for console in box.consoles] == ["", ""]
    again = box.run("show")  # nothing to remove: still fine
    assert again.returncode == 0, _output(again)
    assert not box.root_file.exists(), _output(again)


def test_clear_removes_the_copy(box: Box) -> None:
    box.give_code()
    box.root_file.write_text(CODE + "\n")
    done = box.run("clear")
    assert done.returncode == 0, _output(done)
    assert not box.root_file.exists()
    assert box.run("clear").returncode == 0  # and again, with nothing there
    assert [console.read() for console in box.consoles] == ["", ""]


@pytest.mark.parametrize(
    ("config", "port"),
    [
        (None, 8080),
        ("cameras: {}\n", 8080),
        ("cameras: {}\napi:\n  allow: [private]\n  listen: 0.0.0.0:9090\n", 9090),
        ('api: {listen: "192.168.1.5:8443", allow: [private]}\ncameras: {}\n', 8443),
        ("api:\n  listen: '[::]:7070'\n", 7070),
        ("# api:\n#   listen: 0.0.0.0:9090\ncameras: {}\n", 8080),  # the skeleton's commented example
        ("api:\n  # listen: 0.0.0.0:9090\n  allow: [private]\nmqtt:\n  listen: 1.2.3.4:1883\n", 8080),
    ],
)
def test_the_login_url_has_the_port_of_api_listen(box: Box, config: str | None, port: int) -> None:
    if config is not None:
        box.config.write_text(config)
    box.give_code()
    assert box.run("show").returncode == 0
    assert re.search(rf"http://\S+:{port}/login", box.root_file.read_text()), box.root_file.read_text()


def test_consoles_that_are_not_character_devices_are_left_alone(box: Box, tmp_path: Path) -> None:
    """A headless box has no tty1: a missing console is skipped, and nothing is created in its place."""
    plain = tmp_path / "plain-file"
    plain.write_text("")
    missing = tmp_path / "no-tty1"
    box.give_code()
    done = box.run("show", extra_consoles=(str(plain), str(missing)))
    assert done.returncode == 0, _output(done)
    assert plain.read_text() == ""
    assert not missing.exists()
    assert all(CODE in console.read() for console in box.consoles)


@pytest.mark.parametrize("content", ["\x1b]0;owned\x07K7QM-2XHP-9TRB\n", "root:x:0:0:root:/root:/bin/bash\n", ""])
def test_a_file_that_is_no_setup_code_never_reaches_root_or_the_screen(box: Box, content: str) -> None:
    """The runtime folder belongs to the service's user: what it holds is checked before root copies it."""
    box.give_code(content)
    box.root_file.write_text(CODE + "\n")
    done = box.run("show")
    assert done.returncode == 0, _output(done)
    assert not box.root_file.exists()
    assert [console.read() for console in box.consoles] == ["", ""]


def test_a_symlinked_code_file_is_not_followed(box: Box, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text(CODE + "\n")
    (box.runtime / "setup-code").symlink_to(elsewhere)
    assert box.run("show").returncode == 0
    assert not box.root_file.exists()
    assert [console.read() for console in box.consoles] == ["", ""]


def test_a_root_file_that_cannot_be_written_still_leaves_the_code_on_screen(box: Box, tmp_path: Path) -> None:
    box.give_code()
    box.root_file = tmp_path / "no-such-folder" / "edgewatch-setup-code"
    done = box.run("show")
    assert done.returncode == 0, _output(done)
    assert "cannot write" in done.stderr
    assert CODE not in done.stderr
    for console in box.consoles:
        shown = console.read()
        assert CODE in shown
        assert str(box.root_file) not in shown


@pytest.mark.parametrize("args", [[], ["show", "clear"], ["frobnicate"]])
def test_anything_but_show_or_clear_is_a_usage_error(args: list[str]) -> None:
    done = subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert "usage: edgewatch-setup-code show|clear" in done.stderr


def test_the_helper_is_shellcheck_clean_and_strict() -> None:
    require_tool("shellcheck")
    done = subprocess.run(["shellcheck", str(SCRIPT)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    text = SCRIPT.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "\nset -euo pipefail\n" in text
    assert os.access(SCRIPT, os.X_OK), "the checkout's copy is executable (the installer sets 0755 anyway)"
