"""A real RTSP camera for tests: `RtspCamera` runs `rtsp_server.py` as a subprocess.

    with RtspCamera(clip.annexb) as camera:     # started; killed on exit whatever happens
        cap = open_capture(camera.url)          # rtsp://127.0.0.1:PORT/cam
        camera.kill()                           # SIGKILL: like the camera losing power
        camera.restart()                        # back on the same port
        camera.freeze(); camera.thaw()          # SIGSTOP / SIGCONT: like a pulled cable

The server runs under Debian's system Python (`/usr/bin/python3`, which has GStreamer
through `gi`), never the venv's. It is ready when it has printed its port and accepts
a TCP connection. Every wait has a timeout; the process is killed by `__exit__`,
`close()`, or, failing those, a finalizer at garbage collection or interpreter exit.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import pytest

from tests.support.process import OwnedProcess

SERVER_SCRIPT = Path(__file__).resolve().with_name("rtsp_server.py")
SYSTEM_PYTHON = "/usr/bin/python3"
HOST = "127.0.0.1"
EXIT_BIND = 3  # rtsp_server.py: the port could not be bound
EXIT_NO_GSTREAMER = 4
DEBIAN_PACKAGES = (
    "python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad"
)
CAPTURE_OPTIONS = "rtsp_transport;tcp|analyzeduration;500000|probesize;65536"


class RtspServerError(RuntimeError):
    """The RTSP server would not start, or would not stop."""


class RtspCamera(OwnedProcess):
    """An RTSP server on 127.0.0.1 looping a raw Annex-B H.264 clip at `url`."""

    error = RtspServerError
    what = "the RTSP camera"

    def __init__(
        self,
        clip: Path,
        *,
        mount: str = "/cam",
        fps: int = 12,
        port: int = 0,
        start_timeout: float = 15.0,
        log_dir: Path | None = None,
        python: str = SYSTEM_PYTHON,
    ) -> None:
        super().__init__()
        self.clip = Path(clip)
        self.mount = mount if mount.startswith("/") else "/" + mount
        self.fps = fps
        self.port: int | None = port or None  # the port asked for, then the one bound
        self.start_timeout = start_timeout
        self.python = python
        self._own_log_dir: tempfile.TemporaryDirectory[str] | None = None
        if log_dir is None:
            self._own_log_dir = tempfile.TemporaryDirectory(prefix="rtsp-camera-")
            log_dir = Path(self._own_log_dir.name)
        self.log_path = Path(log_dir) / f"rtsp-server-{id(self):x}.log"
        self.starts = 0  # how many times a server process became ready

    # -- state ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self.port is None:
            raise RtspServerError("the RTSP camera has not been started")
        return f"rtsp://{HOST}:{self.port}{self.mount}"

    def log(self) -> str:
        """What the server wrote on stderr (GStreamer warnings, errors), across restarts."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> RtspCamera:
        """Start the server; return when it accepts TCP connections. Reuses `port` if set."""
        if self.running:
            raise RtspServerError(f"the RTSP camera is already running (pid {self.pid})")
        if not self.clip.is_file():
            raise RtspServerError(f"no such clip: {self.clip}")
        if not Path(self.python).exists():
            raise RtspServerError(f"{self.python} not found: the RTSP server needs Debian's Python with GStreamer")
        deadline = time.monotonic() + self.start_timeout
        wanted = self.port or 0
        while True:
            code, detail = self._try_start(wanted, deadline)
            if code is None:
                self.starts += 1
                return self
            if code == EXIT_BIND and wanted and time.monotonic() < deadline:
                time.sleep(0.1)  # the old server's socket is still being torn down: retry
                continue
            hint = f" (install: apt-get install {DEBIAN_PACKAGES})" if code == EXIT_NO_GSTREAMER else ""
            raise RtspServerError(f"RTSP server did not start: {detail}{hint}\n--- server log ---\n{self.log()}")

    def _try_start(self, port: int, deadline: float) -> tuple[int | None, str]:
        """(None, "") when ready; else (exit code or -1 on timeout, what happened)."""
        args = [self.python, "-I", str(SERVER_SCRIPT), str(self.clip), "--port", str(port)]
        args += ["--mount", self.mount, "--fps", str(self.fps)]
        with self.log_path.open("ab") as log:
            log.write(f"--- start {' '.join(args)}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, start_new_session=True
            )
        self._adopt(proc)
        line = self._read_line(proc, deadline)
        if line is None:
            if proc.poll() is None:
                self._reap(kill=True)
                return -1, f"no PORT line within {self.start_timeout:.0f} s"
            code = proc.wait()
            self._reap(kill=True)
            return code, f"exited with status {code}"
        if not line.startswith("PORT "):
            self._reap(kill=True)
            return -1, f"unexpected first line {line!r}"
        bound = int(line.split()[1])
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                code = proc.wait()
                self._reap(kill=True)
                return code, f"exited with status {code} after printing its port"
            with contextlib.suppress(OSError), socket.create_connection((HOST, bound), timeout=0.5):
                self.port = bound
                return None, ""
            time.sleep(0.02)
        self._reap(kill=True)
        return -1, f"port {bound} printed but not accepting connections"

    @staticmethod
    def _read_line(proc: subprocess.Popen[bytes], deadline: float) -> str | None:
        """The first stdout line, or None on EOF (it exited) or at the deadline."""
        assert proc.stdout is not None
        buf = b""
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            while b"\n" not in buf:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(timeout=left):
                    return None
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    return None
                buf += chunk
        return buf.split(b"\n", 1)[0].decode(errors="replace").strip()

    def _cleanup(self) -> None:
        if self._own_log_dir is not None:
            self._own_log_dir.cleanup()
            self._own_log_dir = None

    def __repr__(self) -> str:
        state = "frozen" if self.frozen else "running" if self.running else "stopped"
        return f"RtspCamera({self.clip.name}, port={self.port}, {state}, pid={self.pid})"


@contextlib.contextmanager
def rtsp_camera(clip: Path, **kwargs: Any) -> Iterator[RtspCamera]:
    """`with rtsp_camera(path) as camera:` — started, and killed on exit (kwargs: `RtspCamera`'s)."""
    camera = RtspCamera(clip, **kwargs)
    try:
        yield camera.start()
    finally:
        camera.close()


def open_capture(url: str, timeout_ms: int = 3000) -> cv2.VideoCapture:
    """OpenCV's FFmpeg RTSP capture as test-infra.md recommends: TCP, short probing, timeouts.

    Sets OPENCV_FFMPEG_CAPTURE_OPTIONS in this process (OpenCV reads it at each open).
    """
    os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = CAPTURE_OPTIONS
    return cv2.VideoCapture(
        url, cv2.CAP_FFMPEG, [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout_ms]
    )


@pytest.fixture
def rtsp_cameras(tmp_path: Path) -> Iterator[Callable[..., RtspCamera]]:
    """A factory of started `RtspCamera`s (kwargs: `RtspCamera`'s); all are killed at teardown.

    Logs go to the test's tmp_path, so a failing test's server log survives for inspection.
    """
    cameras: list[RtspCamera] = []

    def make(clip: Path, **kwargs: Any) -> RtspCamera:
        kwargs.setdefault("log_dir", tmp_path)
        camera = RtspCamera(clip, **kwargs)
        cameras.append(camera)
        return camera.start()

    yield make
    for camera in cameras:
        camera.close()
