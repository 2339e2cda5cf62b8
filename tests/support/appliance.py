"""`edgewatch run` as a real process for tests: its admin password set with `edgewatch passwd
--stdin`, its API on a free loopback port, its log (stderr) kept in a file, its peak memory
read from /proc, logged in over HTTP.

    with Appliance(tmp_path, cameras={"door": url}) as box:
        status = box.wait_for_status(lambda s: ..., timeout=30)
        log = box.stop()
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

EDGEWATCH = str(Path(sys.executable).with_name("edgewatch"))
PASSWORD = "correct horse battery staple"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Appliance:
    def __init__(self, folder: Path, cameras: dict[str, str], extra: str = "") -> None:
        self.port = free_port()
        self.config = folder / "edgewatch.yaml"
        lines = "".join(f"  {name}: {{source: '{url}', detect_fps: 2}}\n" for name, url in cameras.items())
        self.config.write_text(
            f"node_id: test-box\ncameras:\n{lines}detector: {{type: cpu}}\n"
            f"api: {{listen: '127.0.0.1:{self.port}', allow: [loopback]}}\n"
            f"storage: {{path: '{folder / 'state'}'}}\n{extra}"
        )
        self.log_path = folder / "edgewatch.log"
        self.base = f"http://127.0.0.1:{self.port}"
        self._proc: subprocess.Popen[bytes] | None = None
        self._client: httpx.Client | None = None

    def start(self) -> Self:
        passwd = subprocess.run(
            [EDGEWATCH, "passwd", "--config", str(self.config), "--stdin"],
            input=PASSWORD + "\n", capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert passwd.returncode == 0, passwd.stderr
        with self.log_path.open("wb") as log:
            self._proc = subprocess.Popen(
                [EDGEWATCH, "run", "--config", str(self.config)], stdout=log, stderr=subprocess.STDOUT
            )
        self._client = httpx.Client(base_url=self.base, timeout=5)
        deadline = time.monotonic() + 60
        while True:
            assert self._proc.poll() is None, f"edgewatch run exited {self._proc.returncode}:\n{self.log()}"
            try:
                if self._client.get("/api/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"the API never answered:\n{self.log()}"
            time.sleep(0.2)
        login = self._client.post("/api/login", json={"username": "admin", "password": PASSWORD})
        assert login.status_code == 204, login.text
        return self

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def status(self) -> tuple[str, dict[str, Any]]:
        """/api/status as raw text (what a browser sees) and parsed."""
        assert self._client is not None
        response = self._client.get("/api/status")
        assert response.status_code == 200, response.text
        return response.text, response.json()

    def wait_for_status(self, done: Callable[[dict[str, Any]], bool], timeout: float) -> tuple[str, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            text, status = self.status()
            if done(status):
                return text, status
            assert time.monotonic() < deadline, f"status never got there: {status}\n{self.log()[-4000:]}"
            time.sleep(0.5)

    def peak_rss_mb(self) -> float:
        """VmHWM of the running process: its peak resident memory so far."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmHWM in /proc/PID/status")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL, as a power cut or the OOM killer: no stop, no flush, no close."""
        assert self._proc is not None
        self._proc.kill()
        self._proc.wait(timeout=10)

    @property
    def client(self) -> httpx.Client:
        """The logged-in HTTP client."""
        assert self._client is not None
        return self._client

    def stop(self) -> str:
        """SIGTERM, wait for a clean exit; the whole log."""
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)
        return self.log()

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
