"""`edgewatch doctor`: installer diagnostics (SPEC: CLI). Exit 0 when nothing failed, 1 otherwise.

Each check is a function returning one `Check`; they probe, never change anything (no model
loaded onto the TPU, no storage created, nothing published), so doctor is safe to run next to
the live service. Cameras are probed in parallel threads while the other checks run.
Secrets never reach the output: URLs go through `redact_url`, the broker password is only
read by paho, and the rendered text is scrubbed of every configured secret as a last guard.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import dataclasses
import json
import logging
import os
import pwd
import secrets
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from app.capture import OpenCvSource, SourceError, SourceKind, source_kind
from app.config import Config, ConfigError, DetectorConfig, MqttConfig, StorageConfig, load_config, resolve_zone
from app.config.demo import demo_config
from app.config.types import redact_url
from app.detect import tflite
from app.detect.base import Backend, ModelError, RuntimeUnavailable
from app.detect.devices import TpuDevice, list_tpus
from app.detect.factory import resolve_model
from app.detect.models import ModelStore
from app.publish.mqtt import Message, MqttClient

Status = Literal["ok", "warn", "fail", "skip"]
EXIT_OK, EXIT_PROBLEMS, EXIT_BAD_CONFIG = 0, 1, 2
CAMERA_DEADLINE_S = 12.0  # all cameras together: TCP 3 s + FFmpeg open 5 s + first read 3 s, in parallel
TCP_TIMEOUT_S = 3.0
MQTT_TIMEOUT_S = 5.0
MIN_YEAR = 2025  # older than this build: a Pi without an RTC boots at 1970 (or fake-hwclock's last save)
_MARKS = {"ok": "[ OK ]", "warn": "[WARN]", "fail": "[FAIL]", "skip": "[SKIP]"}
_DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "http": 80, "https": 443}
_MIB = 1 << 20
_BACKENDS: dict[str, tuple[Backend, ...]] = {"cpu": ("cpu",), "edgetpu": ("edgetpu",), "auto": ("cpu", "edgetpu")}


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    summary: str
    details: dict[str, object] = field(default_factory=dict)


# -- detection: runtime, libedgetpu, Coral devices, model files -----------------------------


def check_runtime(probe: Path | None = None) -> Check:
    """The TFLite runtime that imports; with `probe`, also that it can build an interpreter for it
    (tflite-runtime imports fine with numpy 2 and breaks only there)."""
    try:
        runtime = tflite.runtime()
    except RuntimeUnavailable as exc:
        return Check("runtime", "fail", str(exc))
    package, _, version = runtime.name.partition(" ")
    details: dict[str, object] = {"package": package, "version": version}
    if probe is not None:
        try:
            tflite.TfliteModel(probe, threads=1).close()
        except Exception as exc:  # noqa: BLE001 - whatever the runtime raises is the finding
            return Check("runtime", "fail", f"{runtime.name} imports but cannot run {probe.name}: {exc}", details)
        details["loads"] = probe.name
    return Check("runtime", "ok", runtime.name, details)


def check_libedgetpu(detector: DetectorConfig) -> Check:
    library = os.environ.get(tflite.EDGETPU_LIBRARY_ENV, tflite.EDGETPU_LIBRARY)
    details: dict[str, object] = {"library": library, "detector.type": detector.type}
    try:
        ctypes.CDLL(library)  # loading opens no device: safe while the service holds the TPU
    except OSError as exc:
        details["error"] = str(exc)
        fix = "install libedgetpu1-std from Coral's apt repository (deploy/install.sh does this)"
        if detector.type == "edgetpu":
            return Check("libedgetpu", "fail", f"not installed, and detector.type is edgetpu: {fix}", details)
        if detector.type == "auto":
            return Check("libedgetpu", "warn", f"not installed: detection runs on the CPU; {fix}", details)
        return Check("libedgetpu", "skip", "not installed (not needed: detector.type is cpu)", details)
    return Check("libedgetpu", "ok", f"{library} loads", details)


def check_coral(detector: DetectorConfig, devices: list[TpuDevice], dev_root: Path = Path("/dev")) -> Check:
    details: dict[str, object] = {"devices": [_describe(d) for d in devices]}
    if detector.type == "cpu":
        return Check("coral", "skip", f"{len(devices)} found; not used (detector.type is cpu)", details)
    failing: Status = "fail" if detector.type == "edgetpu" else "warn"
    fallback = "" if detector.type == "edgetpu" else ": detection runs on the CPU"
    if not devices:
        return Check(
            "coral", failing,
            f"no Coral found{fallback}. USB: `lsusb` should list 18d1:9302 or 1a6e:089a; "
            "M.2/PCIe: /dev/apex_0 needs gasket-dkms",
            details,
        )  # fmt: skip
    wanted = detector.device
    chosen = [d for d in devices if wanted is None or wanted in (d.kind, d.name)]
    if not chosen:
        found = ", ".join(d.name for d in devices)
        return Check("coral", failing, f"detector.device is {wanted} but only {found} exist{fallback}", details)
    problems = [w for d in chosen for w in (*d.warnings(), *_access_warnings(d, dev_root))]
    if problems:
        details["warnings"] = problems
        return Check("coral", "warn", problems[0], details)
    return Check("coral", "ok", "; ".join(_short(d) for d in devices), details)


def _describe(device: TpuDevice) -> dict[str, object]:
    return {
        "name": device.name, "path": device.path, "usb_id": device.usb_id, "speed_mbps": device.speed_mbps,
        "ready": device.ready, "busnum": device.busnum, "devnum": device.devnum,
    }  # fmt: skip


def _short(device: TpuDevice) -> str:
    if device.kind == "pci":
        return f"{device.name} {device.path}"
    speed = f", {device.speed_mbps} Mb/s" if device.speed_mbps is not None else ""
    state = " (firmware loads on first use)" if device.usb_id == "1a6e:089a" else ""
    return f"{device.name} {device.usb_id}{speed}{state}"


def _access_warnings(device: TpuDevice, dev_root: Path) -> list[str]:
    node = device.node(dev_root)
    if node is None:
        return []
    if not node.exists():
        return [f"{device.name}: {node} does not exist here (a container without the device passed in?)"]
    if not os.access(node, os.R_OK | os.W_OK):
        return [
            f"{device.name}: {_user()} cannot open {node}: install the Coral udev rule "
            "(MODE=0660, GROUP=plugdev) and add the service user to plugdev"
        ]
    return []


def check_models(detector: DetectorConfig, store: ModelStore, *, coral_found: bool) -> Check:
    """The model the detector would load, verified by sha256, and every manifest file's state."""
    files = _inventory(store)
    details: dict[str, object] = {"folder": str(store.root), "files": files}
    selected: dict[str, str] = {}
    status: Status = "ok"
    summary: list[str] = []
    for backend in _BACKENDS[detector.type]:
        try:
            spec = resolve_model(detector, store, backend)
            store.verify(spec)
        except ModelError as exc:
            selected[backend] = f"none ({exc})"
            if detector.type != "auto" or backend == "cpu":
                status = "fail"
                summary.append(str(exc))
            elif coral_found:  # auto would find the TPU, then fall back to the CPU
                status = "fail" if status == "fail" else "warn"
                summary.append(f"a Coral is present but no Edge TPU model is usable: {exc}")
            continue
        label = str(spec.path) if spec.variant == "file" else f"{spec.name.partition(':')[0]}:{spec.variant}"
        selected[backend] = label + (" (explicit path, not verified)" if spec.variant == "file" else " (sha256 ok)")
    details["selected"] = selected
    damaged = [f"{key}: {state}" for key, state in files.items() if state not in ("sha256 ok", "not installed")]
    if damaged and status == "ok":
        status = "warn"
        summary.append(f"{len(damaged)} manifest file(s) unusable: {damaged[0]}")
    if not summary:
        summary.append(", ".join(f"{backend}: {label}" for backend, label in selected.items()))
    return Check("models", status, "; ".join(summary), details)


def _inventory(store: ModelStore) -> dict[str, str]:
    states: dict[str, str] = {}
    for name in store.names():
        for variant in store.variants(name):
            key = f"{name}:{variant}"
            try:
                spec = store.spec(key, "cpu")
                if not store.is_present(spec):
                    states[key] = "not installed"
                    continue
                store.verify(spec)  # the loader's own rules: recorded digest, SHA256SUMS, mismatch
                states[key] = "sha256 ok"
            except ModelError as exc:
                states[key] = str(exc)
    return states


def _runtime_probe(store: ModelStore) -> Path | None:
    """The default CPU model, if it is installed and verified (a corrupt file would blame the runtime)."""
    try:
        spec = resolve_model(DetectorConfig(type="cpu"), store, "cpu")
        store.verify(spec)
    except ModelError:
        return None
    return spec.path


# -- cameras -------------------------------------------------------------------------------


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
        return Check(check, "fail", f"{_user()} cannot open {source}: add the service user to the video group", details)
    started = time.monotonic()
    try:
        camera = OpenCvSource(source, realtime=False)
    except SourceError as exc:  # its message is already redacted
        hint = "; the port answers, so check the path and the credentials" if kind is SourceKind.RTSP else ""
        return Check(check, "fail", f"{exc}{hint}", details)
    except Exception as exc:  # noqa: BLE001 - a vendor library error, named but not quoted (it may hold the URL)
        return Check(check, "fail", f"cannot open {shown}: {type(exc).__name__}", details)
    try:
        image = camera.read()
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
    details: dict[str, object] = {"path": str(path), "user": _user(), "max_mb": storage.max_mb}
    base, problem = _existing_ancestor(path)
    if problem is None:
        problem = _cannot_write(base)
    if problem is not None:
        return Check("disk", "fail", f"{path}: {problem}", details)
    free_mb = shutil.disk_usage(base).free // _MIB
    used_mb = _tree_bytes(path) // _MIB if base == path else 0
    details.update({"free_mb": free_mb, "used_mb": used_mb, "exists": base == path})
    where = f"{path} writable by {_user()}" + ("" if base == path else " (created at first run)")
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
        return f"{_user()} may not write in {folder} (fix its owner or permissions)"
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


def _user() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return f"uid {os.geteuid()}"


# -- all together --------------------------------------------------------------------------


def run_checks(
    config: Config,
    *,
    store: ModelStore | None = None,
    sys_root: Path = Path("/sys"),
    dev_root: Path = Path("/dev"),
) -> list[Check]:
    cameras = CameraProbes({name: camera.source for name, camera in config.cameras.items()})
    opened = store if store is not None else _open_store()
    devices = list_tpus(sys_root, dev_root, pycoral=sys_root == Path("/sys"))  # the real machine: every source
    coral_found = any(d.ready for d in devices)
    if isinstance(opened, Check):
        runtime, models = check_runtime(), opened
    else:
        runtime = check_runtime(_runtime_probe(opened))
        models = check_models(config.detector, opened, coral_found=coral_found)
    checks = [runtime, check_libedgetpu(config.detector), check_coral(config.detector, devices, dev_root), models]
    broker = check_broker(config.mqtt, config.node_id)
    disk = check_disk(config.storage)
    clock = check_clock(datetime.now(UTC), ntp_synchronized(), resolve_zone(config.timezone).key)
    return [*checks, *cameras.collect(), broker, disk, clock]


def _open_store() -> ModelStore | Check:
    try:
        return ModelStore()
    except ModelError as exc:  # an unreadable manifest
        return Check("models", "fail", str(exc))


def render_text(checks: list[Check], origin: str) -> str:
    lines = [f"edgewatch doctor ({origin})"]
    for check in checks:
        lines.append(f"{_MARKS[check.status]} {check.name}: {check.summary}")
        for key, value in check.details.items():
            lines += _detail_lines(key, value, 7)
    failed = sum(c.status == "fail" for c in checks)
    warned = sum(c.status == "warn" for c in checks)
    verdict = f"{failed} problem(s) found" if failed else "no problems found"
    lines.append(verdict + (f", {warned} warning(s)" if warned else ""))
    return "\n".join(lines)


def _detail_lines(key: str, value: object, indent: int) -> list[str]:
    pad = " " * indent
    if isinstance(value, dict):
        return [f"{pad}{key}:"] + [line for k, v in value.items() for line in _detail_lines(str(k), v, indent + 2)]
    if isinstance(value, list):
        items = [", ".join(f"{k}={v}" for k, v in item.items()) if isinstance(item, dict) else str(item)
                 for item in value]  # fmt: skip
        return [f"{pad}{key}:" + ("" if items else " none")] + [f"{pad}  - {item}" for item in items]
    return [f"{pad}{key}: {'-' if value is None else value}"]


def render_json(checks: list[Check]) -> str:
    return json.dumps(
        {"ok": not any(c.status == "fail" for c in checks), "checks": [dataclasses.asdict(c) for c in checks]},
        default=str,
    )


def config_secrets(config: Config) -> list[str]:
    """Every secret the config points at: camera URL passwords and the broker password."""
    found: list[str] = []
    for camera in config.cameras.values():
        with contextlib.suppress(ValueError):
            password = urlsplit(camera.source).password
            if password:
                found += [password, unquote(password)]
    if config.mqtt is not None and config.mqtt.password_file:
        with contextlib.suppress(OSError, UnicodeDecodeError):
            text = Path(config.mqtt.password_file).read_text(encoding="utf-8")
            found += [text.rstrip("\r\n"), text.strip()]
    # Very short secrets are left alone: scrubbing "1" would garble every number in the report.
    return sorted({s for s in found if len(s) >= 4}, key=len, reverse=True)


def scrub(text: str, secret_values: list[str]) -> str:
    for value in secret_values:
        text = text.replace(value, "***")
    return text


@contextlib.contextmanager
def _quiet_logs() -> Iterator[None]:
    """Doctor reports each problem itself; the modules' own warnings would say it twice."""
    logger = logging.getLogger("app")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def cmd_doctor(args: argparse.Namespace) -> int:
    config_file: Path | None = args.config
    try:
        config = load_config(config_file) if config_file is not None else demo_config()
    except ConfigError as exc:
        for line in exc.lines():
            print(line, file=sys.stderr)
        return EXIT_BAD_CONFIG
    with _quiet_logs():
        checks = run_checks(config)
    origin = f"config {config_file}" if config_file is not None else "the embedded demo config"
    text = render_json(checks) if args.json else render_text(checks, origin)
    print(scrub(text, config_secrets(config)), flush=True)
    return EXIT_PROBLEMS if any(c.status == "fail" for c in checks) else EXIT_OK
