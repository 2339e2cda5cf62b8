"""deploy/image/: the image build's refusals (one line each, saying what to do) and the flashed
card's boot set-up (deploy/image/rootfs/usr/libexec/edgewatch/boot), run against a folder tree.

The build itself and a boot of its image are tests/deploy/test_image.py (marker `image`).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "deploy" / "image" / "build.sh"
BOOT = ROOT / "deploy" / "image" / "rootfs" / "usr" / "libexec" / "edgewatch" / "boot"

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mount namespaces and file ownership need root")


def test_scripts_are_shellcheck_clean() -> None:
    assert shutil.which("shellcheck"), "shellcheck is in deploy/packages-dev.txt"
    done = subprocess.run(["shellcheck", str(BUILD), str(BOOT)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


# ---------------------------------------------------------------------------------------------
# build.sh: what stops it, before it touches anything


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "error:" in line]


def test_build_refuses_without_root() -> None:
    command = ["bash", str(BUILD)]
    if os.geteuid() == 0:
        command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 1
    assert _error_lines(done.stderr) == [
        "edgewatch image: error: must run as root (debootstrap, chroot and file ownership in the image)"
        " — run: sudo bash deploy/image/build.sh"
    ]


def test_build_rejects_unknown_options_and_bad_coral() -> None:
    done = subprocess.run(["bash", str(BUILD), "--frobnicate"], capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert "unknown option --frobnicate" in done.stderr
    done = subprocess.run(["bash", str(BUILD), "--coral", "maybe"], capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert "--coral maybe — say auto, yes or no" in done.stderr


def _in_namespace(setup: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """build.sh in a private mount namespace after `setup` (mounts that vanish with it)."""
    script = f"set -e; {setup}; exec bash {shlex.quote(str(BUILD))} {' '.join(shlex.quote(a) for a in args)}"
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "bash", "-c", script],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=tmp_path,
    )


BINFMT = "/proc/sys/fs/binfmt_misc"


@needs_root
@pytest.mark.skipif(os.uname().machine == "aarch64", reason="an arm64 machine runs arm64 programs itself")
def test_build_says_how_to_register_the_arm64_handler(tmp_path: Path) -> None:
    # No handler: an empty binfmt_misc, as in a container or on a machine without qemu-user-static's.
    done = _in_namespace(f"mount -t tmpfs none {BINFMT}", tmp_path, "--work", str(tmp_path / "w"))
    assert done.returncode == 1, done.stderr
    lines = _error_lines(done.stderr)
    assert len(lines) == 1, done.stderr
    assert "cannot run arm64 programs (no qemu-aarch64 binfmt_misc handler)" in lines[0]
    assert "apt-get install qemu-user-static" in lines[0]
    assert "systemd-binfmt /usr/lib/binfmt.d/qemu-aarch64.conf" in lines[0]
    assert not (tmp_path / "w").exists()  # stopped before making anything


@needs_root
def test_build_says_when_the_work_folder_is_too_small(tmp_path: Path) -> None:
    # A handler as the kernel lists it (so the check before this one passes on any machine), and
    # a work folder on a 64 MB file system.
    handler = "printf 'enabled\\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\\nflags: POF\\n'"
    work = tmp_path / "small"
    work.mkdir()
    setup = f"mount -t tmpfs none {BINFMT}; {handler} > {BINFMT}/qemu-aarch64; mount -t tmpfs -o size=64m none {work}"
    done = _in_namespace(setup, tmp_path, "--work", str(work), "--out", str(tmp_path / "out"))
    assert done.returncode == 1, done.stderr
    lines = _error_lines(done.stderr)
    assert len(lines) == 1, done.stderr
    assert re.search(rf"only \d+ MB free in {re.escape(str(work))}; the build needs 6 GB", lines[0]), lines[0]
    assert "give another folder with --work DIR" in lines[0]


# ---------------------------------------------------------------------------------------------
# the card's boot set-up, on a folder tree (EDGEWATCH_BOOT_DRY_RUN=1: files only, no systemctl)


class Card:
    """The folders the boot script reads and writes, in tmp_path."""

    def __init__(self, tmp_path: Path) -> None:
        self.boot = tmp_path / "boot-firmware"
        self.etc = tmp_path / "root" / "etc"
        self.state = tmp_path / "root" / "var" / "lib" / "edgewatch-image"
        self.home = tmp_path / "root" / "root"
        self.sysfs = tmp_path / "sys"
        for folder in (self.boot, self.etc / "ssh", self.home, self.sysfs / "class" / "net"):
            folder.mkdir(parents=True)
        (self.etc / "hostname").write_text("edgewatch\n")
        (self.etc / "hosts").write_text("127.0.0.1\tlocalhost\n127.0.1.1\tedgewatch\n")
        (self.etc / "machine-id").write_text("0123456789abcdef0123456789abcdef\n")

    def nic(self, name: str, mac: str, *, physical: bool = True) -> None:
        folder = self.sysfs / "class" / "net" / name
        folder.mkdir()
        (folder / "type").write_text("1\n")
        (folder / "address").write_text(mac + "\n")
        if physical:
            (folder / "device").mkdir()

    def run(self) -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": os.environ["PATH"],
            "EDGEWATCH_BOOT_DIR": str(self.boot),
            "EDGEWATCH_IMAGE_STATE": str(self.state),
            "EDGEWATCH_ETC": str(self.etc),
            "EDGEWATCH_ROOT_HOME": str(self.home),
            "EDGEWATCH_SYSFS": str(self.sysfs),
            "EDGEWATCH_BIN": "/nonexistent/edgewatch",
            "EDGEWATCH_GROUP": "root",
            "EDGEWATCH_BOOT_DRY_RUN": "1",
        }
        return subprocess.run(["bash", str(BOOT)], env=env, capture_output=True, text=True, check=False, timeout=60)


def _public_key(tmp_path: Path, name: str) -> str:
    key = tmp_path / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True)
    return (tmp_path / f"{name}.pub").read_text().strip()


@needs_root
def test_first_boot_names_the_box_after_its_wired_port_once(tmp_path: Path) -> None:
    card = Card(tmp_path)
    card.nic("docker0", "02:42:00:00:00:01", physical=False)  # virtual: never the name
    card.nic("eth0", "dc:a6:32:12:ab:cd")
    done = card.run()
    assert done.returncode == 0, done.stderr
    assert (card.etc / "hostname").read_text() == "edgewatch-12abcd\n"
    assert "127.0.1.1\tedgewatch-12abcd\n" in (card.etc / "hosts").read_text()
    assert "host name: edgewatch-12abcd (reachable as edgewatch-12abcd.local on the LAN)" in done.stdout
    assert (card.state / "first-boot.done").exists()
    # Later boots leave the name alone, even if the installer renamed the box.
    (card.etc / "hostname").write_text("garage\n")
    again = card.run()
    assert again.returncode == 0, again.stderr
    assert (card.etc / "hostname").read_text() == "garage\n"
    assert "host name" not in again.stdout


@needs_root
def test_a_box_without_a_wired_port_is_named_from_its_machine_id(tmp_path: Path) -> None:
    card = Card(tmp_path)
    done = card.run()
    assert done.returncode == 0, done.stderr
    assert (card.etc / "hostname").read_text() == "edgewatch-012345\n"


@needs_root
def test_ssh_is_off_without_keys_and_on_with_exactly_the_valid_ones(tmp_path: Path) -> None:
    card = Card(tmp_path)
    off = card.run()
    assert off.returncode == 0, off.stderr
    assert not (card.home / ".ssh" / "authorized_keys").exists()
    assert not list((card.etc / "ssh").glob("ssh_host_*"))  # no host keys made for nothing
    assert "systemctl enable" not in off.stdout

    good = _public_key(tmp_path, "installer")
    private = (tmp_path / "installer").read_text()
    (card.boot / "authorized_keys").write_text(f"# the installer's laptop\r\n{good}\r\n{private}\nnot a key\n")
    on = card.run()
    assert on.returncode == 0, on.stderr
    keys = card.home / ".ssh" / "authorized_keys"
    assert keys.read_text() == good + "\n"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    assert stat.S_IMODE((card.home / ".ssh").stat().st_mode) == 0o700
    assert "SSH: on for root with 1 key(s)" in on.stdout
    assert on.stderr.count("skipped a line that is not an SSH public key") >= 2  # the private key's lines too
    assert (card.etc / "ssh" / "ssh_host_ed25519_key").exists()  # made on the box
    assert "(dry run) systemctl enable --quiet ssh.service" in on.stdout

    # The file removed from the card: SSH goes off again and the keys are gone.
    (card.boot / "authorized_keys").unlink()
    again = card.run()
    assert again.returncode == 0, again.stderr
    assert not keys.exists()
    assert "SSH: off" in again.stdout


@needs_root
def test_a_key_file_with_no_key_leaves_ssh_off(tmp_path: Path) -> None:
    card = Card(tmp_path)
    (card.boot / "authorized_keys").write_text("password: hunter2\n")
    done = card.run()
    assert done.returncode == 0, done.stderr
    assert not (card.home / ".ssh" / "authorized_keys").exists()
    assert "holds no public key" in done.stderr


@needs_root
def test_the_boot_partitions_config_is_imported_once_and_removed(tmp_path: Path) -> None:
    card = Card(tmp_path)
    (card.etc / "edgewatch").mkdir()
    (card.etc / "edgewatch" / "config.yaml").write_text("cameras: {old: {source: /dev/video0}}\n")
    new = "cameras:\n  porch: {source: 'rtsp://user:secret@192.168.1.20/stream'}\n"
    (card.boot / "edgewatch.yaml").write_text(new)
    done = card.run()
    assert done.returncode == 0, done.stderr
    conf = card.etc / "edgewatch" / "config.yaml"
    assert conf.read_text() == new
    assert stat.S_IMODE(conf.stat().st_mode) == 0o640
    assert not (card.boot / "edgewatch.yaml").exists()  # the card holds no camera password any more
    kept = list((card.etc / "edgewatch").glob("config.yaml.*"))
    assert [p.read_text() for p in kept] == ["cameras: {old: {source: /dev/video0}}\n"]
    assert "secret" not in done.stdout + done.stderr
    # Next boot: nothing to import, the config stays as it is.
    conf.write_text("cameras: {edited: {source: /dev/video1}}\n")
    again = card.run()
    assert again.returncode == 0, again.stderr
    assert conf.read_text() == "cameras: {edited: {source: /dev/video1}}\n"
