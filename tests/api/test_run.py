"""`edgewatch run` as an installer meets it: no password at first start, the setup code on
the console, the dashboard's setup step, then `edgewatch passwd` while it runs."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from app.demo.clip import ClipInfo

EDGEWATCH = str(Path(sys.executable).with_name("edgewatch"))
CODE = re.compile(r"setup code\s+([A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            assert time.monotonic() < deadline, f"{url} never answered"
            time.sleep(0.1)


def test_first_start_setup_code_then_passwd_while_running(person_clip: ClipInfo, tmp_path: Path) -> None:
    port = free_port()
    state = tmp_path / "state"
    config = tmp_path / "edgewatch.yaml"
    config.write_text(
        f"node_id: porch-box\ncameras:\n  porch:\n    source: {person_clip.path}\n"
        f"detector: {{type: cpu}}\napi: {{listen: '127.0.0.1:{port}', allow: [loopback]}}\n"
        f"storage: {{path: '{state}'}}\n"
    )
    proc = subprocess.Popen([EDGEWATCH, "run", "--config", str(config)], stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    console: list[str] = []
    reader = threading.Thread(target=lambda: console.extend(iter(proc.stderr.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/api/health")
        deadline = time.monotonic() + 10
        while not (match := CODE.search("".join(console))) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert match, "".join(console)
        code = match.group(1)
        with httpx.Client(base_url=base) as browser:
            assert browser.get("/api/status").status_code == 401
            assert browser.get("/api/setup").json() == {"required": True}
            done = browser.post("/api/setup", json={"code": code, "password": "first long passphrase"})
            assert done.status_code == 204, done.text
            status = browser.get("/api/status").json()
            assert status["node"] == "porch-box"
            assert [c["name"] for c in status["cameras"]] == ["porch"]
            # The installer changes it from a shell while the service runs.
            passwd = subprocess.run(
                [EDGEWATCH, "passwd", "--config", str(config), "--stdin"],
                input="second long passphrase\n", capture_output=True, text=True, timeout=60, check=False,
            )  # fmt: skip
            assert passwd.returncode == 0, passwd.stderr
            assert browser.get("/api/status").status_code == 401  # the old session ended
            assert browser.post("/api/login", json={"username": "admin", "password": "first long passphrase"}
                                ).status_code == 401  # fmt: skip
            assert browser.post("/api/login", json={"username": "admin", "password": "second long passphrase"}
                                ).status_code == 204  # fmt: skip
            assert browser.get("/api/status").status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0, "".join(console)
        reader.join(5)
    text = "".join(console)
    assert "first long passphrase" not in text
    assert "second long passphrase" not in text
    assert text.count(code) == 1  # on the console once, never in a log line
    weak = subprocess.run(
        [EDGEWATCH, "passwd", "--config", str(config), "--stdin"],
        input="password123\n", capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ},
    )  # fmt: skip
    assert weak.returncode == 2
    assert "edgewatch passwd:" in weak.stderr
