"""The ONLY place that imports OpenVINO: the optional backend for Intel boxes (`detector.type: openvino`).

OpenVINO's TFLite frontend reads our .tflite files as they are; what it makes of them (2026.4.1):
- COCO NanoDet int8 (`coco`): the compiled model takes the int8 416x416 input tensor and
  gives six int8 heads, with the file's own scale and zero point (its FakeQuantize ranges are
  exactly those), so no value is converted at this boundary: preprocess's tensor goes in as
  is and the decoder dequantizes what comes out, as on LiteRT. OpenVINO keeps the parameters
  opaque (rt_info it cannot export to Python), so they are read from the file through
  `tflite.read_tensors`; element types are mapped to numpy here and checked against the
  file's, and a model that OpenVINO would feed differently is refused, never mis-scaled.
- COCO NanoDet float (`coco:cpu-float`): float32 in and out.
- the person SSD and Coral's SSDs: refused (ModelError) — OpenVINO has no translator for
  their TFLite_Detection_PostProcess op.

Telemetry: with the `openvino-telemetry` package installed, `import openvino` sends a usage
event to Intel's Google Analytics (its model converter's, unless the user opted out in a file
under ~/intel); without it OpenVINO uses a no-op stub. Nothing leaves this box, so OpenVINO is
not imported while that package is installed (the installer and the container never install
it; `deploy/requirements-openvino.lock` is installed with --no-deps).

Threads: the LATENCY hint (one stream, for one frame at a time) with INFERENCE_NUM_THREADS
capped as for LiteRT. Precision: the CPU plugin's default — bf16 on a CPU with native bf16
(AVX512-BF16, AMX), else f32 — see bench/RESULTS.md for what that does to speed and scores.
Vendor types stay here: callers get an `OpenVinoModel` with the `InferenceModel` surface.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from app.detect.base import ModelError, OpenVinoUnavailable, TensorInfo
from app.detect.tflite import read_tensors

PACKAGE = "openvino"  # the module imported; a test points it at a missing one
TELEMETRY = "openvino_telemetry"  # must not be importable (see above); a test points it at one that is
# Where OpenVINO's CPU plugin learns the CPU topology: with neither (a bare chroot), listing
# devices spins forever instead of failing.
TOPOLOGY = (Path("/proc/cpuinfo"), Path("/sys/devices/system/cpu"))
DEFAULT_DEVICE = "CPU"
INSTALL_HINT = (
    "on an x86_64 box deploy/install.sh installs it; by hand, from a checkout: "
    f"{sys.executable} -m pip install --no-deps --require-hashes --only-binary=:all: "
    "-r deploy/requirements-openvino.lock. Or set detector.type: cpu"
)


@dataclass(frozen=True, slots=True)
class _Runtime:
    ov: Any  # the openvino module
    core: Any  # one openvino.Core for the process (it caches plugins)
    name: str  # e.g. "openvino 2026.4.1"


def runtime() -> _Runtime:
    """Import OpenVINO (raises OpenVinoUnavailable with the fix)."""
    return _runtime(PACKAGE, TELEMETRY, TOPOLOGY)


@cache
def _runtime(package: str, telemetry: str, topology: tuple[Path, ...]) -> _Runtime:
    if importlib.util.find_spec(telemetry) is not None:  # checked before openvino is imported
        raise OpenVinoUnavailable(
            f"the {telemetry} package is installed, and with it importing OpenVINO sends usage data to "
            f"Intel (Google Analytics); nothing is to leave this box. OpenVINO runs without it: {sys.executable} "
            "-m pip uninstall openvino-telemetry (the installer never installs it)",
            "openvino-telemetry is installed (it would send usage data off the box)",
        )
    try:
        ov = importlib.import_module(package)
    except ImportError as exc:
        raise OpenVinoUnavailable(
            f"OpenVINO is not installed ({exc}); {INSTALL_HINT}", "OpenVINO is not installed"
        ) from None
    try:
        version = importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        version = "?"
    if not any(path.exists() for path in topology):
        raise OpenVinoUnavailable(
            f"OpenVINO cannot see this machine's CPUs: neither {' nor '.join(map(str, topology))} exists "
            "(a chroot or sandbox without /proc and /sys?), and without them it hangs. Mount /proc",
            "OpenVINO cannot see the CPUs (no /proc or /sys)",
        )
    if not hasattr(ov, "Core"):  # e.g. a file named openvino.py ahead of it on sys.path
        raise OpenVinoUnavailable(
            f"the module imported as {package} ({getattr(ov, '__file__', '?')}) is not OpenVINO's",
            f"'{package}' is not OpenVINO",
        )
    return _Runtime(ov, ov.Core(), f"openvino {version}")


def devices() -> dict[str, str]:
    """What OpenVINO finds here: device name (CPU, GPU.0, ...) → its full name."""
    rt = runtime()
    found: dict[str, str] = {}
    for name in rt.core.available_devices:
        try:
            found[str(name)] = str(rt.core.get_property(name, "FULL_DEVICE_NAME"))
        except RuntimeError:  # listed but not answering: still worth showing
            found[str(name)] = "?"
    return found


def is_present(device: str, available: Sequence[str]) -> bool:
    """Is `device` (CPU, GPU, GPU.N, AUTO) among OpenVINO's `available` devices? With one GPU
    OpenVINO lists just "GPU", which GPU.0 also names; AUTO needs any device."""
    if device == "AUTO":
        return bool(available)
    if device in available:
        return True
    if device == "GPU":
        return any(d.startswith("GPU.") for d in available)
    return device == "GPU.0" and "GPU" in available


def absent(device: str, available: Sequence[str]) -> str:
    """What to say, and do, when `device` is not among the `available` ones."""
    return (
        f"OpenVINO device {device} is not present here (OpenVINO finds: {', '.join(available) or 'none'}). "
        "An Intel GPU needs its compute runtime (Debian: intel-opencl-icd) and the service user in the "
        "render group (/dev/dri/renderD*; in a container, pass that device in). Or set detector.device: CPU"
    )


def check_model(path: Path) -> None:
    """Can OpenVINO read this model file at all? (Parses it; compiles nothing.) ModelError if not."""
    _read(runtime(), path)


class OpenVinoModel:
    """One compiled model and its infer request; plain numpy across its surface."""

    def __init__(self, path: Path, *, device: str = DEFAULT_DEVICE, threads: int | None = None) -> None:
        rt = runtime()
        available = [str(d) for d in rt.core.available_devices]
        if not is_present(device, available):
            raise OpenVinoUnavailable(absent(device, available), f"OpenVINO device {device} is not present")
        model = _read(rt, path)
        declared_input, declared_outputs = read_tensors(path)
        self.runtime_name: str = rt.name
        self.device = device
        config: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY"}
        if threads is not None and device in ("CPU", "AUTO"):
            config["INFERENCE_NUM_THREADS"] = threads
        try:
            self._compiled: Any = rt.core.compile_model(model, device, config)
        except RuntimeError as exc:
            raise OpenVinoUnavailable(
                f"OpenVINO could not compile {path.name} for {device}: {_reason(exc)}. Or set detector.device: CPU",
                f"OpenVINO could not use {device}",
            ) from None
        self._request: Any = self._compiled.create_infer_request()
        self._tensor = rt.ov.Tensor
        (port,) = self._compiled.inputs
        # The file's TensorInfo with OpenVINO's index and shape: its dtype is checked to be the
        # file's, and its quantization is the file's (OpenVINO does not export it).
        self.input: TensorInfo = replace(
            declared_input, index=0, shape=_shape(port), dtype=_dtype(port, declared_input.dtype, path)
        )
        by_name = {t.name: t for t in declared_outputs}
        outputs: list[TensorInfo] = []
        for index, out in enumerate(self._compiled.outputs):
            declared = next((by_name[n] for n in out.get_names() if n in by_name), None)
            if declared is None:
                raise ModelError(f"{path}: OpenVINO's output {out.get_any_name()} is not one the file declares")
            outputs.append(replace(declared, index=index, shape=_shape(out), dtype=_dtype(out, declared.dtype, path)))
        self.outputs: tuple[TensorInfo, ...] = tuple(outputs)

    @property
    def execution_devices(self) -> list[str]:
        """Where it runs (AUTO: the device it chose, which may change once a GPU is ready)."""
        return [str(d) for d in self._compiled.get_property("EXECUTION_DEVICES")]

    @property
    def threads(self) -> int | None:
        try:
            return int(self._compiled.get_property("INFERENCE_NUM_THREADS"))
        except RuntimeError:  # not a CPU property (GPU)
            return None

    @property
    def precision(self) -> str:
        """What float layers compute in (bf16, f32, f16 on a GPU)."""
        try:
            value = self._compiled.get_property("INFERENCE_PRECISION_HINT")
        except RuntimeError:
            return "?"
        return str(value.to_string()) if hasattr(value, "to_string") else str(value)

    def op_outputs(self, _op_name: str) -> list[int] | None:
        return None  # OpenVINO has its own graph, not the file's op list

    def run(self, tensor: npt.NDArray[Any]) -> None:
        # Shared, not copied: the call is synchronous and `tensor` outlives it.
        self._request.set_input_tensor(self._tensor(np.ascontiguousarray(tensor), shared_memory=True))
        self._request.infer(share_outputs=True)

    def output(self, index: int) -> npt.NDArray[Any]:
        return np.array(self._request.get_output_tensor(index).data)

    def output_view(self, index: int) -> npt.NDArray[Any]:
        """The output in place, no copy: valid only until the next run()."""
        return np.asarray(self._request.get_output_tensor(index).data)

    def close(self) -> None:
        self._request = None
        self._compiled = None


def _read(rt: _Runtime, path: Path) -> Any:
    try:
        return rt.core.read_model(str(path))
    except RuntimeError as exc:
        reason = _reason(exc)
        if "TFLite_Detection_PostProcess" in reason:
            raise ModelError(
                f"{path} cannot run on OpenVINO ({rt.name}): it is an SSD whose box decoding is the "
                "TFLite_Detection_PostProcess op, which OpenVINO cannot translate. With detector.type: openvino "
                "use the COCO NanoDet (detector.model: coco, the default); to keep this model, set "
                "detector.type: cpu (or auto)"
            ) from None
        raise ModelError(f"{path}: OpenVINO ({rt.name}) cannot read it: {reason}") from None


def _reason(exc: BaseException) -> str:
    """OpenVINO's message without its source-location lines."""
    lines = [line.strip() for line in str(exc).splitlines()]
    useful = [line for line in lines if line and not line.startswith(("Exception from", "Check '"))]
    return " ".join(useful) or str(exc).strip()


def _shape(port: Any) -> tuple[int, ...]:
    return tuple(int(d) for d in port.get_shape())


def _dtype(port: Any, declared: np.dtype[Any], path: Path) -> np.dtype[Any]:
    """The port's element type as numpy; it must be the file's own (no silent rescaling)."""
    dtype: np.dtype[Any] = np.dtype(port.get_element_type().to_dtype())
    if dtype != declared:
        raise ModelError(
            f"{path}: OpenVINO makes tensor {port.get_any_name()} {dtype} where the file declares {declared}; "
            "this model is not supported with detector.type: openvino"
        )
    return dtype
