"""deploy/: the installer run for real in a Debian bookworm chroot, shellcheck, and static checks
of the Dockerfile and the compose file (there is no Docker engine here).

The chroot is made once with `debootstrap --variant=minbase` from the Debian mirror this machine
uses and kept as `.cache/chroot-bookworm.tar` (keyed by CHROOT_VERSION); the appliance's wheels
are downloaded once from PyPI into `.cache/deploy-wheels/<key>/`. The installer then runs inside
the chroot as on a pre-seeded image: `--offline --no-systemd --wheels /wheels`. What that cannot
cover: apt, Coral's repository and libedgetpu (network steps), systemctl/udevadm (no systemd in a
chroot) and the Coral itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import pytest
import yaml

from tests.conftest import photo

ROOT = Path(__file__).resolve().parents[2]
# The installer in a Debian chroot (debootstrap: minutes on a fresh machine): `-m "not slow"` leaves it out.
pytestmark = pytest.mark.slow
INSTALL = ROOT / "deploy" / "install.sh"
LOCK = ROOT / "deploy" / "requirements.lock"
OPENVINO_LOCK = ROOT / "deploy" / "requirements-openvino.lock"  # installed too on amd64
CACHE = ROOT / ".cache"
CHROOT_TAR = CACHE / "chroot-bookworm.tar"
CHROOT_KEY = CACHE / "chroot-bookworm.key"
SUITE = "bookworm"
# Everything the installer needs in --offline mode that minbase lacks (useradd, runuser, sha256sum,
# cmp and getent are in minbase already).
INCLUDE = ("python3", "python3-venv", "ca-certificates")
CHROOT_VERSION = f"v1 {SUITE} minbase include={','.join(INCLUDE)}"
FALLBACK_MIRROR = "http://deb.debian.org/debian"
CHROOT_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "LANG": "C.UTF-8",
}
SKIP_COPY = {".venv", ".cache", ".git", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis", "build"}
SKIP_COPY |= {"test-artefacts", "test-artifacts", "edgewatch.egg-info"}

PASSWD_CMD = "sudo -u edgewatch /opt/edgewatch/venv/bin/edgewatch passwd --config /etc/edgewatch/config.yaml"
SYSTEMD_FILES = {
    "edgewatch.service": "etc/systemd/system/edgewatch.service",
    "99-edgewatch-coral.rules": "etc/udev/rules.d/99-edgewatch-coral.rules",
    "edgewatch.tmpfiles": "usr/lib/tmpfiles.d/edgewatch.conf",
}
SETUP_HELPER = "/opt/edgewatch/libexec/edgewatch-setup-code"  # the unit's ExecStartPost=/ExecStopPost=
# What a default password would look like: a password key with a value (password_file is fine),
# credentials in a URL (placeholders in <angle brackets> are not), or a stated default.
DEFAULT_PASSWORD = re.compile(
    r"(?im)^[\s#-]*(?:password|passwd|pass)\s*[:=]\s*(?!null\b)\S"
    r"|://[^/\s:@<>]+:[^/\s@<>]+@"
    r"|default password (?:is|:)"
    r"|\badmin\s*[:/]\s*admin\b"
)


def require_tool(name: str) -> None:
    """Fail without the tool: deploy/packages-dev.txt installs it, so missing is a broken set-up."""
    if shutil.which(name) is None:
        pytest.fail(f"{name} is not installed (Debian package {name}, listed in deploy/packages-dev.txt)")


# ---------------------------------------------------------------------------------------------
# shellcheck and argument handling (no chroot needed)


def test_shell_scripts_are_shellcheck_clean() -> None:
    require_tool("shellcheck")
    scripts = ["deploy/install.sh", "deploy/dev.sh", ".ci/run", "systemd/edgewatch-setup-code"]
    done = subprocess.run(["shellcheck", *scripts], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_installer_refuses_to_run_without_root() -> None:
    command = ["bash", str(INSTALL), "--offline", "--no-systemd"]
    if os.geteuid() == 0:
        command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 1
    assert "edgewatch install: error: must run as root — run: sudo bash deploy/install.sh" in done.stderr


def test_installer_rejects_unknown_options() -> None:
    done = subprocess.run(["bash", str(INSTALL), "--frobnicate"], capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert "unknown option --frobnicate" in done.stderr
    assert "--no-coral" in done.stderr  # the usage follows


# ---------------------------------------------------------------------------------------------
# the chroot


def debian_mirror() -> str:
    """The Debian mirror this machine's apt uses for bookworm (one-line or deb822 sources)."""
    sources = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for path in sources:
        if not path.is_file() or path.suffix not in {".list", ".sources"}:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix == ".list":
            for line in text.splitlines():
                words = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
                if len(words) >= 3 and words[0] == "deb" and words[2] == SUITE:
                    return words[1]
        else:
            for stanza in re.split(r"\n\s*\n", text):
                fields: dict[str, str] = dict(re.findall(r"(?m)^([A-Za-z-]+):\s*(.*)$", stanza))
                if "deb" in fields.get("Types", "").split() and SUITE in fields.get("Suites", "").split():
                    uris = fields.get("URIs", "").split()
                    if uris:
                        return uris[0]
    return FALLBACK_MIRROR


def _dpkg_arch() -> str:
    return subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=True).stdout.strip()


def chroot_tarball() -> Path:
    """The bookworm minbase chroot as a tarball, made once (about a minute) and then reused."""
    key = f"{CHROOT_VERSION} arch={_dpkg_arch()}"
    if CHROOT_TAR.is_file() and CHROOT_KEY.is_file() and CHROOT_KEY.read_text(encoding="utf-8").strip() == key:
        return CHROOT_TAR
    CACHE.mkdir(parents=True, exist_ok=True)
    build = CACHE / "chroot-bookworm.build"
    if build.exists():
        _assert_nothing_mounted(build)
        shutil.rmtree(build)
    started = time.monotonic()
    include = ",".join(INCLUDE)
    done = subprocess.run(
        ["debootstrap", "--variant=minbase", f"--include={include}", SUITE, str(build), debian_mirror()],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    if done.returncode != 0:
        pytest.fail(f"debootstrap failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    partial = CHROOT_TAR.with_suffix(".tar.partial")
    subprocess.run(["tar", "--numeric-owner", "-C", str(build), "-cf", str(partial), "."], check=True)
    partial.replace(CHROOT_TAR)
    CHROOT_KEY.write_text(key + "\n", encoding="utf-8")
    _assert_nothing_mounted(build)
    shutil.rmtree(build)
    print(f"debootstrap + tarball: {time.monotonic() - started:.0f} s", file=sys.stderr)
    return CHROOT_TAR


def installed_locks() -> list[Path]:
    """What the installer installs on this machine: the lock, and on amd64 the OpenVINO one."""
    return [LOCK, OPENVINO_LOCK] if _dpkg_arch() == "amd64" else [LOCK]


def wheels() -> Path:
    """Every wheel of the locks the installer installs here, from PyPI, checked against their
    hashes, once (the installer installs them with --require-hashes)."""
    if sys.version_info[:2] != (3, 11):
        pytest.skip("the chroot's Python is Debian bookworm's 3.11: its wheels must be fetched by a 3.11")
    locks = installed_locks()
    digest = hashlib.sha256(b"".join(lock.read_bytes() for lock in locks)).hexdigest()[:16]
    folder = CACHE / "deploy-wheels" / f"cp311-{platform.machine()}-{digest}"
    if (folder / ".complete").is_file():
        return folder
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for lock in locks:  # as the installer installs them: OpenVINO's lock with --no-deps
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check"]
        command += ["--require-hashes", "--only-binary=:all:", "-d", str(folder), "-r", str(lock)]
        command += ["--no-deps"] if lock == OPENVINO_LOCK else []
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=600)
        if done.returncode != 0:
            pytest.fail(f"pip download of the locked wheels ({lock.name}) failed:\n{done.stderr[-3000:]}")
    (folder / ".complete").touch()
    for stale in folder.parent.iterdir():  # wheels for an older lock
        if stale != folder and stale.is_dir():
            shutil.rmtree(stale)
    return folder


def _assert_nothing_mounted(path: Path) -> None:
    mounts = Path("/proc/mounts").read_text(encoding="utf-8").split("\n")
    inside = [line for line in mounts if f" {path.resolve()}" in line]
    assert not inside, f"still mounted under {path}: {inside}"


def _ignore_for_copy(folder: str, names: list[str]) -> set[str]:
    skip = {name for name in names if name == "__pycache__"}
    if Path(folder).resolve() == ROOT:
        skip |= SKIP_COPY & set(names)
    return skip


def in_chroot(root: Path, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["chroot", str(root), *command], env=CHROOT_ENV, capture_output=True, text=True, check=False, timeout=600
    )


def run_installer(root: Path, source: str = "/src") -> subprocess.CompletedProcess[str]:
    """The installer as on a pre-seeded image: no network, no systemd, wheels from /wheels."""
    return in_chroot(root, "bash", f"{source}/deploy/install.sh", "--offline", "--no-systemd", "--wheels", "/wheels")


@dataclass
class Chroot:
    root: Path
    first: subprocess.CompletedProcess[str]
    second: subprocess.CompletedProcess[str]
    before_second: dict[str, tuple[object, ...]]
    after_second: dict[str, tuple[object, ...]]

    def run(self, *command: str) -> subprocess.CompletedProcess[str]:
        return in_chroot(self.root, *command)

    def install(self, source: str = "/src") -> subprocess.CompletedProcess[str]:
        return run_installer(self.root, source)

    def path(self, inside: str) -> Path:
        return self.root / inside.lstrip("/")

    def ids(self, database: str, name: str) -> list[str]:
        for line in self.path(f"/etc/{database}").read_text(encoding="utf-8").splitlines():
            fields = line.split(":")
            if fields[0] == name:
                return fields
        raise AssertionError(f"no {name} in /etc/{database}")


# What the installer may touch, as (mode, uid, gid, size, mtime, link target) per path.
WATCHED = ("etc", "opt", "var/lib/edgewatch", "usr/share/edgewatch", "usr/lib/tmpfiles.d", "root", "tmp")


def snapshot(root: Path) -> dict[str, tuple[object, ...]]:
    state: dict[str, tuple[object, ...]] = {}
    for top in WATCHED:
        base = root / top
        if not base.exists():
            continue
        for folder, dirs, files in os.walk(base):
            for name in dirs + files:
                path = Path(folder) / name
                st = path.lstat()
                link = os.readlink(path) if path.is_symlink() else None
                key = str(path.relative_to(root))
                state[key] = (st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns, link)
    return state


@pytest.fixture(scope="module")
def chroot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chroot]:
    if sys.platform != "linux" or os.geteuid() != 0:
        pytest.skip("the installer test needs root on Linux (debootstrap and chroot)")
    require_tool("debootstrap")
    if _dpkg_arch() not in {"amd64", "arm64"}:
        pytest.skip("the installer supports amd64 and arm64 only")
    if not (ROOT / "models" / "build" / "SHA256SUMS").is_file():
        pytest.fail("the models are not built: run models/build.sh (deploy/dev.sh does)")
    tarball = chroot_tarball()
    wheel_dir = wheels()
    root = tmp_path_factory.mktemp("chroot") / "root"
    root.mkdir()
    try:
        subprocess.run(["tar", "--numeric-owner", "-C", str(root), "-xpf", str(tarball)], check=True)
        shutil.copytree(ROOT, root / "src", ignore=_ignore_for_copy, symlinks=True)
        shutil.copytree(wheel_dir, root / "wheels")
        cv2.imwrite(str(root / "tmp" / "astronaut.jpg"), photo("astronaut"))
        started = time.monotonic()
        first = run_installer(root)
        print(f"first installer run: {time.monotonic() - started:.1f} s", file=sys.stderr)
        before = snapshot(root)
        second = run_installer(root)
        after = snapshot(root)
        yield Chroot(root, first, second, before, after)
    finally:
        _assert_nothing_mounted(root)
        shutil.rmtree(root, ignore_errors=True)


def _output(done: subprocess.CompletedProcess[str]) -> str:
    return f"exit {done.returncode}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"


def test_first_run_installs_and_second_run_changes_nothing(chroot: Chroot) -> None:
    assert chroot.first.returncode == 0, _output(chroot.first)
    assert re.search(r"done: \d+ change\(s\)", chroot.first.stdout), _output(chroot.first)
    assert "installed edgewatch " in chroot.first.stdout
    assert chroot.second.returncode == 0, _output(chroot.second)
    assert "nothing changed" in chroot.second.stdout, _output(chroot.second)
    changed = {
        path: (chroot.before_second.get(path), chroot.after_second.get(path))
        for path in chroot.before_second.keys() | chroot.after_second.keys()
        if chroot.before_second.get(path) != chroot.after_second.get(path)
    }
    assert not changed, f"the second run changed: {sorted(changed)[:20]}"


def test_offline_run_says_what_it_skipped(chroot: Chroot) -> None:
    assert "--offline: the Coral runtime (libedgetpu1-std) is not installed" in chroot.first.stderr
    assert "--no-systemd: files installed; not calling systemctl" in chroot.first.stdout


def test_service_user_is_a_locked_system_account_in_plugdev_and_video(chroot: Chroot) -> None:
    _, _, uid, gid, _, home, shell = chroot.ids("passwd", "edgewatch")
    assert int(uid) < 1000, "a system user"
    assert home == "/var/lib/edgewatch"
    assert shell == "/usr/sbin/nologin"
    assert chroot.ids("group", "edgewatch")[2] == gid
    for group in ("plugdev", "video"):
        assert "edgewatch" in chroot.ids("group", group)[3].split(","), f"edgewatch is not in {group}"
    hashed = chroot.ids("shadow", "edgewatch")[1]
    assert hashed in {"!", "*", "!*"}, "the service account must have no password"
    state = chroot.path("/var/lib/edgewatch").stat()
    assert (state.st_uid, state.st_gid, state.st_mode & 0o777) == (int(uid), int(gid), 0o700)


def test_config_skeleton_is_private_to_the_service_and_valid(chroot: Chroot, tmp_path: Path) -> None:
    config = chroot.path("/etc/edgewatch/config.yaml")
    st = config.stat()
    gid = int(chroot.ids("group", "edgewatch")[2])
    assert (st.st_mode & 0o777, st.st_uid, st.st_gid) == (0o640, 0, gid)
    folder = chroot.path("/etc/edgewatch").stat()
    assert (folder.st_mode & 0o777, folder.st_uid, folder.st_gid) == (0o750, 0, gid)
    text = config.read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    assert list(data) == ["cameras"], "only the placeholder camera is active"
    assert data["cameras"]["front"]["source"].startswith("rtsp://192.0.2.")  # TEST-NET-1: answers nothing
    assert "PLACEHOLDER" in text
    assert "/etc/edgewatch/config.yaml: ok (1 camera(s), 0 rule(s))" in chroot.first.stdout  # checked as edgewatch
    # Every commented example, uncommented, is a valid config for this version of edgewatch.
    examples = "\n".join(re.sub(r"^(\s*)# ", r"\1", line) for line in text.splitlines()) + "\n"
    example = tmp_path / "examples.yaml"
    example.write_text(examples, encoding="utf-8")
    assert yaml.safe_load(examples)["rules"][0]["name"] == "person_at_porch"
    done = subprocess.run(
        [sys.executable, "-m", "app", "check-config", str(example)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_an_existing_config_is_never_overwritten(chroot: Chroot) -> None:
    config = chroot.path("/etc/edgewatch/config.yaml")
    original = config.read_bytes()
    try:
        mine = "cameras:\n  garage:\n    source: rtsp://192.0.2.99/live   # the installer's own\n"
        config.write_text(mine, encoding="utf-8")
        done = chroot.install()
        assert done.returncode == 0, _output(done)
        assert "keeping the existing /etc/edgewatch/config.yaml" in done.stdout
        assert config.read_text(encoding="utf-8") == mine
        # An invalid one is kept too, and the installer says what to fix.
        config.write_text("cameras:\n  garage:\n    sauce: rtsp://192.0.2.99/live\n", encoding="utf-8")
        done = chroot.install()
        assert done.returncode == 1
        assert "edgewatch install: error: /etc/edgewatch/config.yaml is not valid" in done.stderr
        assert "garage.sauce" in done.stderr  # check-config's own FILE:LINE:COL message
        assert "sauce:" in config.read_text(encoding="utf-8")
    finally:
        config.write_bytes(original)


def test_models_are_installed_verified_and_found_by_the_app(chroot: Chroot) -> None:
    build = ROOT / "models" / "build"
    listed = [line.split()[1] for line in (build / "SHA256SUMS").read_text(encoding="utf-8").splitlines()]
    assert listed, "SHA256SUMS lists no model"
    installed = chroot.path("/opt/edgewatch/models")
    for name in [*listed, "SHA256SUMS"]:
        assert (installed / "build" / name).read_bytes() == (build / name).read_bytes(), name
    assert (installed / "manifest.toml").read_bytes() == (ROOT / "models" / "manifest.toml").read_bytes()
    for labels in (ROOT / "models" / "labels").glob("*.txt"):
        assert (installed / "labels" / labels.name).is_file()
    assert not (installed / "build" / "build-info.json").exists(), "only what the runtime uses is installed"
    done = chroot.run("sh", "-c", "cd /opt/edgewatch/models/build && sha256sum --strict -c SHA256SUMS")
    assert done.returncode == 0, _output(done)
    assert os.readlink(chroot.path("/usr/share/edgewatch/models")) == "/opt/edgewatch/models"
    # The installed appliance, as its own user and with no EDGEWATCH_MODELS_DIR, finds, verifies
    # and runs the installed model on a real photo.
    done = chroot.run(
        "runuser", "-u", "edgewatch", "--",
        "/opt/edgewatch/venv/bin/edgewatch", "detect", "/tmp/astronaut.jpg", "--type", "cpu", "--json",
    )  # fmt: skip
    assert done.returncode == 0, _output(done)
    found = [d for d in json.loads(done.stdout)["detections"] if d["label"] == "person"]
    assert found, done.stdout
    assert found[0]["score"] > 0.6, done.stdout  # the default COCO NanoDet: 0.73-0.75


def test_openvino_is_installed_on_amd64_only_and_runs_the_model(chroot: Chroot) -> None:
    site = chroot.path("/opt/edgewatch/venv/lib/python3.11/site-packages")
    assert not list(site.glob("openvino_telemetry*")), "with it, importing OpenVINO sends usage data to Intel"
    detect = ("runuser", "-u", "edgewatch", "--", "/opt/edgewatch/venv/bin/edgewatch", "detect", "/tmp/astronaut.jpg",
              "--type", "openvino", "--json")  # fmt: skip
    done = chroot.run(*detect)  # the bare chroot: no /proc, no /sys
    assert done.returncode == 0, _output(done)
    assert json.loads(done.stdout)["backend"] == "cpu", _output(done)  # LiteRT, saying why
    if _dpkg_arch() != "amd64":  # arm64: never installed
        assert "OpenVINO is not installed" in done.stderr, _output(done)
        return
    assert "OpenVINO cannot see the CPUs (no /proc or /sys)" in done.stderr, _output(done)
    proc = chroot.path("/proc")
    subprocess.run(["mount", "-t", "proc", "proc", str(proc)], check=True)  # as on a real box
    try:
        done = chroot.run(*detect)
    finally:
        subprocess.run(["umount", str(proc)], check=True)
    assert done.returncode == 0, _output(done)
    result = json.loads(done.stdout)
    assert result["backend"] == "openvino", _output(done)
    found = [d for d in result["detections"] if d["label"] == "person"]
    assert found, done.stdout
    assert found[0]["score"] > 0.6, done.stdout
    assert not chroot.path("/var/lib/edgewatch/intel").exists(), "OpenVINO wrote its telemetry id into HOME"


def test_the_installed_package_carries_every_file_of_app(chroot: Chroot) -> None:
    """A non-editable install has only what pyproject's package-data names: nothing may be left behind."""
    site = chroot.path("/opt/edgewatch/venv/lib/python3.11/site-packages/app")
    wanted = {
        str(path.relative_to(ROOT / "app"))
        for path in (ROOT / "app").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }
    assert wanted, "app/ is empty?"
    missing = sorted(name for name in wanted if not (site / name).is_file())
    assert not missing, f"not in the installed package (add them to [tool.setuptools.package-data]): {missing}"


def test_a_tampered_model_is_refused(chroot: Chroot) -> None:
    tampered = chroot.path("/src-tampered")
    shutil.copytree(chroot.path("/src"), tampered, symlinks=True)
    try:
        model = tampered / "models" / "build" / "person_ssdlite_uint8.tflite"
        data = bytearray(model.read_bytes())
        data[len(data) // 2] ^= 0x01  # one bit, same size: only the digest can tell
        model.write_bytes(bytes(data))
        installed = chroot.path("/opt/edgewatch/models/build/person_ssdlite_uint8.tflite").read_bytes()
        done = chroot.install("/src-tampered")
        assert done.returncode == 1, _output(done)
        assert (
            "edgewatch install: error: the models in /src-tampered/models do not match their SHA256SUMS "
            "(corrupt or tampered) — rebuild them" in done.stderr
        ), _output(done)
        assert "venv:" not in done.stdout, "it must stop before any step"
        assert "user:" not in done.stdout, "it must stop before any step"
        assert chroot.path("/opt/edgewatch/models/build/person_ssdlite_uint8.tflite").read_bytes() == installed
    finally:
        shutil.rmtree(tampered)


def test_a_damaged_installed_model_is_replaced_from_the_checkout(chroot: Chroot) -> None:
    model = chroot.path("/opt/edgewatch/models/build/person_ssdlite_uint8.tflite")
    good = model.read_bytes()
    model.write_bytes(good[:-1] + bytes([good[-1] ^ 0xFF]))
    done = chroot.install()
    assert done.returncode == 0, _output(done)
    assert "models: installed and verified" in done.stdout
    assert model.read_bytes() == good


def test_unit_udev_and_tmpfiles_are_installed(chroot: Chroot) -> None:
    for name, target in SYSTEMD_FILES.items():
        installed = chroot.path(target)
        assert installed.read_bytes() == (ROOT / "systemd" / name).read_bytes(), target
        st = installed.stat()
        assert (st.st_mode & 0o777, st.st_uid, st.st_gid) == (0o644, 0, 0), target


def test_the_setup_code_helper_is_installed_for_root_and_runs_on_bookworm(chroot: Chroot) -> None:
    helper = chroot.path(SETUP_HELPER)
    assert helper.read_bytes() == (ROOT / "systemd" / "edgewatch-setup-code").read_bytes()
    st = helper.stat()
    assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (0o755, 0, 0)
    folder = helper.parent.stat()
    assert (folder.st_mode & 0o7777, folder.st_uid, folder.st_gid) == (0o755, 0, 0)
    assert SETUP_HELPER in chroot.path("/etc/systemd/system/edgewatch.service").read_text(encoding="utf-8")
    # Run where it will run: bookworm's bash, coreutils and mawk, as root (no consoles in a chroot).
    runtime, kept = chroot.path("/run/edgewatch"), chroot.path("/root/edgewatch-setup-code")
    config = chroot.path("/tmp/listen.yaml")
    runtime.mkdir(mode=0o700)
    try:
        (runtime / "setup-code").write_text("K7QM-2XHP-9TRB\n", encoding="ascii")
        config.write_text("cameras: {}\napi:\n  listen: 0.0.0.0:9090\n", encoding="utf-8")
        done = chroot.run("env", "EDGEWATCH_CONFIG=/tmp/listen.yaml", SETUP_HELPER, "show")
        assert done.returncode == 0, _output(done)
        assert not done.stderr, _output(done)
        st = kept.stat()
        assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (0o600, 0, 0)
        text = kept.read_text(encoding="utf-8")
        assert text.startswith("K7QM-2XHP-9TRB\n"), text
        assert ":9090/login" in text, text
        done = chroot.run(SETUP_HELPER, "clear")
        assert done.returncode == 0, _output(done)
        assert not kept.exists(), _output(done)
    finally:
        shutil.rmtree(runtime)
        config.unlink(missing_ok=True)
        kept.unlink(missing_ok=True)


def test_first_boot_step_is_printed_and_there_is_no_default_password(chroot: Chroot) -> None:
    out = chroot.first.stdout
    assert "There is NO default password" in out
    assert f"run `{PASSWD_CMD}`" in out
    assert (
        "open http://<box>:8080/login and enter the one-time setup code shown on the\n"
        "     box's screen (HDMI), in /root/edgewatch-setup-code and in `journalctl -u edgewatch`" in out
    )
    # Nothing the installer wrote or said carries a password, and it set none.
    texts = {
        "output": chroot.first.stdout + chroot.first.stderr,
        "config": chroot.path("/etc/edgewatch/config.yaml").read_text(encoding="utf-8"),
        "unit": chroot.path("/etc/systemd/system/edgewatch.service").read_text(encoding="utf-8"),
        "installer": INSTALL.read_text(encoding="utf-8"),
    }
    for where, text in texts.items():
        match = DEFAULT_PASSWORD.search(text)
        assert match is None, f"{where}: {match.group(0) if match else ''!r}"
    assert not any(chroot.path("/var/lib/edgewatch").iterdir()), "the installer must create no credentials"


def test_default_password_pattern_catches_the_usual_suspects() -> None:
    for text in (
        "  password: hunter2",
        "# password: changeme",
        "source: rtsp://admin:12345@192.168.1.20/stream",
        "The default password is edgewatch",
        "log in as admin/admin",
    ):
        assert DEFAULT_PASSWORD.search(text), text
    for text in ("password_file: /etc/edgewatch/mqtt-password", "rtsp://<user>:<password>@<address>:554/<path>"):
        assert not DEFAULT_PASSWORD.search(text), text


def test_preflight_refuses_another_release(chroot: Chroot) -> None:
    os_release = chroot.path("/etc/os-release")
    target = os.readlink(os_release) if os_release.is_symlink() else None
    original = os_release.read_bytes()
    try:
        os_release.unlink()
        os_release.write_bytes(original.replace(b"VERSION_CODENAME=bookworm", b"VERSION_CODENAME=trixie"))
        done = chroot.install()
        assert done.returncode == 1
        assert "not bookworm — install on Debian 12 (bookworm) or Raspberry Pi OS bookworm" in done.stderr
    finally:
        os_release.unlink()
        if target is not None:
            os_release.symlink_to(target)
        else:
            os_release.write_bytes(original)


# ---------------------------------------------------------------------------------------------
# Dockerfile and compose (static: no Docker engine here)


def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text(encoding="utf-8"))
    instructions = []
    for line in joined.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            word, _, rest = stripped.partition(" ")
            instructions.append((word.upper(), rest.strip()))
    return instructions


def _final_stage(instructions: list[tuple[str, str]]) -> list[tuple[str, str]]:
    starts = [i for i, (word, _) in enumerate(instructions) if word == "FROM"]
    assert len(starts) >= 2, "a multi-stage build"
    return instructions[starts[-1] :]


def test_dockerfile_runtime_stage_is_non_root_and_healthchecked() -> None:
    instructions = _dockerfile()
    final = _final_stage(instructions)
    users = [rest for word, rest in final if word == "USER"]
    assert users, "the runtime stage must set USER"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    # The numeric user is the edgewatch account the stage creates (uid 10001).
    assert any(word == "RUN" and f"--uid {user} " in rest and " edgewatch" in rest for word, rest in final)
    health = [rest for word, rest in final if word == "HEALTHCHECK"]
    assert health
    assert "http://127.0.0.1:8080/api/health" in health[-1]
    assert "urllib" in health[-1]
    assert ("ENTRYPOINT", '["edgewatch"]') in final
    assert ("CMD", '["run", "--config", "/etc/edgewatch/config.yaml"]') in final
    assert ("EXPOSE", "8080") in final
    assert any(word == "VOLUME" and "/var/lib/edgewatch" in rest for word, rest in final)
    assert any(word == "WORKDIR" and rest == "/var/lib/edgewatch" for word, rest in final)
    assert any(word == "ENV" and "EDGEWATCH_MODELS_DIR=/opt/edgewatch/models" in rest for word, rest in final)
    # Models are built in the build stage and verified again in the image.
    assert any(word == "RUN" and "models/build.sh" in rest for word, rest in instructions)
    assert any(word == "RUN" and "sha256sum --strict -c SHA256SUMS" in rest for word, rest in final)
    assert not any("tensorflow" in rest for word, rest in final), "no tensorflow in the runtime image"
    assert any(word == "RUN" and "libedgetpu" in rest for word, rest in final)
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "--privileged" not in re.sub(r"NEVER --privileged", "", text), "only ever mentioned to forbid it"
    assert "curl" not in " ".join(rest for word, rest in final if word == "RUN"), "no curl in the runtime image"


def test_compose_is_locked_down() -> None:
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert set(services) == {"edgewatch", "mosquitto"}
    for name, service in services.items():
        assert service.get("privileged", False) is False, name
        assert service.get("read_only") is True, name
        assert service.get("cap_drop") == ["ALL"], name
        assert "no-new-privileges:true" in service.get("security_opt", []), name
        assert not service.get("cap_add"), name
        assert service.get("network_mode") != "host", name
    edgewatch = services["edgewatch"]
    assert "/tmp" in " ".join(edgewatch["tmpfs"])
    volumes = edgewatch["volumes"]
    assert any(v.endswith(":/var/lib/edgewatch") for v in volumes)
    assert any(v.endswith(":/etc/edgewatch/config.yaml:ro") for v in volumes), "config mounted read-only"
    assert any(v.startswith("/dev/bus/usb:") for v in volumes) or "/dev/bus/usb:/dev/bus/usb" in edgewatch.get(
        "devices", []
    )
    assert edgewatch.get("device_cgroup_rules", ["c 189:* rmw"]) == ["c 189:* rmw"], "USB device nodes only"
    assert any(str(p).endswith(":8080:8080") for p in edgewatch["ports"])
    assert services["mosquitto"]["image"].startswith("eclipse-mosquitto:2")
    assert any(v.startswith("./mosquitto.conf:") for v in services["mosquitto"]["volumes"])


def test_mosquitto_requires_a_password() -> None:
    lines = [
        line.split("#", 1)[0].split()
        for line in (ROOT / "deploy" / "mosquitto.conf").read_text(encoding="utf-8").splitlines()
    ]
    settings = {words[0]: words[1:] for words in lines if words}
    assert settings.get("allow_anonymous") == ["false"]
    assert settings.get("password_file") == ["/mosquitto/config/passwd"]
    assert "listener" in settings
