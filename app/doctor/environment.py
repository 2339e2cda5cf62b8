"""Checks of what the box talks to and runs on: cameras, broker, disk, clock."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from app.capture import SourceError, SourceKind, VideoSource, source_kind
from app.config import MqttConfig, StorageConfig
from app.doctor.base import (
    _DEFAULT_PORTS,
    _MIB,
    CAMERA_DEADLINE_S,
    MIN_YEAR,
    MQTT_TIMEOUT_S,
    TCP_TIMEOUT_S,
    Check,
    current_user,
)
from app.publish.mqtt import Message, MqttClient
from app.redact import describe_error, redact_url


def probe_camera(name: str, source: str) -> Check:
    """Open the source as the service would, read one frame, report its size."""
    check = f"camera:{name}"
    shown = redact_url(source)
    kind = source_kind(source)
    details: dict[str, object] = {"source": shown, "kind": kind.value}
    if kind in (SourceKind.RTSP, SourceKind.HTTP):
        problem = _tcp_problem(source)
        if problem:
            return Check(check, "fail", f"{shown}: {problem}", details)
    if kind is SourceKind.V4L2 and os.path.exists(source) and not os.access(source, os.R_OK | os.W_OK):
        return Check(
            check, "fail", f"{current_user()} cannot open {source}: add the service user to the video group", details
        )
    started = time.monotonic()
    try:
        camera = VideoSource(source, realtime=False)
    except SourceError as exc:  # its message is already redacted
        hint = "; the port answers, so check the path and the credentials" if kind is SourceKind.RTSP else ""
        return Check(check, "fail", f"{exc}{hint}", details)
    except Exception as exc:  # noqa: BLE001 - a vendor library error, quoted redacted (it may hold the URL)
        return Check(check, "fail", f"cannot open {shown}: {describe_error(exc, source)}", details)
    try:
        image = camera.read()
    except SourceError as exc:  # a frame beyond the size limit; its message is redacted
        return Check(check, "fail", str(exc), details)
    finally:
        camera.close()
    elapsed_ms = round((time.monotonic() - started) * 1000)
    if image is None:
        return Check(check, "fail", f"{shown} opened but sent no frame", details)
    height, width = image.shape[:2]
    details.update({"resolution": f"{width}x{height}", "fps": round(camera.fps, 2), "first_frame_ms": elapsed_ms})
    return Check(check, "ok", f"{width}x{height}, first frame in {elapsed_ms} ms", details)


def _tcp_problem(url: str) -> str | None:
    """Why the URL's host:port takes no TCP connection, or None. Names the failure FFmpeg would blur."""
    parts = urlsplit(url)
    try:
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower(), 554)
    except ValueError:
        return "the URL's port is not a number"
    host = parts.hostname or ""
    return _connect_problem(host, port)


def _connect_problem(host: str, port: int) -> str | None:
    try:
        with socket.create_connection((host, port), timeout=TCP_TIMEOUT_S):
            return None
    except socket.gaierror:
        return f"cannot resolve host '{host}'"
    except ConnectionRefusedError:
        return f"connection refused on port {port} (wrong port, or the service is not running)"
    except TimeoutError:
        return f"no answer from {host}:{port} within {TCP_TIMEOUT_S:.0f} s (wrong address, or switched off?)"
    except OSError as exc:
        return f"cannot connect to {host}:{port}: {exc.strerror or type(exc).__name__}"


class CameraProbes:
    """One thread per camera, started at once; `collect` waits until a shared deadline.

    Daemon threads, not an executor: a read wedged inside FFmpeg must not hold up exit.
    """

    def __init__(self, sources: Mapping[str, str], deadline_s: float = CAMERA_DEADLINE_S) -> None:
        self._sources = dict(sources)
        self._deadline = time.monotonic() + deadline_s
        self._budget = deadline_s
        self._results: dict[str, Check] = {}
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._run, args=(name, src), name=f"doctor-{name}", daemon=True)
            for name, src in self._sources.items()
        ]
        for thread in self._threads:
            thread.start()

    def _run(self, name: str, source: str) -> None:
        try:
            result = probe_camera(name, source)
        except Exception as exc:  # noqa: BLE001 - one camera's surprise must not hide the others
            result = Check(f"camera:{name}", "fail", f"probe failed: {type(exc).__name__}")
        with self._lock:
            self._results[name] = result

    def collect(self) -> list[Check]:
        for thread in self._threads:
            thread.join(max(0.0, self._deadline - time.monotonic()))
        with self._lock:
            done = dict(self._results)
        late = f"no frame within {self._budget:.0f} s (a camera that accepts the connection but never streams)"
        return [
            done.get(name) or Check(f"camera:{name}", "fail", late, {"source": redact_url(src)})
            for name, src in self._sources.items()
        ]


# -- broker, disk, clock -------------------------------------------------------------------


def check_broker(mqtt: MqttConfig | None, node_id: str, timeout: float = MQTT_TIMEOUT_S) -> Check:
    if mqtt is None:
        return Check("broker", "skip", "no mqtt section: alerts are stored and shown on the dashboard only")
    where = f"{mqtt.host}:{mqtt.port}"
    details: dict[str, object] = {
        "broker": where, "tls": mqtt.tls.ca_file is not None, "username": mqtt.username,
        "password_file": mqtt.password_file,
    }  # fmt: skip
    problem = _connect_problem(mqtt.host, mqtt.port)
    if problem:
        return Check("broker", "fail", f"cannot reach the broker: {problem}", details)
    # A client id of its own: reusing the service's would make the broker drop the live service.
    client = MqttClient(
        mqtt,
        client_id=f"edgewatch-doctor-{node_id}-{secrets.token_hex(3)}",
        will=Message(f"{mqtt.topic_prefix}/{node_id}/doctor", b"", qos=0),
    )
    client.start()
    deadline = time.monotonic() + timeout
    try:
        while (status := client.status()).error is None and not status.connected and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        client.stop()
    if status.connected:
        who = f" as {mqtt.username!r}" if mqtt.username else " (anonymous)"
        tls = " over TLS" if mqtt.tls.ca_file else ""
        return Check("broker", "ok", f"MQTT login accepted by {where}{who}{tls}", details)
    if status.error:
        return Check("broker", "fail", status.error, details)
    return Check("broker", "fail", f"{where} takes TCP connections but gave no MQTT answer within {timeout:.0f} s "
                 "(not an MQTT port, or TLS expected?)", details)  # fmt: skip


def check_disk(storage: StorageConfig) -> Check:
    """storage.path usable by this user (existing, or creatable), and room for storage.max_mb."""
    path = Path(storage.path).expanduser()
    details: dict[str, object] = {"path": str(path), "user": current_user(), "max_mb": storage.max_mb}
    base, problem = _existing_ancestor(path)
    if problem is None:
        problem = _cannot_write(base)
    if problem is not None:
        return Check("disk", "fail", f"{path}: {problem}", details)
    free_mb = shutil.disk_usage(base).free // _MIB
    used_mb = _tree_bytes(path) // _MIB if base == path else 0
    details.update({"free_mb": free_mb, "used_mb": used_mb, "exists": base == path})
    where = f"{path} writable by {current_user()}" + ("" if base == path else " (created at first run)")
    if free_mb < 16:
        return Check("disk", "fail", f"{where}, but the disk is full ({free_mb} MB free)", details)
    if free_mb + used_mb < storage.max_mb:
        suggest = max(16, int((free_mb + used_mb) * 0.9))
        return Check("disk", "warn", f"{where}, but only {free_mb} MB free for storage.max_mb {storage.max_mb}: "
                     f"the disk fills first; set storage.max_mb to about {suggest}", details)  # fmt: skip
    return Check("disk", "ok", f"{where}; {free_mb} MB free, storage.max_mb {storage.max_mb}", details)


def _existing_ancestor(path: Path) -> tuple[Path, str | None]:
    """The path itself or its nearest existing ancestor (a directory), or why there is none."""
    probe = path
    while True:
        try:
            mode = os.stat(probe).st_mode
        except (FileNotFoundError, NotADirectoryError):
            if probe.parent == probe:
                return probe, "no existing parent directory"
            probe = probe.parent
            continue
        except OSError as exc:
            return probe, f"cannot reach {probe}: {exc.strerror}"
        if not stat.S_ISDIR(mode):
            return probe, f"{probe} is a file, not a directory"
        return probe, None


def _cannot_write(folder: Path) -> str | None:
    try:  # a real attempt: os.access ignores read-only mounts for root and ACLs
        with tempfile.TemporaryFile(dir=folder):
            return None
    except PermissionError:
        return f"{current_user()} may not write in {folder} (fix its owner or permissions)"
    except OSError as exc:
        return f"cannot write in {folder}: {exc.strerror or type(exc).__name__}"


def _tree_bytes(folder: Path) -> int:
    total = 0
    for root, _dirs, names in os.walk(folder):
        for name in names:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


def check_clock(now: datetime, ntp: str | None, zone: str = "UTC") -> Check:
    """`ntp`: timedatectl's NTPSynchronized ("yes"/"no"), None when it cannot tell."""
    details: dict[str, object] = {"utc": now.isoformat(timespec="seconds"), "ntp": ntp or "unknown", "zone": zone}
    if now.year < MIN_YEAR:
        return Check("clock", "fail", f"the clock says {now:%Y-%m-%d}: TLS, alert times and schedules are wrong; "
                     "let NTP set it (systemd-timesyncd) or fit an RTC", details)  # fmt: skip
    stamp = f"{now:%Y-%m-%d %H:%M} UTC"
    if ntp == "no":
        return Check("clock", "warn", f"{stamp}, but NTP has not synchronised it: check network access to NTP",
                     details)  # fmt: skip
    return Check("clock", "ok", f"{stamp}, " + ("NTP synchronised" if ntp == "yes" else "NTP state unknown"), details)


def ntp_synchronized() -> str | None:
    exe = shutil.which("timedatectl")
    if exe is None:
        return None
    try:
        done = subprocess.run([exe, "show", "-p", "NTPSynchronized", "--value"],
                              capture_output=True, text=True, timeout=3, check=False)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    value = done.stdout.strip()
    return value if done.returncode == 0 and value in ("yes", "no") else None  # no systemd (containers): unknown


# -- all together --------------------------------------------------------------------------
