"""A real MQTT broker for tests: `Mosquitto` runs Debian's mosquitto on a free loopback port.

    with Mosquitto(log_dir=tmp_path) as broker:           # started; killed on exit whatever happens
        client.connect(broker.host, broker.port)
        broker.stop(); broker.start()                    # down, then back on the SAME port
        broker.freeze(); broker.thaw()                   # SIGSTOP / SIGCONT: alive but silent
        broker.kill()                                    # SIGKILL: like the broker box losing power

    Mosquitto(users={"edge": "secret"}, acl="user edge\\ntopic readwrite edgewatch/#\\n")
                                                         # password file + ACL, anonymous refused

Each start writes a fresh config (`listener PORT 127.0.0.1`, `persistence false`, so a
restarted broker has no retained messages or sessions) and appends the broker's log to
`log_path`. Ready means it accepts a TCP connection (~15 ms). Every wait has a timeout; the
process is killed by `__exit__`, `close()`, or, failing those, a finalizer.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.support.process import OwnedProcess

MOSQUITTO = "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = "/usr/bin/mosquitto_passwd"
HOST = "127.0.0.1"


class MosquittoError(RuntimeError):
    """The broker would not start."""


def free_port() -> int:
    """A loopback TCP port that was free a moment ago (the caller retries if it is taken meanwhile)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


class Mosquitto(OwnedProcess):
    """Mosquitto on 127.0.0.1:`port`; anonymous unless `users` (name → password) is given."""

    error = MosquittoError
    what = "mosquitto"

    host = HOST

    def __init__(
        self,
        *,
        port: int = 0,
        users: Mapping[str, str] | None = None,
        acl: str | None = None,
        extra_config: Sequence[str] = (),
        log_dir: Path | None = None,
        start_timeout: float = 10.0,
    ) -> None:
        super().__init__()
        self.port: int | None = port or None  # the port asked for, then the one bound (kept across restarts)
        self.users = dict(users) if users is not None else None
        self.acl = acl
        self.extra_config = tuple(extra_config)
        self.start_timeout = start_timeout
        self._own_dir: tempfile.TemporaryDirectory[str] | None = None
        if log_dir is None:
            self._own_dir = tempfile.TemporaryDirectory(prefix="mosquitto-")
            log_dir = Path(self._own_dir.name)
        self.dir = Path(log_dir) / f"mosquitto-{id(self):x}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.dir / "mosquitto.log"
        self.starts = 0  # how many times a broker process became ready

    # -- state ----------------------------------------------------------------------------

    def log(self) -> str:
        """Everything the broker logged, across restarts."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> Mosquitto:
        """Start the broker; return when it accepts TCP connections. Reuses `port` once one is bound."""
        if self.running:
            raise MosquittoError(f"mosquitto is already running (pid {self.pid})")
        if not Path(MOSQUITTO).exists():
            raise MosquittoError(f"{MOSQUITTO} not found (install: apt-get install mosquitto)")
        deadline = time.monotonic() + self.start_timeout
        fixed = self.port is not None
        while True:
            port = self.port if self.port is not None else free_port()
            ok, detail = self._try_start(port, deadline)
            if ok:
                self.port = port
                self.starts += 1
                return self
            in_use = "Address already in use" in detail or f"[Errno {errno.EADDRINUSE}]" in detail
            if in_use and time.monotonic() < deadline:
                # A free-picked port was taken between probe and bind: pick another. A fixed port
                # (a restart) is retried: its old socket may still be closing.
                time.sleep(0.05 if fixed else 0)
                continue
            raise MosquittoError(f"mosquitto did not start on port {port}: {detail}\n--- broker log ---\n{self.log()}")

    def _write_config(self, port: int) -> Path:
        lines = [
            f"listener {port} {HOST}",
            "persistence false",
            "log_dest stderr",
            "log_type all",
            "log_timestamp true",
            "user root",  # else it drops to a user that cannot read the temp dir
        ]
        if self.users is None:
            lines.append("allow_anonymous true")
        else:
            passwords = self.dir / "passwords"
            passwords.unlink(missing_ok=True)
            for i, (name, password) in enumerate(self.users.items()):
                args = [MOSQUITTO_PASSWD, "-b", *(["-c"] if i == 0 else []), str(passwords), name, password]
                subprocess.run(args, check=True, capture_output=True, timeout=10)
            passwords.chmod(0o600)
            lines += ["allow_anonymous false", f"password_file {passwords}"]
        if self.acl is not None:
            acl = self.dir / "acl"
            acl.write_text(self.acl)
            lines.append(f"acl_file {acl}")
        lines += self.extra_config
        conf = self.dir / "mosquitto.conf"
        conf.write_text("\n".join(lines) + "\n")
        return conf

    def _try_start(self, port: int, deadline: float) -> tuple[bool, str]:
        """(True, "") when ready; else (False, what happened)."""
        conf = self._write_config(port)
        mark = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            log.write(f"--- start port {port}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                [MOSQUITTO, "-c", str(conf)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        self._adopt(proc)
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                code = proc.wait()
                self._reap(kill=True)
                return False, f"exited with status {code}: {self.log()[mark:].strip()}"
            with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
                return True, ""
            time.sleep(0.01)
        self._reap(kill=True)
        return False, f"not accepting connections within {self.start_timeout:.0f} s"

    def _cleanup(self) -> None:
        if self._own_dir is not None:
            self._own_dir.cleanup()
            self._own_dir = None

    def __repr__(self) -> str:
        state = "frozen" if self.frozen else "running" if self.running else "stopped"
        return f"Mosquitto(port={self.port}, {state}, pid={self.pid})"


@contextlib.contextmanager
def mosquitto(**kwargs: Any) -> Iterator[Mosquitto]:
    """`with mosquitto() as broker:` — started, and killed on exit (kwargs: `Mosquitto`'s)."""
    broker = Mosquitto(**kwargs)
    try:
        yield broker.start()
    finally:
        broker.close()


@pytest.fixture
def mosquitto_broker(tmp_path: Path) -> Iterator[Callable[..., Mosquitto]]:
    """A factory of `Mosquitto` brokers (kwargs: `Mosquitto`'s, plus `start=False` to only pick a port).

    All are killed at teardown. Logs go to the test's tmp_path, so a failing test's broker
    log survives for inspection.
    """
    brokers: list[Mosquitto] = []

    def make(*, start: bool = True, **kwargs: Any) -> Mosquitto:
        kwargs.setdefault("log_dir", tmp_path)
        broker = Mosquitto(**kwargs)
        brokers.append(broker)
        if start:
            return broker.start()
        if broker.port is None:
            broker.port = free_port()  # not started: a port for a client to fail against, then start()
        return broker

    yield make
    for broker in brokers:
        broker.close()
