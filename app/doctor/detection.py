"""Checks of the detection stack: TFLite runtime, OpenVINO (when asked for), libedgetpu, Coral
devices, model files."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

from app.config import DetectorConfig
from app.detect import openvino, tflite
from app.detect.base import ModelError, OpenVinoUnavailable, RuntimeUnavailable
from app.detect.devices import TpuDevice
from app.detect.factory import resolve_model
from app.detect.models import ModelStore
from app.doctor.base import _BACKENDS, Check, Status, current_user


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


def check_openvino(detector: DetectorConfig, store: ModelStore | None) -> Check:
    """For detector.type openvino: OpenVINO imports, lists the configured device, and can read the
    model (parsed only: nothing is compiled, no device is claimed). Each failure is one the service
    survives on LiteRT, degraded, except an unreadable model, which stops it at start."""
    device = detector.device or openvino.DEFAULT_DEVICE
    details: dict[str, object] = {"detector.device": device}
    try:
        runtime = openvino.runtime()
    except OpenVinoUnavailable as exc:
        return Check("openvino", "fail", f"{exc}. Until then detection runs on the CPU (LiteRT)", details)
    details["version"] = runtime.name.partition(" ")[2]
    found = openvino.devices()
    details["devices"] = found
    if not openvino.is_present(device, list(found)):
        why = openvino.absent(device, list(found))
        return Check("openvino", "fail", f"{why}. Until then detection runs on the CPU (LiteRT)", details)
    summary = f"{runtime.name}, {device}" + (f": {found[device]}" if device in found else "")
    if store is None:
        return Check("openvino", "ok", summary, details)
    try:
        spec = resolve_model(detector, store, "cpu")
        store.verify(spec)
    except ModelError:
        return Check("openvino", "ok", summary, details)  # the models check says what is wrong with it
    try:
        openvino.check_model(spec.path)
    except ModelError as exc:
        return Check("openvino", "fail", str(exc), details)
    details["reads"] = spec.path.name
    return Check("openvino", "ok", f"{summary}; reads {spec.path.name}", details)


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
        return Check("libedgetpu", "skip", f"not installed (not needed: detector.type is {detector.type})", details)
    return Check("libedgetpu", "ok", f"{library} loads", details)


def check_coral(detector: DetectorConfig, devices: list[TpuDevice], dev_root: Path = Path("/dev")) -> Check:
    details: dict[str, object] = {"devices": [_describe(d) for d in devices]}
    if detector.type in ("cpu", "openvino"):
        return Check("coral", "skip", f"{len(devices)} found; not used (detector.type is {detector.type})", details)
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
            f"{device.name}: {current_user()} cannot open {node}: install the Coral udev rule "
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
