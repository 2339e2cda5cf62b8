"""The appliance as a real process (bench/soak_app.py, under strace when asked), and the /proc
reading that finds it and makes sure nothing of a run outlives it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from soaklib.scene import APP_SCRIPT
from soaklib.timings import unit_seconds

STOP_TIMEOUT_S = unit_seconds("TimeoutStopSec")  # systemd's SIGTERM-to-SIGKILL wait for the unit
STRACE_CALLS = (
    # what writes, creates or removes a file name ...
    "open,openat,openat2,creat,rename,renameat,renameat2,unlink,unlinkat,rmdir,"
    "mkdir,mkdirat,link,linkat,symlink,symlinkat,truncate,"
    # ... and every way to reach or be reached over the network (all rare calls: --seccomp-bpf stops
    # the process only for these, so the cameras' reads and the API's sends run untraced)
    "socket,connect,bind,listen"
)

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
