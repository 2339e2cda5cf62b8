"""The systemd integration: the unit, udev and tmpfiles files as systemd's own tools read them,
and `app.run.notify` against real unix datagram sockets standing in for systemd's notify socket —
alone, driven by a real `Service` whose detector hangs, and inside `edgewatch run`."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.config import parse_config
from app.demo.clip import ClipInfo
from app.detect.base import DetectorInfo, Image
from app.detect.engine import TfliteDetector
from app.domain import Detections
from app.run.notify import Heartbeat, Notifier, watchdog_interval
from app.run.service import Service
from app.status import Health
from app.store import Store
from tests.support.rtsp import RtspCamera
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[1]
SYSTEMD = ROOT / "systemd"
UNIT = SYSTEMD / "edgewatch.service"
UDEV_RULES = SYSTEMD / "99-edgewatch-coral.rules"
TMPFILES = SYSTEMD / "edgewatch.tmpfiles"
SETUP_SCRIPT = SYSTEMD / "edgewatch-setup-code"
SETUP_HELPER = "/opt/edgewatch/libexec/edgewatch-setup-code"  # where deploy/install.sh puts it
MAX_EXPOSURE = 2.0
SYSTEMD_PACKAGE = "systemd"  # Debian: systemd-analyze and systemd-tmpfiles
MAX_SUN_PATH = 100  # sockaddr_un holds 108 bytes; keep clear of it


# -- a stand-in for systemd's notification socket ------------------------------------------------


@dataclass(frozen=True, slots=True)
class Message:
    at: float  # monotonic time of arrival
    pid: int  # the sender, from SCM_CREDENTIALS (what systemd checks for NotifyAccess=main)
    states: tuple[str, ...]


class NotifySink:
    """A bound AF_UNIX datagram socket read on a thread, like systemd's end of $NOTIFY_SOCKET."""

    def __init__(self, address: str) -> None:
        self.address = address  # as in $NOTIFY_SOCKET: a path, or '@' and an abstract name
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind("\0" + address[1:] if address.startswith("@") else address)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self._cond = threading.Condition()
        self._messages: list[Message] = []
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._read, name="notify-sink", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        ucred = struct.calcsize("iII")
        while not self._closed.is_set():
            ready, _, _ = select.select([self._sock], [], [], 0.05)
            if not ready:
                continue
            data, ancillary, _, _ = self._sock.recvmsg(4096, socket.CMSG_SPACE(ucred))
            pid = -1
            for level, kind, payload in ancillary:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = struct.unpack("iII", payload[:ucred])[0]
            with self._cond:
                self._messages.append(Message(time.monotonic(), pid, tuple(data.decode().split("\n"))))
                self._cond.notify_all()

    def messages(self) -> list[Message]:
        with self._cond:
            return list(self._messages)

    def with_state(self, state: str, after: float = 0.0) -> list[Message]:
        """Messages carrying `state` (exactly, or as a prefix ending in '='), arrived after `after`."""
        return [m for m in self.messages() if m.at > after and any(_is(s, state) for s in m.states)]

    def wait_for(self, state: str, timeout: float, *, after: float = 0.0, count: int = 1) -> list[Message]:
        """The first `count` messages carrying `state` after `after` (fewer if the timeout passes first)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [m for m in self._messages if m.at > after and any(_is(s, state) for s in m.states)]
                left = deadline - time.monotonic()
                if len(found) >= count or left <= 0:
                    return found[:count]
                self._cond.wait(left)

    def close(self) -> None:
        self._closed.set()
        self._thread.join(2.0)
        self._sock.close()


def _is(state: str, wanted: str) -> bool:
    return state.startswith(wanted) if wanted.endswith("=") else state == wanted


@pytest.fixture
def short_dir(tmp_path: Path) -> Iterator[Path]:
    """tmp_path, or a shorter temporary folder when a socket path in tmp_path would not fit sun_path."""
    if len(str(tmp_path / "notify.sock")) <= MAX_SUN_PATH:
        yield tmp_path
        return
    with tempfile.TemporaryDirectory(prefix="ew-", dir="/tmp") as short:
        yield Path(short)


@pytest.fixture
def sink(short_dir: Path) -> Iterator[NotifySink]:
    opened = NotifySink(str(short_dir / "notify.sock"))
    yield opened
    opened.close()


def notifier_for(sink: NotifySink) -> Notifier:
    notifier = Notifier.from_env({"NOTIFY_SOCKET": sink.address})
    assert notifier is not None
    return notifier


# -- the unit file --------------------------------------------------------------------------------


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """A tool's exit status and output (judged by the caller: non-zero is not always a failure)."""
    return subprocess.run(list(args), check=False, capture_output=True, text=True, timeout=timeout)


def systemd_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:  # deploy/packages-dev.txt installs it: missing is a broken set-up, not a pass
        pytest.fail(f"{name} is not installed (Debian package: {SYSTEMD_PACKAGE})")
    return path


def unit_settings(text: str) -> dict[str, list[str]]:
    """`Section.Key` → its assignments in order (units repeat keys: DeviceAllow=, SystemCallFilter=)."""
    settings: dict[str, list[str]] = {}
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, sep, value = line.partition("=")
        assert sep, f"not a KEY=value line: {raw!r}"
        settings.setdefault(f"{section}.{key.strip()}", []).append(value.strip())
    return settings


def runnable_copy(folder: Path) -> Path:
    """The unit with ExecStart= pointing at an executable that exists here (the venv in /opt does not), and the
    setup-code helper at the checkout's copy, so that `verify` has nothing to say unless something else is wrong."""
    text, replaced = re.subn(
        r"^ExecStart=/opt/edgewatch/venv/bin/edgewatch ", f"ExecStart={sys.executable} ", UNIT.read_text(), flags=re.M
    )
    assert replaced == 1, "ExecStart= no longer runs /opt/edgewatch/venv/bin/edgewatch"
    text, replaced = re.subn(rf"^(Exec\w+=\S*){re.escape(SETUP_HELPER)} ", rf"\g<1>{SETUP_SCRIPT} ", text, flags=re.M)
    assert replaced == 2, "ExecStartPost= and ExecStopPost= no longer run the setup-code helper"
    copy = folder / UNIT.name
    copy.write_text(text)
    return copy


def test_the_unit_passes_systemd_analyze_verify_with_nothing_to_say(tmp_path: Path) -> None:
    analyze = systemd_tool("systemd-analyze")
    done = run(analyze, "verify", "--man=no", str(runnable_copy(tmp_path)))
    # Unknown keys and unparsable values are only warnings (exit 0): any output at all is a failure.
    assert done.returncode == 0, done.stdout + done.stderr
    assert not (done.stdout + done.stderr).strip(), done.stdout + done.stderr


def test_the_real_unit_draws_no_complaint_but_its_missing_executable(tmp_path: Path) -> None:
    analyze = systemd_tool("systemd-analyze")
    copy = tmp_path / UNIT.name
    shutil.copyfile(UNIT, copy)
    done = run(analyze, "verify", "--man=no", str(copy))
    complaints = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert all("/opt/edgewatch/venv/bin/edgewatch is not executable" in line for line in complaints), complaints


def test_the_unit_sandbox_exposure_is_at_most_2(tmp_path: Path) -> None:
    analyze = systemd_tool("systemd-analyze")
    done = run(analyze, "security", "--offline=true", "--no-pager", str(runnable_copy(tmp_path)))
    found = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", done.stdout)
    assert found is not None, done.stdout + done.stderr
    exposure = float(found.group(1))
    assert exposure <= MAX_EXPOSURE, f"exposure {exposure}:\n{done.stdout}"


def test_the_unit_keeps_what_the_appliance_needs() -> None:
    """What the exposure score cannot see: the settings that make the watchdog, the Coral and
    restarts work (a unit can score well and still lock the Coral out or restart-loop)."""
    unit = unit_settings(UNIT.read_text())
    expected = {
        "Service.Type": ["notify"],
        "Service.NotifyAccess": ["main"],
        "Service.ExecStart": ["/opt/edgewatch/venv/bin/edgewatch run --config /etc/edgewatch/config.yaml"],
        "Service.WatchdogSec": ["30"],
        "Service.Restart": ["on-failure"],
        "Service.RestartPreventExitStatus": ["2"],  # a bad config is not retried
        "Service.User": ["edgewatch"],
        "Service.Group": ["edgewatch"],
        "Service.StateDirectory": ["edgewatch"],
        "Service.ConfigurationDirectory": ["edgewatch"],
        "Service.UMask": ["0077"],
        "Service.DevicePolicy": ["closed"],
        "Service.SystemCallFilter": ["@system-service", "~@privileged"],
        "Service.IPAddressDeny": ["any"],
        "Service.CapabilityBoundingSet": [""],
        # The first-boot setup code: the app leaves it in /run/edgewatch (0700, the service's own), root's helper
        # shows it on the console after READY=1 and clears its copy at stop; '+' for root out of the sandbox,
        # '-' so the helper can never fail the service.
        "Service.RuntimeDirectory": ["edgewatch"],
        "Service.RuntimeDirectoryMode": ["0700"],
        "Service.ExecStartPost": [f"-+{SETUP_HELPER} show"],
        "Service.ExecStopPost": [f"-+{SETUP_HELPER} clear"],
    }
    assert {key: unit.get(key) for key in expected} == expected
    assert set(unit["Service.SupplementaryGroups"][0].split()) == {"plugdev", "video"}
    devices = set(unit["Service.DeviceAllow"])
    assert {"char-usb_device rw", "char-video4linux rw", "/dev/apex_0 rw"} <= devices, devices
    # The root helper shares the cgroup's device policy: without these its banner never reaches the screen
    # (found booting the Pi image). Write only: nothing in the unit reads a console.
    assert {"/dev/console w", "/dev/tty1 w"} <= devices, devices
    assert "Service.PrivateDevices" not in unit  # it would hide /dev/bus/usb from the Coral runtime
    assert "Service.MemoryDenyWriteExecute" not in unit  # not verified against the TFLite runtime
    assert "Service.ProcSubset" not in unit  # the runtime reads /proc/cpuinfo
    assert 60 <= int(unit["Service.TimeoutStartSec"][0]) <= 300  # model load + self-test
    assert set(unit["Service.IPAddressAllow"][0].split()) == {
        "localhost", "link-local", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7",
    }  # fmt: skip


def test_the_unit_caps_memory_and_tasks_for_a_pi_with_2_gb(tmp_path: Path) -> None:
    """A leak or a hostile stream ends in an OOM kill and a restart of this service, not in a
    frozen box: MemoryMax= within what a 2 GB Pi can give, TasksMax= well above the ~25 tasks
    four cameras use. systemd parses both (a bad value would be a warning from `verify`)."""
    unit = unit_settings(UNIT.read_text())
    assert unit.get("Service.MemoryMax") == ["1G"]
    assert unit.get("Service.TasksMax") == ["256"]
    analyze = systemd_tool("systemd-analyze")
    broken = runnable_copy(tmp_path)
    broken.write_text(broken.read_text().replace("MemoryMax=1G", "MemoryMax=1 gigabyte"))
    done = run(analyze, "verify", "--man=no", str(broken))
    assert "Invalid memory limit" in done.stdout + done.stderr  # so the clean verify does read ours


# -- udev -----------------------------------------------------------------------------------------

UDEV_PAIR = re.compile(r'\s*([A-Z]+(?:\{[^}]+\})?)\s*(==|!=|\+=|-=|:=|=)\s*"([^"]*)"\s*(,|$)')
UDEV_MATCH_KEYS = ("SUBSYSTEM", "KERNEL", "ACTION", "ENV{", "ATTR{", "ATTRS{", "SUBSYSTEMS", "DRIVERS")
UDEV_ASSIGN_KEYS = ("MODE", "GROUP", "OWNER", "TAG")


def udev_rules(text: str) -> list[dict[str, tuple[str, str]]]:
    """Each rule as key → (operator, value); fails on anything that is not `KEY op "value"` pairs."""
    rules = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pairs: dict[str, tuple[str, str]] = {}
        pos = 0
        while pos < len(line):
            found = UDEV_PAIR.match(line, pos)
            assert found is not None, f"line {number}: cannot parse from {line[pos:]!r}"
            key, op, value, _ = found.groups()
            if key.startswith(UDEV_MATCH_KEYS):
                assert op in ("==", "!="), f"line {number}: {key} is a match key, not {op}"
            else:
                assert key in UDEV_ASSIGN_KEYS, f"line {number}: {key}{op}"
                assert op in ("=", ":=", "+="), f"line {number}: {key}{op}"
            pairs[key] = (op, value)
            pos = found.end()
        rules.append(pairs)
    return rules


def test_the_udev_rules_give_plugdev_both_coral_usb_ids_and_the_apex_nodes() -> None:
    udevadm = shutil.which("udevadm")
    if udevadm is not None and run(udevadm, "verify", "--help").returncode == 0:
        done = run(udevadm, "verify", str(UDEV_RULES))
        assert done.returncode == 0, done.stdout + done.stderr  # (udev >= 254; Debian 12 has 252: parsed below)
    rules = udev_rules(UDEV_RULES.read_text())
    grant = {"MODE": ("=", "0660"), "GROUP": ("=", "plugdev")}
    for vendor, product in (("1a6e", "089a"), ("18d1", "9302")):  # before and after the firmware upload
        matching = [
            r for r in rules
            if r.get("SUBSYSTEM") == ("==", "usb")
            and (r.get("ATTR{idVendor}") or r.get("ATTRS{idVendor}")) == ("==", vendor)
            and (r.get("ATTR{idProduct}") or r.get("ATTRS{idProduct}")) == ("==", product)
        ]  # fmt: skip
        assert len(matching) == 1, (vendor, product, rules)
        assert {k: matching[0].get(k) for k in grant} == grant
    apex = [r for r in rules if r.get("SUBSYSTEM") == ("==", "apex")]
    assert len(apex) == 1, rules
    assert {k: apex[0].get(k) for k in grant} == grant, rules


# -- tmpfiles -------------------------------------------------------------------------------------

TMPFILES_WANTED = {
    "/var/lib/edgewatch": ("d", "0700", "edgewatch", "edgewatch"),
    "/etc/edgewatch": ("d", "0750", "root", "edgewatch"),
}


def test_the_tmpfiles_lines_say_who_owns_what() -> None:
    entries = {}
    for raw in TMPFILES.read_text().splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        fields = raw.split()
        assert 2 <= len(fields) <= 7, raw  # Type Path Mode User Group Age Argument
        kind, path, mode, user, group = (fields + ["-"] * 7)[:5]
        entries[path] = (kind, mode, user, group)
    assert entries == TMPFILES_WANTED
    unit = unit_settings(UNIT.read_text())  # the unit's own directory modes agree: no fixing back and forth
    assert unit["Service.StateDirectoryMode"] == [TMPFILES_WANTED["/var/lib/edgewatch"][1]]
    assert unit["Service.ConfigurationDirectoryMode"] == [TMPFILES_WANTED["/etc/edgewatch"][1]]


def test_systemd_tmpfiles_creates_the_directories_as_written(tmp_path: Path) -> None:
    """Applied for real, to a scratch root whose /etc/passwd has the edgewatch user
    (systemd-tmpfiles --root resolves names there, not on this machine)."""
    tool = systemd_tool("systemd-tmpfiles")
    if os.geteuid() != 0:
        pytest.skip("creating directories owned by another user needs root")
    uid = gid = 990
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/passwd").write_text(
        f"root:x:0:0::/root:/bin/sh\nedgewatch:x:{uid}:{gid}::/nonexistent:/bin/false\n"
    )
    (tmp_path / "etc/group").write_text(f"root:x:0:\nedgewatch:x:{gid}:\n")
    (tmp_path / "usr/lib/tmpfiles.d").mkdir(parents=True)
    shutil.copyfile(TMPFILES, tmp_path / "usr/lib/tmpfiles.d/edgewatch.conf")
    done = run(tool, f"--root={tmp_path}", "--create", "edgewatch.conf")
    assert done.returncode == 0, done.stderr
    assert not done.stderr.strip(), done.stderr
    ids = {"root": 0, "edgewatch": uid}
    for path, (_, mode, user, group) in TMPFILES_WANTED.items():
        st = (tmp_path / path.lstrip("/")).stat()
        assert (oct(st.st_mode & 0o7777), st.st_uid, st.st_gid) == (oct(int(mode, 8)), ids[user], ids[group]), path


# -- app.run.notify -----------------------------------------------------------------------------------


def test_the_notifier_delivers_states_in_one_datagram_to_a_socket_path(sink: NotifySink) -> None:
    notifier = notifier_for(sink)
    try:
        assert notifier.send("READY=1", "STATUS=running 2 camera(s)") is True
        (message,) = sink.wait_for("READY=1", timeout=2)
    finally:
        notifier.close()
    assert message.states == ("READY=1", "STATUS=running 2 camera(s)")
    assert message.pid == os.getpid()


def test_the_notifier_reaches_an_abstract_socket_named_with_an_at_sign() -> None:
    sink = NotifySink(f"@edgewatch-test-{uuid.uuid4().hex}")
    notifier = notifier_for(sink)
    try:
        assert notifier.send("WATCHDOG=1") is True
        assert [m.states for m in sink.wait_for("WATCHDOG=1", timeout=2)] == [("WATCHDOG=1",)]
    finally:
        notifier.close()
        sink.close()


@pytest.mark.parametrize("environ", [{}, {"NOTIFY_SOCKET": ""}, {"NOTIFY_SOCKET": "relative/notify"}])
def test_no_notifier_without_a_usable_notify_socket(environ: dict[str, str]) -> None:
    assert Notifier.from_env(environ) is None


def test_a_failed_notification_returns_false_and_is_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = Notifier.from_env({"NOTIFY_SOCKET": str(tmp_path / "nobody-listens")})
    assert notifier is not None
    with caplog.at_level(logging.WARNING, logger="app.run.notify"):
        assert notifier.send("WATCHDOG=1") is False
        assert notifier.send("WATCHDOG=1") is False
    notifier.close()
    assert len([r for r in caplog.records if r.name == "app.run.notify"]) == 1, caplog.records


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"WATCHDOG_USEC": "30000000"}, 15.0),
        ({"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": str(os.getpid())}, 0.5),
        ({"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": str(os.getpid() + 1)}, None),  # someone else's watchdog
        ({"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "me"}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({"WATCHDOG_PID": str(os.getpid())}, None),
        ({}, None),
    ],
)
def test_the_watchdog_interval_is_half_the_period_systemd_asked_this_process_for(
    environ: dict[str, str], expected: float | None
) -> None:
    assert watchdog_interval(environ) == expected


class FakeHealth:
    """A health() whose answer the test switches; the stuck time grows on each call, as the real one does."""

    def __init__(self) -> None:
        self.ok = True
        self.calls = 0

    def __call__(self) -> Health:
        self.calls += 1
        return Health(True, ()) if self.ok else Health(False, (f"detector call stuck for {30 + self.calls} s",))


def test_the_heartbeat_pings_only_while_healthy_and_resumes_on_recovery(
    sink: NotifySink, caplog: pytest.LogCaptureFixture
) -> None:
    interval = 0.05
    health = FakeHealth()
    notifier = notifier_for(sink)
    heartbeat = Heartbeat(notifier, interval, health, ok_status="running 1 camera(s)")
    caplog.set_level(logging.INFO, logger="app.run.notify")
    heartbeat.start()
    try:
        assert len(sink.wait_for("WATCHDOG=1", timeout=2, count=3)) == 3
        health.ok = False
        wedged_at = time.monotonic()
        (status,) = sink.wait_for("STATUS=", timeout=2, after=wedged_at)
        # Each beat reads health, then pings or not: once 15 more reads have happened, every beat
        # that read the wedged health has had its chance to (wrongly) ping, however slow the box.
        calls_at_status = health.calls
        assert wait_until(lambda: health.calls >= calls_at_status + 15, 30), health.calls
        # One beat may have read health just before the switch (and be slow to send); none after that.
        assert sink.with_state("WATCHDOG=1", after=wedged_at + 6 * interval) == []
        assert re.fullmatch(r"STATUS=unhealthy: detector call stuck for \d+ s", "\n".join(status.states)), status
        assert health.calls >= 5  # it kept checking while quiet...
        assert len(sink.with_state("STATUS=", after=wedged_at)) == 1  # ...and said so once, not every beat
        errors = [r for r in caplog.records if r.name == "app.run.notify" and r.levelno == logging.ERROR]
        assert len(errors) == 1, caplog.records
        assert "detector call stuck" in errors[0].getMessage(), caplog.records
        health.ok = True
        healed_at = time.monotonic()
        (resumed,) = sink.wait_for("WATCHDOG=1", timeout=2, after=healed_at)
        assert resumed.states == ("WATCHDOG=1", "STATUS=running 1 camera(s)")
    finally:
        heartbeat.stop()
        notifier.close()
    stopped_at = time.monotonic()
    calls_at_stop = health.calls
    # A periodic thread that ignored stop() shows only over time: 4 intervals are 4 beats it would
    # have made (the bound). The marker, sent after them, lands behind any datagram still in flight.
    time.sleep(4 * interval)
    marker = notifier_for(sink)
    assert marker.send("X_TEST_MARKER=after-stop")
    marker.close()
    assert sink.wait_for("X_TEST_MARKER=", timeout=5, after=stopped_at)
    assert sink.with_state("WATCHDOG=1", after=stopped_at) == []  # stop() means stopped
    assert health.calls == calls_at_stop  # and no longer reads health either


def test_a_health_check_that_raises_counts_as_wedged(sink: NotifySink) -> None:
    calls: list[float] = []

    def broken() -> Health:
        calls.append(time.monotonic())
        raise RuntimeError("status lock poisoned")

    notifier = notifier_for(sink)
    heartbeat = Heartbeat(notifier, 0.05, broken)
    heartbeat.start()
    try:
        (status,) = sink.wait_for("STATUS=", timeout=2)
        # Four more beats read the broken health: each had its chance to (wrongly) ping.
        assert wait_until(lambda: len(calls) >= 5, 30), calls
    finally:
        heartbeat.stop()
        notifier.close()
    assert "health check failed" in status.states[0]
    assert "status lock poisoned" in status.states[0]
    assert sink.with_state("WATCHDOG=1") == []


def test_the_status_line_stays_one_short_line_whatever_the_problems_say(sink: NotifySink) -> None:
    notifier = notifier_for(sink)
    heartbeat = Heartbeat(notifier, 0.05, lambda: Health(False, ("camera a:\nREADY=1", "x" * 500)))
    heartbeat.start()
    try:
        (message,) = sink.wait_for("STATUS=", timeout=2)
    finally:
        heartbeat.stop()
        notifier.close()
    (line,) = message.states  # a newline would have smuggled a second assignment ("READY=1") in
    assert line.startswith("STATUS=unhealthy: camera a: READY=1; xxx")
    assert len(line) <= len("STATUS=") + 200


# -- a real service whose detector hangs ----------------------------------------------------------


class HangingDetector:
    """The real detector until `hang` is set: then each call blocks, like a wedged Coral, until `release`."""

    def __init__(self, inner: TfliteDetector) -> None:
        self.inner = inner
        self.hang = threading.Event()
        self.release = threading.Event()
        self.hung = threading.Event()
        self.hung_at = 0.0
        self.calls = 0

    @property
    def info(self) -> DetectorInfo:
        return self.inner.info

    def detect(self, image: Image, min_score: float = 0.0) -> Detections:
        if self.hang.is_set():
            self.hung_at = time.monotonic()
            self.hung.set()
            self.release.wait(60)  # bounded: never outlives the test by much, whatever happens
        self.calls += 1
        return self.inner.detect(image, min_score)

    def close(self) -> None:
        pass


def test_a_wedged_detector_stops_the_watchdog_pings_of_a_real_service(
    person_clip: ClipInfo,
    rtsp_cameras: Callable[..., RtspCamera],
    detector: TfliteDetector,
    sink: NotifySink,
    tmp_path: Path,
) -> None:
    stuck_after, interval = 2.0, 0.2
    assert person_clip.annexb is not None
    camera = rtsp_cameras(person_clip.annexb)
    config = parse_config(f"node_id: test\ncameras:\n  walk:\n    source: {camera.url}\n    detect_fps: 5\n")
    hanging = HangingDetector(detector)
    notifier = notifier_for(sink)
    with Store(tmp_path / "state", retain_days=7, max_mb=64) as store:
        service = Service(config, hanging, store, stuck_after_s=stuck_after)
        beats: list[float] = []

        def beat_health() -> Health:  # the service's own health, with the time of each beat's read
            beats.append(time.monotonic())
            return service.health()

        heartbeat = Heartbeat(notifier, interval, beat_health)
        service.start()
        heartbeat.start()
        try:
            # Healthy: the real model runs and the pings flow.
            assert wait_until(lambda: hanging.calls >= 3, 15), service.status()
            assert len(sink.wait_for("WATCHDOG=1", timeout=5, count=3)) == 3
            assert service.health().ok, service.health()
            hanging.hang.set()
            assert hanging.hung.wait(person_clip.seconds + 5), "no detection was asked for after the hang was set"
            hung_at = hanging.hung_at
            # Waiting out stuck_after on purpose: "stuck" is defined by the call's age on the wall clock.
            time.sleep(max(0.0, hung_at + stuck_after + 2.0 - time.monotonic()))
            # Then the beats that read health past the silence bound (+1 s) must be there, and quiet:
            # two reads after it, so the loop provably ran there (a slow box may have lagged).
            silent_from = hung_at + stuck_after + 1.0
            assert wait_until(lambda: sum(1 for b in beats if b > silent_from) >= 2, 30), beats
            pings = [m.at for m in sink.with_state("WATCHDOG=1", after=hung_at)]
            health = service.health()
            # Still pinging while the call was young (not stuck yet), silent from stuck_after (+1 s) on.
            assert pings, pings
            assert min(pings) < hung_at + stuck_after, pings
            assert max(pings) <= hung_at + stuck_after + 1.0, [p - hung_at for p in pings]
            assert not health.ok, health
            assert any("detector call stuck" in p for p in health.problems), health
            assert any("detector call stuck" in m.states[0] for m in sink.with_state("STATUS=", after=hung_at))
            # The hang ends (the Coral answers again): pings resume, as a restart would have made them.
            hanging.hang.clear()
            released_at = time.monotonic()
            hanging.release.set()
            assert sink.wait_for("WATCHDOG=1", timeout=stuck_after + 3, after=released_at), service.health()
        finally:
            hanging.hang.clear()
            hanging.release.set()
            heartbeat.stop()
            service.stop()
            notifier.close()


# -- `edgewatch run` under a (pretend) systemd ----------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def edgewatch_command() -> list[str]:
    script = Path(sys.executable).with_name("edgewatch")
    return [str(script)] if script.exists() else [sys.executable, "-m", "app"]


RUNNING_LINE = "running 1 camera(s)"  # app.cli logs it once the service and the API are up


def test_edgewatch_run_says_ready_pings_the_watchdog_and_says_stopping(
    person_clip: ClipInfo, sink: NotifySink, tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "node_id: test\n"
        f"cameras:\n  demo:\n    source: {person_clip.path}\n    detect_fps: 5\n"
        "detector: {type: cpu}\n"
        f'api: {{listen: "127.0.0.1:{free_port()}", allow: [loopback]}}\n'
        f"storage: {{path: {tmp_path / 'state'}}}\n"
    )
    env = dict(os.environ, NOTIFY_SOCKET=sink.address, WATCHDOG_USEC="1000000", PYTHONUNBUFFERED="1")
    env.pop("WATCHDOG_PID", None)
    log_path = tmp_path / "edgewatch.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [*edgewatch_command(), "run", "--config", str(config)],
            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        ready = _wait_ready(sink, proc, log_path, timeout=20)
        if ready is None:
            pytest.fail(f"no READY=1 within 20 s\n--- log ---\n{log_path.read_text(errors='replace')}")
        assert ready.pid == proc.pid  # NotifyAccess=main: systemd ignores anyone else
        pings = sink.wait_for("WATCHDOG=1", timeout=3, after=ready.at, count=4)
        assert len(pings) == 4, pings
        assert {p.pid for p in pings} == {proc.pid}, pings
        gaps = [b.at - a.at for a, b in zip([ready, *pings], pings, strict=False)]
        assert max(gaps) < 1.0, gaps  # always within WATCHDOG_USEC, or systemd would have killed it
        stop_asked = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert sink.wait_for("STOPPING=1", timeout=10, after=stop_asked), log_path.read_text(errors="replace")
        assert proc.wait(timeout=15) == 0, log_path.read_text(errors="replace")
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def _wait_ready(sink: NotifySink, proc: subprocess.Popen[bytes], log_path: Path, timeout: float) -> Message | None:
    """READY=1 from `edgewatch run`, or None. The wait ends 2 s after the app says it is running
    (READY=1 would have come by then), so a missing READY=1 fails in seconds, not the whole timeout."""
    deadline = time.monotonic() + timeout
    running_since: float | None = None
    while time.monotonic() < deadline:
        found = sink.wait_for("READY=1", timeout=0.2)
        if found:
            return found[0]
        if proc.poll() is not None:
            pytest.fail(f"edgewatch run exited with {proc.returncode}\n{log_path.read_text(errors='replace')}")
        if running_since is None and RUNNING_LINE in log_path.read_text(errors="replace"):
            running_since = time.monotonic()
        if running_since is not None and time.monotonic() - running_since > 2.0:
            return None
    return None
