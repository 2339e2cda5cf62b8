"""A server process a test owns: started by the subclass; stopped, killed, frozen and thawed
here; never left behind (killed by `close()`, `__exit__`, or a finalizer at garbage collection)."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import weakref
from types import TracebackType
from typing import Self


def kill_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL and reap (works on a stopped process too); used by the finalizer."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
    if proc.stdout is not None:
        proc.stdout.close()


class OwnedProcess:
    error: type[Exception] = RuntimeError  # what `_require_running` raises
    what = "the process"

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._finalizer: weakref.finalize[[subprocess.Popen[bytes]], OwnedProcess] | None = None
        self.frozen = False

    def start(self) -> Self:
        raise NotImplementedError

    def _cleanup(self) -> None:
        """What `close()` removes besides the process (its own temporary folder)."""

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    @property
    def running(self) -> bool:
        """The process exists (it may be frozen)."""
        return self._proc is not None and self._proc.poll() is None

    def _adopt(self, proc: subprocess.Popen[bytes]) -> None:
        self._proc = proc
        self.frozen = False
        self._finalizer = weakref.finalize(self, kill_process, proc)

    def _reap(self, *, kill: bool, timeout: float = 5.0) -> None:
        proc = self._proc
        if proc is None:
            return
        if kill:
            kill_process(proc)
        else:
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                kill_process(proc)
        if proc.stdout is not None:
            proc.stdout.close()
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        self._proc = None
        self.frozen = False

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM (a clean shutdown), SIGKILL after `timeout`. No-op when not running."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
                if self.frozen:
                    proc.send_signal(signal.SIGCONT)  # a stopped process acts on SIGTERM only once resumed
        self._reap(kill=False, timeout=timeout)

    def kill(self) -> None:
        """SIGKILL, like the box losing power; returns when the process is gone."""
        self._reap(kill=True)

    def freeze(self) -> None:
        """SIGSTOP: connections stay open and nothing is answered, like a pulled cable."""
        self._require_running().send_signal(signal.SIGSTOP)
        self.frozen = True

    def thaw(self) -> None:
        """SIGCONT after `freeze()`."""
        self._require_running().send_signal(signal.SIGCONT)
        self.frozen = False

    def restart(self) -> Self:
        """Kill the process if it still runs, then start it again (on the same port)."""
        self.kill()
        return self.start()

    def close(self) -> None:
        self.kill()
        self._cleanup()

    def _require_running(self) -> subprocess.Popen[bytes]:
        if self._proc is None or self._proc.poll() is not None:
            raise self.error(f"{self.what} is not running")
        return self._proc

    def __enter__(self) -> Self:
        return self if self.running else self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
