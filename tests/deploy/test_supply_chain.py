"""What the installer and the container build trust (issue 15, security 9): Python packages only
from deploy/requirements.lock with their hashes, and Coral's apt key only with its pinned
fingerprint, checked by real gpg on real keys. (The locked install itself runs in the chroot
of test_install.py.)"""

from __future__ import annotations

import importlib.metadata
import platform
import re
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
INSTALL = ROOT / "deploy" / "install.sh"
LOCK = ROOT / "deploy" / "requirements.lock"
OPENVINO_LOCK = ROOT / "deploy" / "requirements-openvino.lock"
DOCKERFILE = ROOT / "Dockerfile"
# Google's packages.cloud.google.com/apt signing key ("Rapture Automatic Signing Key
# (cloud-rapture-signing-key-2022-03-07-08_01_01.pub)", key id B53DC80D13EDEF05).
GOOGLE_APT_KEY = "A362B822F6DEDC652817EA46B53DC80D13EDEF05"
LINUX = {"sys_platform": "linux", "platform_system": "Linux", "python_version": "3.11", "python_full_version": "3.11.2"}


def locked(lock: Path = LOCK) -> dict[str, tuple[str, list[str]]]:
    """name -> (version, sha256 hashes) from the lock, requirement lines joined."""
    text = re.sub(r"\\\n\s*", " ", lock.read_text(encoding="utf-8"))
    pins: dict[str, tuple[str, list[str]]] = {}
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        found = re.match(r"^([A-Za-z0-9_.-]+)==(\S+)", line)
        assert found is not None, f"not an exact pin: {line}"
        hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})", line)
        pins[canonicalize_name(found.group(1))] = (found.group(2), hashes)
    return pins


def test_the_lock_pins_every_runtime_and_build_dependency_with_hashes() -> None:
    pins = locked()
    assert pins, f"nothing pinned in {LOCK.name}"
    assert all(hashes for _, hashes in pins.values()), [n for n, (_, h) in pins.items() if not h]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    wanted = [Requirement(r) for r in project["project"]["dependencies"] + project["build-system"]["requires"]]
    for requirement in wanted:
        if requirement.marker is not None and not requirement.marker.evaluate(LINUX):
            continue
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is not in {LOCK.name}"
        assert requirement.specifier.contains(pins[name][0], prereleases=True), (requirement, pins[name][0])
    # ai-edge-litert's backports.strenum: 1.3 is for Python < 3.11 only (pip finds nothing then)
    assert pins["backports-strenum"][0].startswith("1.2.")


def test_the_openvino_lock_adds_openvino_for_x86_64_only_with_hashes() -> None:
    main, extra = locked(), locked(OPENVINO_LOCK)
    assert list(extra) == ["openvino"], extra  # not openvino-telemetry
    assert extra["openvino"][1], extra
    assert not set(main) & set(extra), "installed together: each package pinned in one lock only"
    assert "openvino" not in main  # the Pi's install stays as it was
    header = OPENVINO_LOCK.read_text(encoding="utf-8").splitlines()[1]
    assert "-c deploy/requirements.lock" in header, header
    assert "--python-platform x86_64-" in header, header
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (wanted,) = [Requirement(r) for r in project["project"]["optional-dependencies"]["openvino"]]
    assert wanted.specifier.contains(extra["openvino"][0]), (wanted, extra["openvino"][0])
    assert wanted.marker is not None
    assert wanted.marker.evaluate({**LINUX, "platform_machine": "x86_64"})
    assert not wanted.marker.evaluate({**LINUX, "platform_machine": "aarch64"})


def test_the_main_lock_satisfies_what_the_installed_openvino_requires() -> None:
    """numpy is pinned by the main lock only: the OpenVINO release locked must accept that pin."""
    try:
        requires = importlib.metadata.requires("openvino") or []
        version = importlib.metadata.version("openvino")
    except importlib.metadata.PackageNotFoundError:
        if platform.machine() == "x86_64":  # deploy/dev.sh installs it there: missing is a broken set-up
            pytest.fail("openvino is not installed (deploy/dev.sh setup installs it on x86_64)")
        pytest.skip("openvino is installed on x86_64 only")
    assert version == locked(OPENVINO_LOCK)["openvino"][0], "the dev venv has another openvino than the lock"
    main = locked()
    needs: dict[str, Requirement] = {canonicalize_name(r.name): r for r in map(Requirement, requires)}
    assert set(needs) == {"numpy", "openvino-telemetry"}, needs  # what --no-deps leaves to the main lock, or out
    assert needs["numpy"].specifier.contains(main["numpy"][0]), (needs["numpy"], main["numpy"][0])
    with pytest.raises(ModuleNotFoundError):  # removed by deploy/dev.sh: it would send usage data
        importlib.import_module("openvino_telemetry")


def shell_words(path: Path) -> str:
    """The file with comments dropped and continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", path.read_text(encoding="utf-8"))
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


def test_the_installer_and_the_container_build_install_nothing_unhashed() -> None:
    for path, locks in (
        (INSTALL, ('-r "$src/$LOCK"', '-r "$src/$OPENVINO_LOCK"')),
        (DOCKERFILE, ("-r deploy/requirements.lock", "-r deploy/requirements-openvino.lock")),
    ):
        installs = [m.group(0) for m in re.finditer(r"pip\"? (?:install|wheel)\b[^\n&|;]*", shell_words(path))]
        assert installs, path
        for command in installs:
            hashed = "--require-hashes" in command and "--only-binary=:all:" in command
            hashed = hashed and any(lock in command for lock in locks)
            if locks[1] in command:  # OpenVINO without its telemetry: its only other need is numpy
                assert "--no-deps" in command, f"{path.name}: {command}"
                assert locks[0] not in command, f"{path.name}: {command}"
            own_wheel = "--no-deps" in command and "--no-index" in command  # the app itself, nothing fetched
            assert hashed or own_wheel, f"{path.name}: {command}"
            if "wheel" in command.split() or '"$work/src"' in command:
                assert "--no-build-isolation" in command, f"{path.name} builds with unhashed build tools: {command}"
    assert 'readonly LOCK="deploy/requirements.lock"' in INSTALL.read_text(encoding="utf-8")
    assert 'readonly OPENVINO_LOCK="deploy/requirements-openvino.lock"' in INSTALL.read_text(encoding="utf-8")
    docker = shell_words(DOCKERFILE)
    assert "COPY deploy/requirements.lock deploy/requirements-openvino.lock deploy/" in docker
    flat = " ".join(docker.split())
    assert (
        '[ "$OPENVINO" = yes ] && [ "$(uname -m)" = x86_64 ]; then /opt/edgewatch/venv/bin/pip install --no-deps'
        in flat
    )


def test_the_pinned_coral_key_is_googles_and_the_container_build_checks_it_the_same_way() -> None:
    assert f'readonly CORAL_KEY_FINGERPRINT="{GOOGLE_APT_KEY}"' in INSTALL.read_text(encoding="utf-8")
    docker = shell_words(DOCKERFILE)
    assert "COPY deploy/install.sh /tmp/install.sh" in docker
    assert 'trusted_keyring /tmp/apt-key.gpg "$CORAL_KEY_FINGERPRINT" /coral-edgetpu.gpg' in docker
    assert "--dearmor" not in docker  # the unchecked way it was taken before


# -- the check itself, with real gpg and real keys ---------------------------------------------


@pytest.fixture
def two_keys(tmp_path: Path) -> Iterator[tuple[Path, str, str]]:
    """One armored file with two fresh signing keys, like Google's apt-key.gpg; their fingerprints."""
    gpg = shutil.which("gpg")
    if gpg is None:
        pytest.fail("gpg is not installed (Debian package gpg)")
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    base = [gpg, "--homedir", str(home), "--batch", "--quiet"]
    prints = []
    for name in ("Signer A", "Signer B"):
        made = subprocess.run([*base, "--passphrase", "", "--quick-gen-key", f"{name} <x@example.invalid>",
                               "ed25519", "sign", "never"], capture_output=True, text=True, check=False)  # fmt: skip
        assert made.returncode == 0, made.stderr
        listed = subprocess.run([*base, "--with-colons", "-k", name], capture_output=True, text=True, check=True)
        prints.append(re.findall(r"^fpr:{9}([0-9A-F]{40}):", listed.stdout, re.M)[0])
    keys = tmp_path / "apt-key.gpg"
    keys.write_bytes(subprocess.run([*base, "--armor", "--export"], capture_output=True, check=True).stdout)
    yield keys, prints[0], prints[1]
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], capture_output=True, check=False)


def trusted_keyring(keys: Path, fingerprint: str, out: Path) -> subprocess.CompletedProcess[str]:
    """The installer's own function, the script sourced (which runs nothing else)."""
    script = f'. "{INSTALL}" && trusted_keyring "$1" "$2" "$3"'
    return subprocess.run(["bash", "-c", script, "bash", str(keys), fingerprint, str(out)],
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip


def fingerprints(keyring: Path) -> list[str]:
    shown = subprocess.run(["gpg", "--batch", "--with-colons", "--show-keys", str(keyring)],
                           capture_output=True, text=True, check=True)  # fmt: skip
    return [line.split(":")[9] for line in shown.stdout.splitlines() if line.startswith("fpr:")][:1]


def test_only_the_key_with_the_pinned_fingerprint_is_trusted(tmp_path: Path, two_keys: tuple[Path, str, str]) -> None:
    keys, first, second = two_keys
    out = tmp_path / "coral.gpg"
    done = trusted_keyring(keys, second, out)
    assert done.returncode == 0, done.stderr
    assert fingerprints(out) == [second]  # a binary keyring of that key alone, not the other one

    impostor = tmp_path / "impostor.gpg"
    refused = trusted_keyring(keys, GOOGLE_APT_KEY, impostor)
    assert refused.returncode == 1
    assert not impostor.exists()
    assert f"expected fingerprint {GOOGLE_APT_KEY}, found: {first} {second}" in refused.stderr
    assert "use --no-coral, or check Google's current key" in refused.stderr

    garbage = tmp_path / "not-a-key"
    garbage.write_text("<html>captive portal</html>")
    assert trusted_keyring(garbage, second, tmp_path / "x.gpg").returncode == 1
