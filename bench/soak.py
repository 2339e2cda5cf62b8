"""Soak: the whole appliance for a long time, with things breaking on a schedule (issue 8).

What runs, all on this machine:
- 4 real GStreamer RTSP cameras (tests/support/rtsp.py) looping 1280x720 12 fps H.264 clips
  made from real photos by `app.demo.clip`: cam0 and cam2 show a person walking through,
  cam1 and cam3 an empty garage;
- a real mosquitto (tests/support/mosquitto.py) with persistence on, so that a hub's
  persistent session and its queued QoS 1 messages survive the broker's restart;
- the appliance as a real separate process: `bench/soak_app.py`, which is `edgewatch run
  --config FILE` with a stand-in Edge TPU (the real CPU model dressed as one) that can be
  wedged (SIGUSR1) and replugged (SIGUSR2); the real CPU model is the fallback. Its
  storage.path is a small tmpfs (48 MB) when this process may mount one (root);
- a hub: a paho subscriber on `#` with a persistent session (clean_session False, QoS 1);
- a dashboard user: `GET /api/status` every second and a camera's `latest.jpg` every 2 s
  with an API token (created beforehand, with the password set by `edgewatch passwd --stdin`).

Faults, spread over the run: an RTSP camera SIGKILLed (restarted ~10 s later), a camera
frozen (SIGSTOP, SIGCONT later), the broker stopped and started, the Edge TPU wedged and
replugged, the disk filled to ~64 KB free with a ballast file and freed, the appliance
SIGKILLed and restarted at once (as systemd's Restart= would).

What it reports and checks:
- alerts: expected = every alert committed in the store (read from the SQLite db after the
  run); delivered = the distinct alert ids the hub received. None may be lost; an id received
  twice is reported (allowed); two ids for one object (camera, rule, first seen at) are not,
  nor a delivered id the store never had (except while the disk was full). A person-visit
  count from the clip loops is a sanity check that alerts fired at all;
- recovery per fault, from the status samples (1 s resolution): camera back online, MQTT
  reconnected, degraded → healed, API answering and everything up after the SIGKILL, the
  first alert stored after the disk is freed; each against a bound derived from the
  product's timeouts and backoffs (see `recovery_bound`);
- RSS, fd and thread count of the appliance every second; start/end and a least-squares
  slope per hour over the steady samples (all cameras up, no fault) after warm-up, the slope
  within each quiet stretch and the step across each fault; what came and went when the fd
  count changed;
- fps held: per camera detect fps from the status samples outside the fault windows;
- privacy, observed: every second, every socket of the appliance process (/proc/PID/fd →
  /proc/PID/net/{tcp,tcp6,udp,udp6,raw,raw6,packet}) must be a connection to a configured
  camera or the broker, the API's listening socket, or a client of it; and with strace
  (`-f --seccomp-bpf`: only the traced calls stop the process), every connect must go to a
  camera or the broker, every listen be the API's, no raw or packet socket be made, and every
  write-mode open and every creat/rename/unlink/mkdir/rmdir/link/truncate must be under
  storage.path; MQTT carries no image (snapshots are off). paho-mqtt's wake-up pipe, a TCP
  socket pair on loopback with both ends in the appliance, is recognised and reported.

    .venv/bin/python bench/soak.py [--duration 600] [--json FILE] [--work DIR] [--settle 120]
                                   [--no-strace] [--clip-seconds 12] [--person-clip MP4 --empty-clip MP4]

Durations under 240 s use the short schedule (laid out for 90 s), longer ones the long one
(laid out for 600 s); start times scale with the duration, holds do not.

Exit status 0 when every check passed, 1 otherwise. Every wait is bounded; cameras, broker and
appliance are killed and the tmpfs unmounted on exit, on errors and on SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import paho.mqtt.client as paho
from machine import machine_cpu, settle  # bench/machine.py (bench/ is on sys.path when run)
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the test helpers (RTSP camera, mosquitto) are not installed

from app.api.auth import Credentials, credentials_path  # noqa: E402 - after the path set-up above
from app.demo.clip import ClipInfo, make_clip, truth_path  # noqa: E402
from app.store import Store  # noqa: E402
from app.store.db import DB_NAME, MAX_LIMIT  # noqa: E402
from tests.support.mosquitto import Mosquitto, free_port  # noqa: E402
from tests.support.rtsp import RtspCamera  # noqa: E402

NODE = "soak"
PREFIX = f"edgewatch/{NODE}"
RULE = "visitor"
DETECT_FPS = 5
KINDS = {"cam0": "person", "cam1": "empty", "cam2": "person", "cam3": "empty"}
PASSWORD = "soak test passphrase 7 horses"  # a throwaway box's admin password, not a secret
APP_SCRIPT = Path(__file__).resolve().with_name("soak_app.py")
STATUS_EVERY_S = 1.0  # the recovery times' resolution
PROC_EVERY_S = 1.0
TMPFS_MB = 48
BALLAST_LEAVES_KB = 64  # "nearly full": what the ballast leaves free on the tmpfs
START_TIMEOUT_S = 90.0  # the appliance's first start (imports, two models, self-test, cameras)
DRAIN_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 45.0  # systemd's TimeoutStopSec for the unit

# The product's timings the recovery bounds derive from (app/capture, app/publish/mqtt.py,
# app/detect/supervisor.py). Copied, not imported: the soak checks the product keeps them.
CAMERA_BACKOFF = (0.5, 10.0, 0.2)  # first wait, longest wait, jitter (app/capture/camera.py Backoff)
CAMERA_OPEN_TIMEOUT_S = 5.0  # app/capture/pyav.py OPEN_TIMEOUT_S: a frozen server holds an open this long
MQTT_BACKOFF = (1.0, 30.0)  # paho's reconnect delay, doubling from 1 s to 30 s (app/publish/mqtt.py)
TPU_HANG_S = 3.0  # app/detect/supervisor.py HANG_S
TPU_PROBE_S = 5.0  # app/detect/supervisor.py PROBE_S
APP_START_BOUND_S = 30.0  # process start to API answering: ~6 s measured here; room for a loaded CI box
POLL_SLACK_S = STATUS_EVERY_S + 1.0  # a state change is seen at the next status sample, plus request time
FPS_WINDOW_S = 5.0  # the status' fps figures are over the last 5 s (app/run/runner.py, app/capture)

# Between two steady moments (every camera up, broker connected, no fault) the appliance holds the same
# sockets and database handles: the same fd count, give or take a reader connection the store opens on
# demand (3 fds: db, -wal, -shm) and one API client connection.
MAX_FD_GROWTH = 4
# RSS between two steady moments of one run: what a replugged TPU costs (a fresh model and its arena,
# while the old one is released) plus the allocator's retention; see bench/RESULTS.md for the figures.
MAX_RSS_GROWTH_MB = 40.0

STRACE_CALLS = (
    # what writes, creates or removes a file name ...
    "open,openat,openat2,creat,rename,renameat,renameat2,unlink,unlinkat,rmdir,"
    "mkdir,mkdirat,link,linkat,symlink,symlinkat,truncate,"
    # ... and every way to reach or be reached over the network (all rare calls: --seccomp-bpf stops
    # the process only for these, so the cameras' reads and the API's sends run untraced)
    "socket,connect,bind,listen"
)
WRITE_FLAGS = ("O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "O_APPEND", "O_TMPFILE")
# Paths outside storage.path the appliance may open for writing, and why that stores nothing.
FILE_ALLOWANCES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^/dev/null$"), "the null device: whatever is written is discarded"),
    (
        re.compile(r"^/proc/(self|thread-self|\d+)(/task/\d+)?/comm$"),
        "a thread's name, kept in kernel memory (pthread_setname_np names other threads through it)",
    ),
)


# -- the fault schedule -----------------------------------------------------------------------


@dataclass
class Fault:
    kind: str  # camera_kill | camera_freeze | broker_stop | detector_hang | disk_full | appliance_kill
    at: float  # seconds after the soak's start
    hold: float  # seconds until it is undone (appliance_kill: restarted at once)
    target: str | None = None  # the camera, for camera faults
    started: float | None = None  # wall clock
    restored: float | None = None
    skipped: str | None = None  # why it did not happen
    detected_s: float | None = None  # fault → the appliance shows it (offline, degraded, ...)
    recovered_s: float | None = None  # undone → healthy again (appliance_kill: killed → API answering)
    full_s: float | None = None  # appliance_kill: killed → cameras, broker and detector all up again
    bound_s: float | None = None
    window_end: float | None = None  # wall clock: end of the window excluded from "steady" figures
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.kind}({self.target})" if self.target else self.kind


# (kind, at, hold, target). The short one is laid out for 90 s, the long one for 600 s; other
# durations scale the start times (not the holds).
SHORT = (
    # Early, so that the run which lives through every other fault is the one checked for growth.
    ("appliance_kill", 8, 0, None),
    # Then two storms of faults that touch different parts (each is measured on its own signal).
    ("camera_kill", 26, 5, "cam0"),
    ("broker_stop", 26, 6, None),
    ("detector_hang", 42, 7, None),
    ("camera_freeze", 42, 6, "cam2"),
    ("disk_full", 42, 8, None),
)
LONG = (
    # Early again: the run after it lives through two rounds of every other fault, so that growth per
    # fault (a second TPU replug, a second reconnect) shows in one process.
    ("appliance_kill", 40, 0, None),
    ("camera_kill", 90, 10, "cam0"),
    ("camera_freeze", 135, 15, "cam1"),
    ("broker_stop", 180, 20, None),
    ("detector_hang", 230, 20, None),
    ("disk_full", 280, 40, None),
    ("camera_kill", 360, 10, "cam2"),
    ("camera_freeze", 400, 15, "cam3"),
    ("broker_stop", 440, 30, None),
    ("detector_hang", 500, 20, None),
)


def schedule(duration: float) -> list[Fault]:
    table, nominal = (SHORT, 90.0) if duration < 240 else (LONG, 600.0)
    scale = duration / nominal
    return [Fault(kind, at * scale, float(hold), target) for kind, at, hold, target in table]


def recovery_bound(fault: Fault, clip_seconds: float) -> float:
    """How long recovery may take, from the product's own timeouts and backoffs (+ the status poll)."""
    if fault.kind in ("camera_kill", "camera_freeze"):
        # Reconnect waits double from 0.5 s, so the wait under way when the camera returns is at most
        # the outage so far + 0.5 s (capped at 10 s), ±20 % jitter; a frozen server can hold one open
        # attempt for the open timeout; then the first frame.
        first, longest, jitter = CAMERA_BACKOFF
        return (1 + jitter) * min(longest, fault.hold + first) + CAMERA_OPEN_TIMEOUT_S + POLL_SLACK_S
    if fault.kind == "broker_stop":
        # paho's waits double from 1 s: the one under way when the broker returns is at most the outage + 1 s.
        first, longest = MQTT_BACKOFF
        return min(longest, fault.hold + first) + POLL_SLACK_S
    if fault.kind == "detector_hang":
        # Replugged: the prober looks every 5 s, then the self-test (one CPU inference, < 1 s).
        return TPU_PROBE_S + 1.0 + POLL_SLACK_S
    if fault.kind == "disk_full":
        # Space is back: the next person visit stores its alert. A visit per clip loop; allow one
        # missed visit, then min_dwell 1 s and 3 detect frames to confirm.
        return 2 * clip_seconds + 1.0 + 3 / DETECT_FPS + POLL_SLACK_S
    if fault.kind == "appliance_kill":
        return APP_START_BOUND_S
    raise ValueError(fault.kind)


def detection_bound(fault: Fault) -> float | None:
    """How soon the appliance must show the fault (None: not bounded here)."""
    if fault.kind == "detector_hang":
        return TPU_HANG_S + 1.0 / DETECT_FPS + POLL_SLACK_S  # abandoned after 3 s, at the next detect call
    if fault.kind == "camera_kill":
        return POLL_SLACK_S + 1.0  # the stream ends at once: offline on the next read
    if fault.kind == "broker_stop":
        return POLL_SLACK_S + 1.0  # the broker closes the connection as it stops
    return None


# -- recorders --------------------------------------------------------------------------------


@dataclass
class StatusSample:
    t: float
    ok: bool
    code: int | None
    body: dict[str, Any] | None
    error: str | None = None

    def cam(self, name: str) -> dict[str, Any]:
        assert self.body is not None
        cams: list[dict[str, Any]] = self.body["cameras"]
        return next(c for c in cams if c["name"] == name)

    def all_up(self) -> bool:
        """Every camera online, the broker connected, the detector not degraded."""
        if not self.ok or self.body is None:
            return False
        mqtt = self.body.get("mqtt") or {}
        return (
            all(c["online"] for c in self.body["cameras"])
            and bool(mqtt.get("connected"))
            and not self.body["detector"]["degraded"]
        )


class Poller:
    """The dashboard user: status every second, a camera's latest.jpg every other second."""

    def __init__(self, base: str, token: str, cameras: Sequence[str]) -> None:
        self.samples: list[StatusSample] = []
        self.jpegs: list[tuple[float, str, int | None, int, bool]] = []  # t, camera, code, bytes, is JPEG
        self._client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=3.0)
        self._cameras = list(cameras)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soak-poller", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._client.close()

    def status(self) -> StatusSample:
        t = time.time()
        try:
            r = self._client.get("/api/status")
        except httpx.HTTPError as exc:
            return StatusSample(t, False, None, None, type(exc).__name__)
        ok = r.status_code == 200
        return StatusSample(t, ok, r.status_code, r.json() if ok else None, None if ok else r.text[:200])

    def _run(self) -> None:
        tick = 0
        next_at = time.monotonic()
        while not self._stop.wait(max(0.0, next_at - time.monotonic())):
            next_at += STATUS_EVERY_S
            self.samples.append(self.status())
            tick += 1
            if tick % 2 == 0:
                cam = self._cameras[(tick // 2) % len(self._cameras)]
                t = time.time()
                try:
                    r = self._client.get(f"/api/cameras/{cam}/latest.jpg")
                    self.jpegs.append((t, cam, r.status_code, len(r.content), r.content[:3] == b"\xff\xd8\xff"))
                except httpx.HTTPError:
                    self.jpegs.append((t, cam, None, 0, False))


@dataclass
class Received:
    t: float
    topic: str
    retained: bool
    text: str | None  # alerts, detector, availability and camera status; None for the rest


class Hub:
    """A home-automation hub: `#` at QoS 1 with a persistent session, like a real one should be."""

    def __init__(self, port: int) -> None:
        self.messages: list[Received] = []
        self.connects: list[tuple[float, bool]] = []  # (when, session present)
        self.images: list[tuple[float, str, int]] = []  # anything that looks like a picture
        self._subscribed = threading.Event()
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id="soak-hub", clean_session=False, protocol=paho.MQTTv311
        )
        self.client.reconnect_delay_set(min_delay=1, max_delay=2)  # the hub should be back before the appliance
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *_a: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            self.close()
            raise RuntimeError("the hub could not subscribe")

    def _on_connect(self, client: paho.Client, _u: Any, flags: Any, reason: Any, _p: Any) -> None:
        self.connects.append((time.time(), bool(getattr(flags, "session_present", False))))
        client.subscribe("#", qos=1)  # harmless when the session kept it; needed on the first connect

    def _on_message(self, _c: paho.Client, _u: Any, msg: paho.MQTTMessage) -> None:
        t = time.time()
        payload = bytes(msg.payload)
        topic = msg.topic
        if payload[:3] == b"\xff\xd8\xff" or payload[:8] == b"\x89PNG\r\n\x1a\n" or topic.endswith("/snapshot"):
            self.images.append((t, topic, len(payload)))
        keep = topic in (f"{PREFIX}/alerts", f"{PREFIX}/detector", f"{PREFIX}/available") or topic.endswith("/status")
        text = payload.decode(errors="replace") if keep else None
        self.messages.append(Received(t, topic, bool(msg.retain), text))

    def alerts(self) -> list[tuple[float, dict[str, Any]]]:
        return [(m.t, json.loads(m.text)) for m in list(self.messages) if m.topic == f"{PREFIX}/alerts" and m.text]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.disconnect()  # the session stays on the broker: a hub coming back gets what it missed
        self.client.loop_stop()


# -- the appliance process ------------------------------------------------------------------

FIND_TIMEOUT_S = 15.0  # strace start-up to the appliance's exec
END_TIMEOUT_S = 10.0  # SIGKILL to every process of the appliance's session gone


@dataclass(frozen=True)
class ProcStat:
    """A process as /proc/PID/stat shows it (proc(5)): state letter, parent, session."""

    state: str  # R, S, D, T, t, Z (zombie: gone but not yet reaped), X, ...
    ppid: int
    sid: int

    @property
    def alive(self) -> bool:
        return self.state not in ("Z", "X")


def proc_stat(pid: int) -> ProcStat | None:
    """None once the process is gone (or was never there)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return ProcStat(fields[0], int(fields[1]), int(fields[3]))
    except (OSError, IndexError, ValueError):
        return None


def _all_pids() -> list[int]:
    return [int(entry.name) for entry in os.scandir("/proc") if entry.name.isdigit()]


def children_of(pid: int) -> list[int]:
    return [p for p in _all_pids() if (s := proc_stat(p)) is not None and s.ppid == pid]


def session_members(sid: int) -> list[int]:
    """Every live process of session `sid` (zombies are gone: they hold no file, lock or socket).
    A session lives as long as one of its processes does, so its id names no one else meanwhile."""
    return [p for p in _all_pids() if (s := proc_stat(p)) is not None and s.sid == sid and s.alive]


def cmdline_of(argv: Sequence[str]) -> bytes:
    """What /proc/PID/cmdline holds for a process that exec'd `argv`."""
    return b"".join(os.fsencode(a) + b"\0" for a in argv)


def exec_child(parent: int, argv: Sequence[str]) -> int | None:
    """The child of `parent` that has exec'd exactly `argv`, if there is one yet.

    Not "a child whose command line names the script": before it runs the command, strace forks
    short-lived children of its own to test the kernel (seccomp-bpf filter order, ptrace options),
    and their command line is strace's — which names the script too. Picking one of those was
    issue 14's soak failure: the harness signalled 5188, a test fork gone by then, while the
    appliance ran as 5191 (three forks later, as here). The tracee itself shows strace's command
    line until it execs; only then is its command line exactly `argv`."""
    want = cmdline_of(argv)
    for child in children_of(parent):
        with contextlib.suppress(OSError):
            if Path(f"/proc/{child}/cmdline").read_bytes() == want:
                return child
    return None


def end_session(sid: int, timeout: float = END_TIMEOUT_S) -> list[int]:
    """SIGKILL every process of session `sid` until none is left; those still alive at `timeout`
    (none, unless one is stuck in the kernel) are returned. The caller reaps its own child."""
    deadline = time.monotonic() + timeout
    while True:
        left = session_members(sid)
        if not left or time.monotonic() >= deadline:
            return left
        for pid in left:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)


class Appliance:
    """bench/soak_app.py as a real process (under strace when asked); SIGKILL and restart are real.

    It runs in a session of its own (strace's, with strace as the leader). Signals go to the
    appliance's verified pid: the one child of strace that has exec'd the appliance's exact
    command line (`exec_child`), and only while it is still a live process of that session.
    Ending a run (`stop`, `kill`, a failed start) always ends with every process of the session
    SIGKILLed and gone, so that nothing outlives its run, even when the pid was never found."""

    def __init__(
        self,
        work: Path,
        config: Path,
        strace: str | None,
        *,
        script: Path = APP_SCRIPT,
        find_timeout: float = FIND_TIMEOUT_S,
    ) -> None:
        self.work = work
        self.config = config
        self.strace = strace
        self.script = script
        self.find_timeout = find_timeout
        self.runs = 0
        self.traces: list[Path] = []
        self.logs: list[Path] = []
        self.starts: list[tuple[float, int]] = []  # (wall clock, pid)
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._pid: int | None = None

    @property
    def pid(self) -> int | None:
        with self._lock:
            return self._pid

    def command(self) -> list[str]:
        """The appliance's own command line (what strace runs, when under strace)."""
        return [sys.executable, str(self.script), "--config", str(self.config)]

    def start(self) -> int:
        self.runs += 1
        log = self.work / f"appliance-{self.runs}.log"
        self.logs.append(log)
        app = self.command()
        cmd = app
        if self.strace is not None:
            trace = self.work / f"strace-{self.runs}.txt"
            self.traces.append(trace)
            cmd = [
                self.strace,
                "-f",
                "--seccomp-bpf",
                "-qq",
                "-yy",  # file descriptors with their paths, sockets with their addresses
                "-s",
                "4096",
                "-e",
                f"trace={STRACE_CALLS}",
                "-o",
                str(trace),
                *app,
            ]
        # As the systemd unit runs it: working directory /, no bytecode written (the unit sets
        # PYTHONDONTWRITEBYTECODE: /opt is read-only there), HOME and TMPDIR left as they are so
        # that a library writing there shows up.
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"}
        with log.open("ab") as out:
            proc = subprocess.Popen(
                cmd, cwd="/", stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env, start_new_session=True
            )
        try:
            pid = proc.pid if self.strace is None else self._traced_child(proc, app)
        except BaseException:
            self._end(proc)  # a start that failed leaves nothing behind either
            raise
        with self._lock:
            self._proc, self._pid = proc, pid
        self.starts.append((time.time(), pid))
        return pid

    def _traced_child(self, proc: subprocess.Popen[bytes], app: Sequence[str]) -> int:
        """The appliance's pid under strace: strace's child once it has exec'd the appliance."""
        deadline = time.monotonic() + self.find_timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"strace exited with {proc.returncode}: see {self.logs[-1]}")
            pid = exec_child(proc.pid, app)
            if pid is not None:
                return pid
            time.sleep(0.02)
        raise RuntimeError(f"the appliance did not start under strace within {self.find_timeout:g} s")

    def _live(self, proc: subprocess.Popen[bytes], pid: int | None) -> int | None:
        """`pid` if it is still a live process of the run's session (never a pid reused by another)."""
        if pid is None:
            return None
        stat = proc_stat(pid)
        return pid if stat is not None and stat.alive and stat.sid == proc.pid else None

    def signal(self, signum: int) -> bool:
        with self._lock:
            proc, pid = self._proc, self._pid
        if proc is None or (pid := self._live(proc, pid)) is None:
            return False
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            return False
        return True

    def exited(self) -> int | None:
        """The exit status if the appliance ended by itself (not by `kill` or `stop`), else None."""
        with self._lock:
            proc = self._proc if self._pid is not None else None
        return None if proc is None else proc.poll()

    def kill(self) -> None:
        """SIGKILL the appliance itself (not strace), like a power cut to the process; returns
        once nothing of the run is left (strace has written its last line and exited)."""
        with self._lock:
            proc, pid = self._proc, self._pid
            self._proc, self._pid = None, None
        if proc is None:
            return
        target = self._live(proc, pid)
        if target is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(target, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(15)
        self._end(proc)

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int | None:
        """SIGTERM and wait `timeout` (the unit's stop timeout); its exit status, None if it had to
        be killed. Either way, every process of the run is gone when this returns."""
        with self._lock:
            proc, pid = self._proc, self._pid
        if proc is None:
            return None
        code = proc.poll()
        if code is None:
            target = self._live(proc, pid)
            with contextlib.suppress(ProcessLookupError):
                if target is not None:
                    os.kill(target, signal.SIGTERM)
                else:  # its pid is not known: the run's process group (strace holds fatal signals back)
                    os.killpg(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = proc.wait(timeout)
        with self._lock:
            self._proc, self._pid = None, None
        self._end(proc)
        return code

    def _end(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL whatever is left of the run's session, reap strace (or the appliance), and check
        that nothing of it remains."""
        left = end_session(proc.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
        if left or proc.poll() is None:
            raise RuntimeError(f"the appliance's processes {left or [proc.pid]} would not die (SIGKILL)")

    def close(self) -> None:
        self.kill()


# -- /proc: resources and sockets -------------------------------------------------------------


@dataclass
class ProcSample:
    t: float
    pid: int
    rss_mb: float
    fds: int
    threads: int
    sockets: dict[str, int]  # by what they are: camera, broker, api-listen, api-client, local-ipc, ...


def _endpoint(text: str, v6: bool) -> tuple[str, int]:
    addr, port = text.split(":")
    raw = bytes.fromhex(addr)
    if v6:
        ip = socket.inet_ntop(socket.AF_INET6, b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4)))
        ip = ip.removeprefix("::ffff:")  # IPv4-mapped
    else:
        ip = socket.inet_ntop(socket.AF_INET, raw[::-1])
    return ip, int(port, 16)


def read_inet_table(pid: int, name: str) -> dict[int, tuple[str, tuple[str, int], tuple[str, int], str]]:
    """inode → (table, local, remote, state) for /proc/PID/net/NAME (tcp, tcp6, udp, udp6, raw, raw6)."""
    out = {}
    v6 = name.endswith("6")
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/net/{name}").read_text().splitlines()[1:]:
            f = line.split()
            if len(f) < 10:
                continue
            out[int(f[9])] = (name, _endpoint(f[1], v6), _endpoint(f[2], v6), f[3])
    return out


def read_inode_column(pid: int, name: str, column: int) -> set[int]:
    out = set()
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/net/{name}").read_text().splitlines()[1:]:
            f = line.split()
            with contextlib.suppress(IndexError, ValueError):
                out.add(int(f[column]))
    return out


TCP_LISTEN = "0A"
UNBOUND = (("0.0.0.0", 0), ("::", 0))


class ProcSampler:
    """Every second: the appliance's RSS, fds and threads, and every socket it holds, classified."""

    def __init__(self, appliance: Appliance, api_port: int, cameras: dict[int, str], broker_port: int) -> None:
        self.samples: list[ProcSample] = []
        self.violations: list[dict[str, Any]] = []
        self.fd_changes: list[dict[str, Any]] = []  # what the fds were when their number changed
        self._last_fds: tuple[int, Counter[str]] | None = None
        self._appliance = appliance
        self._api_port = api_port
        self._cameras = cameras  # port → camera name (all on 127.0.0.1)
        self._broker = broker_port
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soak-proc", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.wait(max(0.0, next_at - time.monotonic())):
            next_at += PROC_EVERY_S
            pid = self._appliance.pid
            if pid is not None:
                with contextlib.suppress(OSError, ValueError):  # the process may be gone mid-read
                    self.samples.append(self.sample(pid))

    def sample(self, pid: int) -> ProcSample:
        t = time.time()
        status = {
            k: v.strip()
            for k, _, v in (line.partition(":") for line in Path(f"/proc/{pid}/status").read_text().splitlines())
        }
        inodes = []
        fds = 0
        targets: Counter[str] = Counter()
        for entry in os.scandir(f"/proc/{pid}/fd"):
            fds += 1
            with contextlib.suppress(OSError):
                target = os.readlink(entry.path)
                if target.startswith("socket:["):
                    inodes.append(int(target[8:-1]))
                else:
                    targets[re.sub(r"\[\d+\]|\d{6,}", "N", target)] += 1
        table: dict[int, tuple[str, tuple[str, int], tuple[str, int], str]] = {}
        for name in ("tcp", "tcp6", "udp", "udp6", "raw", "raw6"):
            table.update(read_inet_table(pid, name))
        local_ipc = read_inode_column(pid, "unix", 6) | read_inode_column(pid, "netlink", 9)
        packet = read_inode_column(pid, "packet", 8)
        kinds: Counter[str] = Counter()
        own = {table[i][1] for i in inodes if i in table}  # this process' own local endpoints
        for inode in inodes:
            if inode in table:
                kind, bad = self.classify(*table[inode], own)
                kinds[kind] += 1
                if bad:
                    proto, local, remote, state = table[inode]
                    self.violations.append(
                        {
                            "t": t,
                            "pid": pid,
                            "what": kind,
                            "proto": proto,
                            "local": f"{local[0]}:{local[1]}",
                            "remote": f"{remote[0]}:{remote[1]}",
                            "state": state,
                        }
                    )
            elif inode in packet:
                kinds["packet"] += 1
                self.violations.append({"t": t, "pid": pid, "what": "packet socket (raw link layer)"})
            elif inode in local_ipc:
                kinds["local-ipc"] += 1  # unix and netlink sockets: within this machine
            else:
                kinds["closed-meanwhile"] += 1  # gone from the tables between the two reads
        rss_kb = int(status["VmRSS"].split()[0])
        targets.update(f"socket: {kind}" for kind in kinds.elements())
        self._note_fds(t, pid, fds, targets)
        return ProcSample(t, pid, round(rss_kb / 1024, 1), fds, int(status["Threads"]), dict(kinds))

    def _note_fds(self, t: float, pid: int, fds: int, targets: Counter[str]) -> None:
        """Record what came and went when the fd count of the same process changes."""
        last = self._last_fds
        self._last_fds = (pid, targets)
        if last is None or last[0] != pid or sum(last[1].values()) == sum(targets.values()):
            return
        added, removed = targets - last[1], last[1] - targets
        self.fd_changes.append({"t": t, "pid": pid, "fds": fds, "added": dict(added), "removed": dict(removed)})

    def classify(
        self, proto: str, local: tuple[str, int], remote: tuple[str, int], state: str, own: set[tuple[str, int]]
    ) -> tuple[str, bool]:
        """(what the socket is, whether it breaks the privacy rule)."""
        loopback = remote[0] in ("127.0.0.1", "::1")
        if loopback and remote in own:
            # Both ends are this process' sockets: paho-mqtt's wake-up pipe, a TCP socket pair on
            # loopback (paho.mqtt.client._socketpair_compat). Local, and reported as such.
            return "self-pair", False
        if proto.startswith("raw"):
            return "raw socket", True
        if proto.startswith("tcp"):
            if state == TCP_LISTEN:
                ok = local[1] == self._api_port and local[0] == "127.0.0.1"
                return ("api-listen", False) if ok else (f"listening on {local[0]}:{local[1]}", True)
            if remote in UNBOUND:
                return "tcp-unconnected", False  # made, not connected yet (no peer, no port of its own)
            if local[1] == self._api_port:
                return ("api-client", False) if loopback else (f"API client from {remote[0]}", False)
        elif remote in UNBOUND:  # udp
            if local[1] == 0:
                return "udp-unbound", False
            return f"UDP bound to {local[0]}:{local[1]}", True
        if loopback and remote[1] in self._cameras:
            return "camera", False
        if loopback and remote[1] == self._broker:
            return "broker", False
        return f"{proto} connection to {remote[0]}:{remote[1]}", True


# -- strace: what was written where ---------------------------------------------------------


_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
_FD = re.compile(r"^(?:AT_FDCWD|-?\d+)<(?P<path>.*)>$")
_CALL = re.compile(r"^(?P<name>\w+)\((?P<args>.*)\)\s+=\s+(?P<ret>.*)$")
_RESUMED = re.compile(r"^<\.\.\. (?P<name>\w+) resumed>(?P<tail>.*)$")


def _split_args(text: str) -> list[str]:
    """Top-level comma split of strace's argument list (quotes, <fd paths>, {structs} kept whole)."""
    out: list[str] = []
    cur: list[str] = []
    depth, quoted, escaped = 0, False, False
    for ch in text:
        if quoted:
            cur.append(ch)
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                quoted = False
            continue
        if ch == '"':
            quoted = True
        elif ch in "<{[(":
            depth += 1
        elif ch in ">}])":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    if cur:
        out.append("".join(cur).strip())
    return out


_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|.)")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "v": "\v", "f": "\f", '"': '"', "\\": "\\"}


def _string(arg: str) -> str | None:
    """The first C-escaped string in strace's rendering of an argument, unescaped."""
    m = _STRING.search(arg)
    if m is None:
        return None

    def one(e: re.Match[str]) -> str:
        code = e.group(1)
        if code[0] == "x":
            return chr(int(code[1:], 16))
        if code[0] in "01234567":
            return chr(int(code, 8))
        return _ESCAPES.get(code, code)

    return _ESCAPE.sub(one, m.group(1))


def _resolve(dirfd: str | None, path: str, cwd: str) -> str | None:
    if path.startswith("/"):
        return os.path.normpath(path)
    if dirfd is None or dirfd.startswith("AT_FDCWD"):
        m = _FD.match(dirfd or "")
        return os.path.normpath(os.path.join(m.group("path") if m else cwd, path))
    m = _FD.match(dirfd)
    return os.path.normpath(os.path.join(m.group("path"), path)) if m else None


def _writes(name: str, args: list[str], ret: str, cwd: str) -> list[tuple[str | None, str]]:
    """(resolved path or None, the raw path) for each name this call writes, creates or removes."""
    ok_path = None
    m = re.match(r"^\d+<(?P<path>.*)>", ret)
    if m:  # -yy: "3</dev/null<char 1:3>>", "4</x/y (deleted)>"
        ok_path = re.sub(r"<(char|block) [^>]*>$", "", m.group("path")).removesuffix(" (deleted)")

    def at(dir_i: int | None, path_i: int) -> tuple[str | None, str]:
        raw = _string(args[path_i]) or args[path_i]
        return _resolve(None if dir_i is None else args[dir_i], raw, cwd), raw

    if name in ("open", "openat", "openat2"):
        path_i = 0 if name == "open" else 1
        flags = " ".join(args[path_i + 1 :])
        if not any(f in flags for f in WRITE_FLAGS):
            return []
        resolved, raw = at(None if name == "open" else 0, path_i)
        return [(ok_path or resolved, raw)]
    if name in ("creat", "unlink", "rmdir", "mkdir", "truncate"):
        return [at(None, 0)]
    if name in ("unlinkat", "mkdirat"):
        return [at(0, 1)]
    if name == "rename":
        return [at(None, 0), at(None, 1)]
    if name in ("renameat", "renameat2"):
        return [at(0, 1), at(2, 3)]
    if name == "link":
        return [at(None, 1)]
    if name == "linkat":
        return [at(2, 3)]
    if name == "symlink":
        return [at(None, 1)]
    if name == "symlinkat":
        return [at(1, 2)]
    return []


def trace_calls(traces: Sequence[Path]) -> Iterator[tuple[str, int | None, str, list[str], str]]:
    """(trace file, pid, syscall, arguments, result) for every complete call in strace -f output."""
    for trace in traces:
        pending: dict[str, str] = {}
        with trace.open(errors="replace") as lines:
            for line in lines:
                pid, _, rest = line.rstrip("\n").partition(" ")
                rest = rest.lstrip()
                if rest.endswith("<unfinished ...>"):
                    pending[pid] = rest[: -len("<unfinished ...>")].rstrip()
                    continue
                resumed = _RESUMED.match(rest)
                if resumed:
                    rest = pending.pop(pid, f"{resumed.group('name')}(") + resumed.group("tail")
                m = _CALL.match(rest)
                if m is not None:  # not a signal or an exit
                    name, args = m.group("name"), _split_args(m.group("args"))
                    yield trace.name, int(pid) if pid.isdigit() else None, name, args, m.group("ret")


def file_writes(traces: Sequence[Path], storage: str, cwd: str = "/") -> dict[str, Any]:
    """Every write-mode open, creat, rename, unlink, mkdir, ... the appliance made (strace -f -yy).

    Inside storage.path is fine; a path matching FILE_ALLOWANCES is reported with its reason;
    anything else, succeeded or refused, is a violation (a refused write still shows intent)."""
    storage = os.path.realpath(storage)
    inside = 0
    allowed: Counter[str] = Counter()
    violations: list[dict[str, Any]] = []
    calls = 0
    for trace, pid, name, args, ret in trace_calls(traces):
        calls += 1
        for arg in args:  # strace -yy shows the working directory on AT_FDCWD: follow a chdir
            m = _FD.match(arg)
            if m is not None and arg.startswith("AT_FDCWD"):
                cwd = m.group("path")
        for resolved, raw in _writes(name, args, ret, cwd):
            failed = ret.startswith("-1")
            if resolved is not None and (resolved == storage or resolved.startswith(storage + "/")):
                inside += 0 if failed else 1
                continue
            reason = next((why for rx, why in FILE_ALLOWANCES if resolved and rx.match(resolved)), None)
            if reason is not None:
                allowed[f"{re.sub(r'/[0-9]+', '/N', resolved or raw)}: {reason}"] += 1
                continue
            violations.append({"trace": trace, "pid": pid, "call": name, "path": resolved or raw, "result": ret[:80]})
    return {"calls": calls, "writes_inside": inside, "allowed": dict(allowed), "violations": violations}


_FAMILY = re.compile(r"sa_family=(AF_\w+)")
_INET4 = re.compile(r'sin_port=htons\((?P<port>\d+)\).*?sin_addr=inet_addr\("(?P<ip>[^"]+)"\)')
_INET6 = re.compile(r'sin6_port=htons\((?P<port>\d+)\).*?inet_pton\(AF_INET6, "(?P<ip>[^"]+)"')
_SUN_PATH = re.compile(r'sun_path=(@?"(?:[^"\\]|\\.)*")')
_BOUND = re.compile(r"<(?P<proto>TCP|TCPv6|UDP|UDPv6):\[(?P<local>[^\]]*?\]?):(?P<port>\d+)(?:->[^\]]*)?\]>$")


def sockaddr(text: str) -> tuple[str, str | None, int | None]:
    """(family, address, port) of strace's rendering of a struct sockaddr."""
    family = _FAMILY.search(text)
    fam = family.group(1) if family else "?"
    m = _INET4.search(text) if fam == "AF_INET" else _INET6.search(text) if fam == "AF_INET6" else None
    if m is not None:
        return fam, m.group("ip").removeprefix("::ffff:"), int(m.group("port"))
    sun = _SUN_PATH.search(text) if fam == "AF_UNIX" else None
    return fam, sun.group(1) if sun else None, None


def network_calls(traces: Sequence[Path], remotes: set[tuple[str, int]], api_port: int) -> dict[str, Any]:
    """Every socket, connect, bind and listen the appliance made: the whole record, not a sample.

    connect: to a camera or the broker only (refused attempts count too); bind: an ephemeral port, or
    the API's; listen: the API's port only; socket: no raw or packet sockets. Unix and netlink sockets
    stay on this machine and are only counted."""
    calls: Counter[str] = Counter()
    peers: Counter[str] = Counter()
    local: Counter[str] = Counter()
    violations: list[dict[str, Any]] = []
    # A listen on some other loopback port, and a connect to it from the same process: paho-mqtt's
    # wake-up pipe (a TCP socket pair made through a listener that lives for microseconds). Held back
    # until the whole trace is read, then counted as a self-pair if both halves are there.
    listened: dict[tuple[str, int], dict[str, Any]] = {}
    dialled: dict[tuple[str, int], dict[str, Any]] = {}

    def bad(trace: str, pid: int | None, name: str, what: str, ret: str) -> None:
        violations.append({"trace": trace, "pid": pid, "call": name, "what": what, "result": ret[:80]})

    for trace, pid, name, args, ret in trace_calls(traces):
        if name not in ("socket", "connect", "bind", "listen"):
            continue
        calls[name] += 1
        if name == "socket" and args:
            kind = " ".join(args[:2])
            if "AF_PACKET" in kind or "SOCK_RAW" in kind:
                bad(trace, pid, name, kind, ret)
            elif "SOCK_DGRAM" in kind and "AF_INET" in kind:
                local["UDP socket made"] += 1  # what it then does shows in connect and the socket table
            continue
        if name == "listen":
            m = _BOUND.search(args[0]) if args else None
            if m is not None and m.group("local") == "127.0.0.1" and int(m.group("port")) != api_port:
                listened[(trace, int(m.group("port")))] = {
                    "trace": trace,
                    "pid": pid,
                    "call": name,
                    "what": args[0],
                    "result": ret[:80],
                }
            elif m is None or int(m.group("port")) != api_port:
                bad(trace, pid, name, args[0] if args else "?", ret)
            continue
        fam, addr, port = sockaddr(args[1] if len(args) > 1 else "")
        if fam in ("AF_INET", "AF_INET6"):
            where = f"{addr}:{port}"
            if name == "connect":
                peers[where] += 1
                if (addr, port) not in remotes and addr == "127.0.0.1" and port is not None:
                    dialled[(trace, port)] = {
                        "trace": trace,
                        "pid": pid,
                        "call": name,
                        "what": where,
                        "result": ret[:80],
                    }
                elif (addr, port) not in remotes:
                    bad(trace, pid, name, where, ret)
            elif port not in (0, api_port) or (port == api_port and addr != "127.0.0.1"):
                bad(trace, pid, name, where, ret)  # bind: a listening port of its own
        elif fam == "AF_UNIX":
            local[f"unix {name} {addr}"] += 1
        elif fam not in ("AF_NETLINK", "AF_UNSPEC"):
            bad(trace, pid, name, fam, ret)
    pairs = set(listened) & set(dialled)
    for key in pairs:
        peers.pop(f"127.0.0.1:{key[1]}", None)
        local["self-pair (listen + connect on loopback)"] += 1
    violations += [v for k, v in listened.items() if k not in pairs] + [v for k, v in dialled.items() if k not in pairs]
    return {"calls": dict(calls), "peers": dict(peers), "local": dict(local), "violations": violations}


# -- storage: the small tmpfs and its ballast -------------------------------------------------


class Disk:
    """storage.path on a tmpfs of its own, so it can be filled without touching the machine's disk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.mounted = False
        self.ballast = path / ".soak-ballast"  # written by the soak, never by the appliance
        self.unavailable: str | None = None

    def mount(self, size_mb: int) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        mount = shutil.which("mount")
        if os.geteuid() != 0 or mount is None:
            self.unavailable = "not root" if os.geteuid() != 0 else "no mount command"
            return
        r = subprocess.run(
            [mount, "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0700", "edgewatch-soak", str(self.path)],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
        if r.returncode != 0:
            self.unavailable = f"mount -t tmpfs refused: {(r.stderr or r.stdout).strip()}"
            return
        self.mounted = True

    def free_bytes(self) -> int:
        st = os.statvfs(self.path)
        return st.f_bavail * st.f_frsize

    def fill(self, leave_kb: int) -> int:
        """Ballast up to `leave_kb` free; returns the ballast's size."""
        size = max(0, self.free_bytes() - leave_kb * 1024)
        fd = os.open(self.ballast, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            chunk = b"\0" * (1 << 20)
            left = size
            while left > 0:
                try:
                    left -= os.write(fd, chunk[: min(left, len(chunk))])
                except OSError:  # the appliance took some space meanwhile: full is what we want
                    break
        finally:
            os.close(fd)
        return size - max(0, left)

    def empty(self) -> None:
        self.ballast.unlink(missing_ok=True)

    def unmount(self) -> None:
        if not self.mounted:
            return
        umount = shutil.which("umount") or "umount"
        r = subprocess.run([umount, str(self.path)], capture_output=True, timeout=20, check=False)
        if r.returncode != 0:  # something still holds it: detach now, freed when released
            subprocess.run([umount, "-l", str(self.path)], capture_output=True, timeout=20, check=False)
        self.mounted = False


# -- the run ----------------------------------------------------------------------------------


def config_yaml(cameras: dict[str, RtspCamera], broker: Mosquitto, api_port: int, storage: Path) -> str:
    cams = "".join(f"  {name}: {{source: '{cam.url}', detect_fps: {DETECT_FPS}}}\n" for name, cam in cameras.items())
    return (
        f"node_id: {NODE}\n"
        "detector: {type: edgetpu, device: usb}\n"
        f"cameras:\n{cams}"
        f"rules:\n  - {{name: {RULE}, objects: [person], min_dwell: 1s, cooldown: 0s}}\n"
        f"mqtt: {{host: 127.0.0.1, port: {broker.port}}}\n"
        f"api: {{listen: '127.0.0.1:{api_port}'}}\n"
        f"storage: {{path: '{storage}', retain_days: 1, max_mb: 32}}\n"
    )


def clips(args: argparse.Namespace, work: Path) -> tuple[ClipInfo, ClipInfo]:
    if args.person_clip and args.empty_clip:
        person, empty = (ClipInfo.load(truth_path(Path(p))) for p in (args.person_clip, args.empty_clip))
    else:
        started = time.monotonic()
        seconds = args.clip_seconds
        person = make_clip(work / "clips/person.mp4", "person", seconds=seconds, annexb=work / "clips/person.h264")
        empty = make_clip(work / "clips/empty.mp4", "empty", seconds=seconds, annexb=work / "clips/empty.h264")
        print(
            f"clips: {person.seconds:g} s 1280x720 12 fps (person, empty), made in {time.monotonic() - started:.0f} s"
        )
    if person.annexb is None or empty.annexb is None:
        raise SystemExit("the clips need their Annex-B copies (.h264) for the RTSP server")
    return person, empty


def wait_for(what: str, predicate: Callable[[], bool], timeout: float, every: float = 0.5) -> float:
    """Seconds it took; RuntimeError after `timeout`."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise RuntimeError(f"{what}: not within {timeout:.0f} s")
        time.sleep(every)
    return time.monotonic() - start


class Soak:
    def __init__(self, args: argparse.Namespace, work: Path, stack: contextlib.ExitStack) -> None:
        self.args = args
        self.work = work
        self.stack = stack
        self.faults = schedule(args.duration)
        self.log_lines: list[str] = []
        self.ready_at: list[float] = []  # when each appliance run first answered with everything up
        self.crashes: list[dict[str, Any]] = []

    def say(self, text: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {text}"
        self.log_lines.append(line)
        print(line, flush=True)

    def setup(self) -> None:
        args, work, stack = self.args, self.work, self.stack
        self.person, self.empty = clips(args, work)
        self.disk = Disk(work / "storage")
        self.disk.mount(TMPFS_MB)
        stack.callback(self.disk.unmount)
        if self.disk.unavailable:
            self.say(f"disk-full fault SKIPPED: storage.path cannot be a tmpfs here ({self.disk.unavailable})")
        self.storage = Path(os.path.realpath(self.disk.path))
        persist = work / "mosquitto-db"
        persist.mkdir(exist_ok=True)
        self.broker = Mosquitto(log_dir=work, extra_config=["persistence true", f"persistence_location {persist}/"])
        stack.callback(self.broker.close)
        self.broker.start()
        self.cameras: dict[str, RtspCamera] = {}
        for name, kind in KINDS.items():
            clip = self.person if kind == "person" else self.empty
            assert clip.annexb is not None
            cam = RtspCamera(clip.annexb, mount=f"/{name}", fps=clip.fps, log_dir=work)
            stack.callback(cam.close)
            self.cameras[name] = cam.start()
        self.api_port = free_port()
        self.config = work / "config.yaml"
        self.config.write_text(config_yaml(self.cameras, self.broker, self.api_port, self.storage))
        # The installer's step: the admin password through the real CLI, then an API token for the poller.
        r = subprocess.run(
            [str(Path(sys.executable).with_name("edgewatch")), "passwd", "--stdin", "--config", str(self.config)],
            input=PASSWORD + "\n",
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if r.returncode != 0:
            raise RuntimeError(f"edgewatch passwd failed ({r.returncode}): {r.stderr.strip()}")
        _, self.token = Credentials(credentials_path(str(self.storage))).create_token("soak")
        assert self.broker.port is not None
        self.broker_port: int = self.broker.port
        self.hub = Hub(self.broker.port)
        stack.callback(self.hub.close)
        strace = None
        if args.strace:
            strace = shutil.which("strace")
            if strace is None:
                self.say("strace not found (Debian package `strace`): the file-write check is SKIPPED")
        self.appliance = Appliance(work, self.config, strace)
        stack.callback(self.appliance.close)
        ports = {int(c.port or 0): name for name, c in self.cameras.items()}
        self.sampler = ProcSampler(self.appliance, self.api_port, ports, self.broker.port)
        self.poller = Poller(f"http://127.0.0.1:{self.api_port}", self.token, list(self.cameras))

    # -- running ----------------------------------------------------------------------------

    def start_appliance(self, first: bool) -> None:
        pid = self.appliance.start()
        traced = ", under strace" if self.appliance.strace else ""
        self.say(f"appliance run {self.appliance.runs} started (pid {pid}{traced})")
        if first:
            took = wait_for(
                "the appliance answering with every camera online",
                lambda: self.poller.status().all_up(),
                START_TIMEOUT_S,
            )
            self.ready_at.append(time.time())
            self.say(f"appliance up: API answering, 4 cameras online, broker connected, in {took:.1f} s")

    def run(self) -> None:
        self.say(f"machine {settle(self.args.settle):.0f} % busy before the run (100 % = one core)")
        self.cpu0 = machine_cpu()
        self.sampler.start()
        self.start_appliance(first=True)
        self.stack.callback(self.sampler.stop)
        # The password works for a dashboard login (then the poller goes on with the token).
        login = httpx.post(
            f"http://127.0.0.1:{self.api_port}/api/login", json={"username": "admin", "password": PASSWORD}, timeout=10
        )
        self.login_status = login.status_code
        self.poller.start()
        self.stack.callback(self.poller.stop)
        self.t0 = time.time()
        self.say(
            f"soak: {self.args.duration:.0f} s, {len(self.faults)} faults; storage {self.storage}"
            f"{' (tmpfs ' + str(TMPFS_MB) + ' MB)' if self.disk.mounted else ''}"
        )
        actions: list[tuple[float, int, Fault, bool]] = []  # (offset, order, fault, undo)
        for i, f in enumerate(self.faults):
            actions.append((f.at, i, f, False))
            if f.kind != "appliance_kill":
                actions.append((f.at + f.hold, i, f, True))
        for offset, _, fault, undo in sorted(actions, key=lambda a: (a[0], a[1])):
            self.sleep_until(self.t0 + offset)
            (self.undo if undo else self.inject)(fault)
        self.sleep_until(self.t0 + self.args.duration)
        self.finish()

    def sleep_until(self, deadline: float) -> None:
        """Wait, watching for the appliance ending by itself: that is recorded, and it is restarted
        as systemd would (Restart=on-failure)."""
        while (left := deadline - time.time()) > 0:
            time.sleep(min(0.5, left))
            code = self.appliance.exited()
            if code is not None:
                log = self.appliance.logs[-1].read_text(errors="replace").splitlines()[-20:]
                self.crashes.append({"t": round(time.time() - self.t0, 1), "exit": code, "log": log})
                self.say(f"the appliance ENDED BY ITSELF (exit {code}); restarting it")
                self.start_appliance(first=False)

    def appliance_answering(self, timeout: float) -> bool:
        """Wait for the API (so the harness' signal handlers are installed before a signal comes)."""
        try:
            wait_for("the appliance", lambda: self.poller.status().ok, timeout)
        except RuntimeError:
            return False
        return True

    def inject(self, f: Fault) -> None:
        if f.kind == "disk_full" and not self.disk.mounted:
            f.skipped = f"storage.path is not a tmpfs ({self.disk.unavailable})"
            return
        if f.kind == "detector_hang" and not self.appliance_answering(30):
            f.skipped = "the appliance was not answering"
            return
        f.started = time.time()
        if f.kind == "camera_kill":
            self.cameras[str(f.target)].kill()
        elif f.kind == "camera_freeze":
            self.cameras[str(f.target)].freeze()
        elif f.kind == "broker_stop":
            self.broker.stop()
        elif f.kind == "detector_hang" and not self.appliance.signal(signal.SIGUSR1):
            f.skipped, f.started = "the appliance was gone", None
            return
        elif f.kind == "disk_full":
            f.notes["ballast_mb"] = round(self.disk.fill(BALLAST_LEAVES_KB) / 2**20, 1)
            f.notes["free_kb_after_fill"] = self.disk.free_bytes() // 1024
        elif f.kind == "appliance_kill":
            self.appliance.kill()
            self.start_appliance(first=False)
        self.say(f"fault: {f.name}" + (f" for {f.hold:g} s" if f.kind != "appliance_kill" else ", restarted at once"))

    def undo(self, f: Fault) -> None:
        if f.started is None:
            return
        if f.kind == "camera_kill":
            self.cameras[str(f.target)].start()
        elif f.kind == "camera_freeze":
            self.cameras[str(f.target)].thaw()
        elif f.kind == "broker_stop":
            self.broker.start()
        elif f.kind == "detector_hang":
            f.notes["replug_signalled"] = self.appliance.signal(signal.SIGUSR2)
        elif f.kind == "disk_full":
            f.notes["free_kb_before_freeing"] = self.disk.free_bytes() // 1024
            self.disk.empty()
        f.restored = time.time()
        self.say(f"undone: {f.name}")

    def finish(self) -> None:
        """Disarm (no new alerts), let the outbox drain, stop the appliance like systemd does."""
        self.t_end = time.time()
        self.say("end of the fault period: disarming, draining the outbox, stopping")
        with httpx.Client(
            base_url=f"http://127.0.0.1:{self.api_port}", headers={"Authorization": f"Bearer {self.token}"}, timeout=5
        ) as client:
            self.disarm_status = client.put("/api/mode", json={"mode": "disarmed"}).status_code

            def drained() -> bool:
                s = self.poller.status()
                return bool(s.ok and s.body and s.body["mqtt"]["connected"] and s.body["mqtt"]["outbox"] == 0)

            try:
                self.drain_s: float | None = wait_for("the outbox draining", drained, DRAIN_TIMEOUT_S)
            except RuntimeError:
                self.drain_s = None
        time.sleep(2.0)  # the hub receives what was just acknowledged
        self.poller.stop()
        self.exit_code = self.appliance.stop()
        self.sampler.stop()
        time.sleep(1.0)
        self.hub.close()
        self.cpu1 = machine_cpu()


# -- analysis ---------------------------------------------------------------------------------


def first_after(
    samples: Sequence[StatusSample], t: float, pred: Callable[[StatusSample], bool], until: float | None = None
) -> float | None:
    for s in samples:
        if s.t < t:
            continue
        if until is not None and s.t > until:
            return None
        if pred(s):
            return s.t
    return None


def slope_per_hour(points: Sequence[tuple[float, float]]) -> float | None:
    """Least-squares slope of (t in s, value) in value per hour."""
    if len(points) < 10:
        return None
    ts = [p[0] for p in points]
    vs = [p[1] for p in points]
    mt, mv = statistics.fmean(ts), statistics.fmean(vs)
    var = sum((t - mt) ** 2 for t in ts)
    if var == 0:
        return None
    return 3600 * sum((t - mt) * (v - mv) for t, v in zip(ts, vs, strict=True)) / var


def analyse(soak: Soak) -> dict[str, Any]:
    samples = soak.poller.samples
    ok = [s for s in samples if s.ok and s.body]
    faults = soak.faults
    order = sorted([f for f in faults if f.started], key=lambda f: f.started or 0)
    clip_s = soak.person.seconds

    def next_start(f: Fault) -> float:
        """A fault is measured until the next one that does not start together with it."""
        later = [g.started for g in order if g.started and f.started and g.started > f.started + 1.0]
        return min([*later, soak.t_end])

    def online(name: str) -> Callable[[StatusSample], bool]:
        return lambda s: s.ok and s.body is not None and s.cam(name)["online"]

    def offline(name: str) -> Callable[[StatusSample], bool]:
        return lambda s: s.ok and s.body is not None and not s.cam(name)["online"]

    def mqtt_up(up: bool) -> Callable[[StatusSample], bool]:
        return lambda s: s.ok and s.body is not None and bool((s.body.get("mqtt") or {}).get("connected")) == up

    def degraded(yes: bool) -> Callable[[StatusSample], bool]:
        def pred(s: StatusSample) -> bool:
            if not s.ok or s.body is None:
                return False
            d = s.body["detector"]
            return bool(d["degraded"]) if yes else (not d["degraded"] and d["backend"] == "edgetpu")

        return pred

    store_alerts, integrity = read_store(soak.storage)
    for f in order:
        assert f.started is not None
        until = next_start(f)
        f.bound_s = round(recovery_bound(f, clip_s), 1)
        base = f.restored or f.started
        seen: float | None = None
        back: float | None = None
        if f.kind in ("camera_kill", "camera_freeze"):
            seen = first_after(samples, f.started, offline(str(f.target)), until)
            back = first_after(samples, base, online(str(f.target)), until)
        elif f.kind == "broker_stop":
            seen = first_after(samples, f.started, mqtt_up(False), until)
            back = first_after(samples, base, mqtt_up(True), until)
        elif f.kind == "detector_hang":
            seen = first_after(samples, f.started, degraded(True), until)
            back = first_after(samples, base, degraded(False), until)
        elif f.kind == "disk_full":
            seen = first_after(samples, f.started, lambda s: bool(s.body and s.body["storage"]["free_mb"] < 1), until)
            stored_after = sorted(a["fired_at"] for a in store_alerts.values() if a["fired_at"] >= base)
            back = stored_after[0] if stored_after and stored_after[0] <= until else None
            f.notes["alerts_delivered_meanwhile"] = sum(1 for t, _ in soak.hub.alerts() if f.started <= t <= base)
            f.notes["alerts_stored_meanwhile"] = sum(
                1 for a in store_alerts.values() if f.started <= a["fired_at"] <= base
            )
            f.notes["storage_errors_logged"] = count_log(
                soak.appliance.logs, ("ENOSPC", "SQLITE_FULL", "No space", "full"), f.started, base + 5
            )
        elif f.kind == "appliance_kill":
            back = first_after(samples, f.started, lambda s: s.ok, until)
            full = first_after(samples, f.started, StatusSample.all_up, until)
            f.full_s = None if full is None else round(full - f.started, 1)
        f.detected_s = None if seen is None else round(seen - f.started, 1)
        f.recovered_s = None if back is None else round(back - base, 1)
        f.notes["detection_bound_s"] = detection_bound(f)
        if f.recovered_s is None and until - base < f.bound_s:
            f.notes["unmeasured"] = f"only {until - base:.0f} s until the next fault or the end"
        end = back if back is not None else base + f.bound_s
        if f.kind == "appliance_kill" and f.full_s is not None:
            end = f.started + f.full_s
        f.window_end = end + FPS_WINDOW_S + STATUS_EVERY_S  # the rates need 5 s of clean data again

    windows = [(f.started, f.window_end or soak.t_end, f) for f in order if f.started]

    def in_fault(t: float) -> Fault | None:
        return next((f for a, b, f in windows if a <= t <= b), None)

    warm = soak.t0 + (30.0 if soak.args.duration >= 240 else 8.0)
    fps: dict[str, Any] = {}
    for name in KINDS:
        steady = [s.cam(name)["fps_detect"] for s in ok if warm <= s.t <= soak.t_end and in_fault(s.t) is None]
        during: dict[str, list[float]] = {}
        for s in ok:
            g = in_fault(s.t)
            if g is not None and g.target != name and g.kind != "appliance_kill" and s.cam(name)["online"]:
                during.setdefault(g.kind, []).append(s.cam(name)["fps_detect"])
        fps[name] = {
            "samples": len(steady),
            "mean": round(statistics.fmean(steady), 2) if steady else None,
            "p5": round(sorted(steady)[len(steady) // 20], 2) if steady else None,
            "during_other_faults": {k: round(statistics.fmean(v), 2) for k, v in during.items()},
        }

    resources = []
    for i, (started, pid) in enumerate(soak.appliance.starts):
        mine = [p for p in soak.sampler.samples if p.pid == pid]
        ready = first_after(samples, started, lambda s: s.ok) or started
        settle_s = 30.0 if soak.args.duration >= 240 else 5.0
        steady = [p for p in mine if p.t >= ready + settle_s and p.t <= soak.t_end and in_fault(p.t) is None]
        # Between faults: the slope of each quiet stretch (≥ 30 s); across a fault: the step in RSS
        # (median of the 15 s after its window against the 15 s before it).
        stretches: list[list[ProcSample]] = []
        for p in steady:
            if stretches and p.t - stretches[-1][-1].t <= 3 * PROC_EVERY_S:
                stretches[-1].append(p)
            else:
                stretches.append([p])
        quiet = [slope_per_hour([(p.t, p.rss_mb) for p in x]) for x in stretches if x[-1].t - x[0].t >= 30]
        steps = {}
        for f in order:
            if f.started is None or f.window_end is None or not started <= f.started <= soak.t_end:
                continue
            before = [p.rss_mb for p in mine if f.started - 15 <= p.t < f.started]
            after = [p.rss_mb for p in mine if f.window_end < p.t <= f.window_end + 15]
            if before and after and f.kind != "appliance_kill":
                steps[f"{f.name}@{f.started - soak.t0:.0f}"] = round(
                    statistics.median(after) - statistics.median(before), 1
                )
        resources.append(
            {
                "run": i + 1,
                "pid": pid,
                "samples": len(mine),
                "steady_samples": len(steady),
                "steady_span_s": round(steady[-1].t - steady[0].t, 1) if steady else 0.0,
                "rss_mb": [mine[0].rss_mb, mine[-1].rss_mb] if mine else None,
                "rss_steady_mb": [steady[0].rss_mb, steady[-1].rss_mb] if steady else None,
                "rss_max_mb": max(p.rss_mb for p in mine) if mine else None,
                "fds_steady": [steady[0].fds, steady[-1].fds] if steady else None,
                "fds_range": [min(p.fds for p in mine), max(p.fds for p in mine)] if mine else None,
                "threads_steady": [steady[0].threads, steady[-1].threads] if steady else None,
                "rss_mb_per_h": _round(slope_per_hour([(p.t, p.rss_mb) for p in steady])),
                "fds_per_h": _round(slope_per_hour([(p.t, float(p.fds)) for p in steady])),
                "threads_per_h": _round(slope_per_hour([(p.t, float(p.threads)) for p in steady])),
                "rss_quiet_stretch_mb_per_h": [_round(q, 1) for q in quiet],
                "rss_step_across_fault_mb": steps,
            }
        )

    # Alerts: expected (stored) vs delivered (received by the hub).
    received = soak.hub.alerts()
    counts = Counter(str(body["id"]) for _, body in received)
    first_seen: dict[str, tuple[float, dict[str, Any]]] = {}
    for t, body in received:
        first_seen.setdefault(str(body["id"]), (t, body))
    stored_ids = set(store_alerts)
    lost = sorted(stored_ids - set(counts))
    unstored = sorted(set(counts) - stored_ids)
    disk_windows = [(f.started, (f.restored or f.started) + 10) for f in order if f.kind == "disk_full" and f.started]
    unexplained = [a for a in unstored if not any(x <= first_seen[a][0] <= y for x, y in disk_windows)]
    # One object (camera, rule, first seen at) alerting under two ids would be a duplicate a hub cannot
    # recognise; the id's format is not assumed.
    by_object: dict[tuple[str, str, str], set[str]] = {}
    for aid, (_, body) in first_seen.items():
        by_object.setdefault((str(body["camera"]), str(body["rule"]), str(body["started_at"])), set()).add(aid)
    twins = {" ".join(key): sorted(ids) for key, ids in by_object.items() if len(ids) > 1}
    online_s = {name: STATUS_EVERY_S * sum(1 for s in ok if s.cam(name)["online"]) for name in KINDS}
    per_camera = {name: sum(1 for a in store_alerts.values() if a["camera"] == name) for name in KINDS}
    visits = {name: round(online_s[name] / clip_s, 1) for name, kind in KINDS.items() if kind == "person"}
    late = len([aid for aid, (_, body) in first_seen.items() if body.get("late")])

    api_down = [  # from a poller timeout before the SIGKILL (a request in flight then fails) to all up again
        (f.started - 3.0, f.started + (f.full_s or f.recovered_s or f.bound_s or 0) + 2)
        for f in order
        if f.kind == "appliance_kill" and f.started
    ]
    api_errors = [
        {"t": round(s.t - soak.t0, 1), "code": s.code, "error": s.error}
        for s in samples
        if not s.ok and not any(a <= s.t <= b for a, b in api_down)
    ]
    # latest.jpg: a JPEG, or 404 "no frame yet" while a fault is on (a restarted appliance has none yet).
    jpeg_bad = [
        j
        for j in soak.poller.jpegs
        if not any(a <= j[0] <= b for a, b in api_down)
        and not (j[2] == 200 and j[4])
        and not (j[2] == 404 and in_fault(j[0]))
    ]

    traces = soak.appliance.traces
    files = file_writes(traces, str(soak.storage)) if soak.appliance.strace else None
    remotes = {("127.0.0.1", int(c.port or 0)) for c in soak.cameras.values()} | {("127.0.0.1", soak.broker_port)}
    network = network_calls(traces, remotes, soak.api_port) if soak.appliance.strace else None
    busy = soak.cpu1[0] - soak.cpu0[0]
    total = soak.cpu1[1] - soak.cpu0[1]
    result: dict[str, Any] = {
        "machine": machine_line(),
        "machine_busy_pct": round(100 * (os.cpu_count() or 1) * busy / total, 0) if total else None,
        "duration_s": soak.args.duration,
        "clip_s": clip_s,
        "strace": bool(soak.appliance.strace),
        "tmpfs": soak.disk.mounted,
        "tmpfs_note": soak.disk.unavailable,
        "faults": [fault_dict(f, soak.t0) for f in faults],
        "alerts": {
            "stored": len(stored_ids),
            "delivered": len(counts),
            "lost": lost,
            "received_twice": {a: n for a, n in counts.items() if n > 1},
            "delivered_not_stored_disk_full": [a for a in unstored if a not in unexplained],
            "delivered_not_stored_unexplained": unexplained,
            "same_object_different_ids": twins,
            "late": late,
            "per_camera": per_camera,
            "person_visits_online": visits,
        },
        "fps": fps,
        "resources": resources,
        "storage_used_mb": [s.body["storage"]["used_mb"] for s in (ok[0], ok[-1]) if s.body] if ok else None,
        "privacy": {
            "socket_samples": len(soak.sampler.samples),
            "socket_kinds_seen": dict(sum((Counter(p.sockets) for p in soak.sampler.samples), Counter())),
            "socket_violations": soak.sampler.violations[:50],
            "socket_violation_count": len(soak.sampler.violations),
            "files": files,
            "network": network,
            "mqtt_messages": len(soak.hub.messages),
            "mqtt_images": soak.hub.images[:20],
        },
        "api": {
            "status_samples": len(samples),
            "errors_outside_restart": api_errors[:50],
            "latest_jpg": len(soak.poller.jpegs),
            "latest_jpg_bad": jpeg_bad[:20],
            "login_status": soak.login_status,
            "disarm_status": soak.disarm_status,
        },
        "stop": {
            "drain_s": None if soak.drain_s is None else round(soak.drain_s, 1),
            "exit_code": soak.exit_code,
            "integrity": integrity,
            "runs": soak.appliance.runs,
        },
        "unexpected_exits": soak.crashes,
        "fd_changes": [{**c, "t": round(c["t"] - soak.t0, 1)} for c in soak.sampler.fd_changes[:300]],
        "series": [
            [round(p.t - soak.t0, 1), p.pid, p.rss_mb, p.fds, p.threads] for p in soak.sampler.samples
        ],  # t (s from the start), pid, RSS MB, fds, threads
        "hub_connects": [(round(t - soak.t0, 1), present) for t, present in soak.hub.connects],
    }
    result["checks"] = checks(result)
    return result


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def fault_dict(f: Fault, t0: float) -> dict[str, Any]:
    d = asdict(f)
    d["name"] = f.name
    for key in ("started", "restored", "window_end"):
        d[key] = None if d[key] is None else round(d[key] - t0, 1)
    d["at"] = round(f.at, 1)
    return d


def count_log(logs: Sequence[Path], needles: Sequence[str], start: float, end: float) -> int:
    """Lines of the appliance's log between two wall-clock times that mention one of `needles`."""
    n = 0
    for log in logs:
        with contextlib.suppress(OSError):
            for line in log.read_text(errors="replace").splitlines():
                try:  # "2026-11-25 02:45:01,123 WARNING ...": logging's asctime, local time
                    t = time.mktime(time.strptime(line[:19], "%Y-%m-%d %H:%M:%S")) + int(line[20:23]) / 1000
                except ValueError:
                    continue
                if start <= t <= end and any(x in line for x in needles):
                    n += 1
    return n


def read_store(storage: Path) -> tuple[dict[str, dict[str, Any]], str]:
    """Every alert committed in the store, read after the appliance has stopped, and an integrity check."""
    conn = sqlite3.connect(storage / DB_NAME)
    try:
        integrity = str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()
    with Store(storage, retain_days=1, max_mb=32) as store:
        rows = store.alert_log(since=None, limit=MAX_LIMIT)
    if len(rows) >= MAX_LIMIT:
        raise RuntimeError(f"{MAX_LIMIT} alerts or more: the store lists only {MAX_LIMIT} at once")
    return {
        a.id: {"camera": a.camera, "event_id": a.event_id, "fired_at": a.fired_at, "delivered_at": d} for a, d in rows
    }, integrity


def machine_line() -> str:
    model = ""
    with contextlib.suppress(OSError):
        model = next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            "",
        )
    return f"{platform.machine()} {model}, {os.cpu_count()} cores".strip()


def checks(r: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each check: ok and what it saw. Bounds for growth are for the steady samples of the longest run."""
    out: dict[str, dict[str, Any]] = {}

    def check(name: str, ok: bool, detail: Any) -> None:
        out[name] = {"ok": bool(ok), "detail": detail}

    a = r["alerts"]
    check(
        "alerts_fired",
        sum(a["per_camera"][c] for c, k in KINDS.items() if k == "person") >= 2,
        f"{a['stored']} stored: without alerts 'none lost' would prove nothing",
    )
    check("no_alert_lost", not a["lost"], a["lost"] or f"all {a['stored']} stored alerts delivered")
    check(
        "duplicates_only_same_id",
        not a["same_object_different_ids"] and not a["delivered_not_stored_unexplained"],
        {
            "twins": a["same_object_different_ids"],
            "unexplained": a["delivered_not_stored_unexplained"],
            "same id twice (allowed)": len(a["received_twice"]),
        },
    )
    slow = []
    for f in r["faults"]:
        if f["skipped"]:
            continue
        if f["recovered_s"] is None or f["recovered_s"] > f["bound_s"]:
            slow.append(f"{f['name']}: recovered {f['recovered_s']} s > bound {f['bound_s']} s")
        det = f["notes"].get("detection_bound_s")
        if det is not None and (f["detected_s"] is None or f["detected_s"] > det):
            slow.append(f"{f['name']}: shown after {f['detected_s']} s > bound {det} s")
    check("faults_recovered", not slow, slow or "every fault shown and recovered within its bound")
    p = r["privacy"]
    check(
        "privacy_sockets",
        p["socket_samples"] > 0 and p["socket_violation_count"] == 0,
        p["socket_violations"][:5] or f"{p['socket_samples']} samples: {p['socket_kinds_seen']}",
    )
    files = p["files"]
    if files is not None:
        check(
            "privacy_files",
            files["writes_inside"] > 0 and not files["violations"],
            files["violations"][:10]
            or f"{files['writes_inside']} writes, all in storage.path; allowed: {files['allowed']}",
        )
    net = p["network"]
    if net is not None:
        check(
            "privacy_network_trace",
            net["calls"].get("connect", 0) > 0 and not net["violations"],
            net["violations"][:10] or f"connects to {net['peers']}; local: {net['local']}",
        )
    check("privacy_mqtt_no_images", not p["mqtt_images"], p["mqtt_images"] or f"{p['mqtt_messages']} messages")
    api = r["api"]
    check(
        "api_answers",
        not api["errors_outside_restart"]
        and not api["latest_jpg_bad"]
        and api["login_status"] == 204
        and api["disarm_status"] in (200, 204),
        {k: api[k] for k in ("errors_outside_restart", "latest_jpg_bad", "login_status", "disarm_status")},
    )
    fps_low = {c: v["mean"] for c, v in r["fps"].items() if v["mean"] is None or v["mean"] < 0.9 * DETECT_FPS}
    check("fps_held", not fps_low, fps_low or {c: v["mean"] for c, v in r["fps"].items()})
    runs = [x for x in r["resources"] if x["steady_samples"] >= 10]
    longest = max(runs, key=lambda x: x["steady_span_s"], default=None)
    if longest is None:
        check("no_growth", False, "no run had 10 steady samples")
    else:
        fd0, fd1 = longest["fds_steady"]
        rss0, rss1 = longest["rss_steady_mb"]
        check(
            "no_growth",
            fd1 - fd0 <= MAX_FD_GROWTH and rss1 - rss0 <= MAX_RSS_GROWTH_MB,
            f"run {longest['run']} over {longest['steady_span_s']:.0f} s steady: fds {fd0} → {fd1} "
            f"(≤ +{MAX_FD_GROWTH}), RSS {rss0} → {rss1} MB (≤ +{MAX_RSS_GROWTH_MB})",
        )
    check("no_unexpected_exit", not r["unexpected_exits"], r["unexpected_exits"] or "only the planned SIGKILL")
    stop = r["stop"]
    check("clean_stop", stop["exit_code"] == 0 and stop["drain_s"] is not None and stop["integrity"] == "ok", stop)
    return out


# -- report -----------------------------------------------------------------------------------


def report(r: dict[str, Any]) -> None:
    print(
        f"\nmachine: {r['machine']}; {r['duration_s']:.0f} s soak; machine {r['machine_busy_pct']} % busy "
        f"(100 % = one core; appliance, cameras, broker, soak)"
    )
    print(
        f"strace on the appliance: {'yes' if r['strace'] else 'NO'}; storage on a tmpfs: "
        f"{'yes' if r['tmpfs'] else 'NO (' + str(r['tmpfs_note']) + ')'}"
    )
    a = r["alerts"]
    print(
        f"\nalerts: {a['stored']} stored (expected), {a['delivered']} delivered (distinct ids), "
        f"{len(a['lost'])} lost, {len(a['received_twice'])} received twice (same id), {a['late']} marked late"
    )
    print(
        f"    per camera stored: {a['per_camera']}; person visits while online (clip loops): "
        f"{a['person_visits_online']}"
    )
    if a["delivered_not_stored_disk_full"]:
        print(
            f"    delivered but not stored (store refused them while the disk was full): "
            f"{len(a['delivered_not_stored_disk_full'])}"
        )
    for key in ("lost", "delivered_not_stored_unexplained", "same_object_different_ids"):
        if a[key]:
            print(f"    {key}: {a[key]}")
    print("\nfault                 at s   held s  shown after s  recovered s  bound s  notes")
    for f in r["faults"]:
        if f["skipped"]:
            print(f"{f['name']:<20} {f['at']:>6.0f}   SKIPPED: {f['skipped']}")
            continue
        rec = "-" if f["recovered_s"] is None else f"{f['recovered_s']:.1f}"
        det = "-" if f["detected_s"] is None else f"{f['detected_s']:.1f}"
        notes = {k: v for k, v in f["notes"].items() if k != "detection_bound_s"}
        if f["full_s"] is not None:
            notes["all up again after s"] = f["full_s"]
        print(
            f"{f['name']:<20} {f['started']:>6.1f} {f['hold']:>8.0f} {det:>14} {rec:>12} {f['bound_s']:>8.1f}  "
            f"{notes or ''}"
        )
    print("\nfps detect (target 5) outside fault windows, per camera: mean / p5 (samples); during other faults")
    for cam, v in r["fps"].items():
        print(f"    {cam}: {v['mean']} / {v['p5']} ({v['samples']}); {v['during_other_faults']}")
    print("\nappliance resources per run (steady: all up, no fault, after warm-up)")
    for x in r["resources"]:
        print(
            f"    run {x['run']} (pid {x['pid']}): RSS first/last {x['rss_mb']} MB, steady {x['rss_steady_mb']} MB, "
            f"max {x['rss_max_mb']} MB, slope {x['rss_mb_per_h']} MB/h; fds steady {x['fds_steady']} "
            f"(range {x['fds_range']}), slope {x['fds_per_h']}/h; threads steady {x['threads_steady']}, "
            f"slope {x['threads_per_h']}/h; {x['steady_samples']} steady samples over {x['steady_span_s']:.0f} s"
        )
        print(
            f"        RSS slope within each quiet stretch (MB/h): {x['rss_quiet_stretch_mb_per_h']}; "
            f"RSS step across each fault (MB): {x['rss_step_across_fault_mb']}"
        )
    p = r["privacy"]
    print(
        f"\nprivacy: {p['socket_samples']} socket samples; sockets seen (sample-count): {p['socket_kinds_seen']}; "
        f"{p['socket_violation_count']} violations"
    )
    for v in p["socket_violations"][:10]:
        print(f"    {v}")
    if p["files"] is not None:
        files = p["files"]
        print(
            f"    files (strace): {files['calls']} traced calls, {files['writes_inside']} writes in storage.path, "
            f"{len(files['violations'])} outside"
        )
        for key, n in files["allowed"].items():
            print(f"    allowed x{n}: {key}")
        for v in files["violations"][:20]:
            print(f"    OUTSIDE: {v}")
    if p["network"] is not None:
        net = p["network"]
        print(
            f"    network (strace, every call): {net['calls']}; connects to {net['peers']}; local {net['local']}; "
            f"{len(net['violations'])} violations"
        )
        for v in net["violations"][:20]:
            print(f"    NETWORK: {v}")
    print(f"    MQTT: {p['mqtt_messages']} messages to the hub, {len(p['mqtt_images'])} images")
    api = r["api"]
    print(
        f"\nAPI: {api['status_samples']} status polls, {api['latest_jpg']} latest.jpg; errors outside the restart: "
        f"{len(api['errors_outside_restart'])}; bad latest.jpg: {len(api['latest_jpg_bad'])}"
    )
    print(f"storage used (status, first → last): {r['storage_used_mb']} MB")
    s = r["stop"]
    print(
        f"stop: outbox drained in {s['drain_s']} s, exit code {s['exit_code']}, integrity {s['integrity']}, "
        f"{s['runs']} appliance runs"
    )
    print("\nchecks:")
    for name, c in r["checks"].items():
        print(f"    {'ok  ' if c['ok'] else 'FAIL'} {name}: {c['detail']}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of faults and load (default 600)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument(
        "--work",
        type=Path,
        default=None,
        help="keep clips, logs and traces here (default: a temporary folder, removed when every check passed)",
    )
    parser.add_argument("--settle", type=float, default=120.0, help="at most this long, wait for a quiet machine")
    parser.add_argument(
        "--strace",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run the appliance under strace for the file-write check (default: on)",
    )
    parser.add_argument(
        "--clip-seconds",
        type=float,
        default=12.0,
        help="clip length: one person visit per loop on cam0 and cam2 (default 12; 6 s is a very busy porch)",
    )
    parser.add_argument("--person-clip", type=Path, help="an existing person clip (MP4 from app.demo.clip)")
    parser.add_argument("--empty-clip", type=Path, help="an existing empty clip (MP4 from app.demo.clip)")
    args = parser.parse_args(argv)
    if args.duration < 60:
        parser.error("--duration must be at least 60 s")

    def on_term(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)  # unwind: everything started is stopped on the way out

    signal.signal(signal.SIGTERM, on_term)
    own = args.work is None
    work = Path(tempfile.mkdtemp(prefix="edgewatch-soak-")) if own else args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    print(f"work folder: {work}", flush=True)
    result: dict[str, Any] | None = None
    try:
        with contextlib.ExitStack() as stack:
            soak = Soak(args, work, stack)
            soak.setup()
            soak.run()
            result = analyse(soak)
    finally:
        passed = result is not None and all(c["ok"] for c in result["checks"].values())
        if own and passed:
            shutil.rmtree(work, ignore_errors=True)
        elif result is not None:
            print(f"work folder kept: {work}")
    assert result is not None
    report(result)
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=1, default=str) + "\n")
    return 0 if all(c["ok"] for c in result["checks"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
