"""The run: set-up (clips, tmpfs, broker, cameras, password and token, hub, appliance, samplers), the
faults injected and undone on their schedule, then the stop as systemd does it."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from machine import machine_cpu, settle  # bench/machine.py (bench/ is on sys.path when run)

from app.api.auth import Credentials, credentials_path
from soaklib.disk import Disk
from soaklib.faults import Fault, schedule
from soaklib.hub import Hub
from soaklib.poller import Poller
from soaklib.processes import Appliance
from soaklib.sampler import ProcSampler
from soaklib.scene import (
    BALLAST_LEAVES_KB,
    DRAIN_TIMEOUT_S,
    KINDS,
    PASSWORD,
    START_TIMEOUT_S,
    TMPFS_MB,
    clips,
    config_yaml,
)
from tests.support.mosquitto import Mosquitto, free_port
from tests.support.rtsp import RtspCamera


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
