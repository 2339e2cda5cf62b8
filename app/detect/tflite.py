"""The ONLY place that imports a TFLite runtime or loads libedgetpu.

`ai_edge_litert` is preferred (fast int8 kernels, numpy 2); `tflite_runtime` is
the fallback that older Coral installs carry. Vendor types stay in this module:
callers get a `TfliteModel` with plain numpy in and out, its tensors described by the
frozen `TensorInfo` (made here from the runtime's detail dicts).
"""

from __future__ import annotations

import ctypes
import gc
import importlib
import importlib.metadata
import logging
import os
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from app.detect.base import EdgeTpuUnavailable, ModelError, RuntimeUnavailable, TensorInfo

log = logging.getLogger(__name__)

EDGETPU_LIBRARY = "libedgetpu.so.1"
EDGETPU_LIBRARY_ENV = "EDGEWATCH_EDGETPU_LIB"  # a libedgetpu outside the loader's path
_RUNTIMES = ("ai_edge_litert", "tflite_runtime")
_DISTRIBUTIONS = {"ai_edge_litert": "ai-edge-litert", "tflite_runtime": "tflite-runtime"}


@dataclass(frozen=True, slots=True)
class _Runtime:
    interpreter: Any
    load_delegate: Any
    name: str


@cache
def runtime() -> _Runtime:
    """Import the first available runtime (raises RuntimeUnavailable with the fix)."""
    failures = []
    for package in _RUNTIMES:
        try:
            module = importlib.import_module(f"{package}.interpreter")
        except ImportError as exc:
            failures.append(f"{package}: {exc}")
            continue
        try:
            version = importlib.metadata.version(_DISTRIBUTIONS[package])
        except importlib.metadata.PackageNotFoundError:
            version = "?"
        return _Runtime(module.Interpreter, module.load_delegate, f"{package} {version}")
    raise RuntimeUnavailable(
        "no TFLite runtime could be imported (" + "; ".join(failures) + "). "
        "Install one into the appliance's virtualenv: pip install 'ai-edge-litert>=2.3,<3'"
    )


def load_edgetpu(device: str | None) -> Any:
    """Load the Edge TPU delegate for `device` (usb, usb:N, pci, pci:N; None = first)."""
    rt = runtime()
    options = {"device": device} if device else {}
    where = device or "any"
    library = os.environ.get(EDGETPU_LIBRARY_ENV, EDGETPU_LIBRARY)
    try:
        ctypes.CDLL(library)  # a missing library is the common case: say so plainly
    except OSError as exc:
        raise EdgeTpuUnavailable(
            f"the Edge TPU runtime is not installed ({exc}). Install libedgetpu1-std from "
            "Coral's apt repository (deploy/install.sh does this), or set detector.type: cpu",
            "the Edge TPU runtime (libedgetpu) is not installed",
        ) from None
    failure = _try_delegate(rt, library, options)
    if isinstance(failure, str):
        raise EdgeTpuUnavailable(
            f"libedgetpu is installed but no Edge TPU answered on device '{where}' ({failure}). "
            "Check the Coral is plugged in (USB 3 port; on a Pi a powered hub helps), the udev "
            "rule is installed and the service user is in the plugdev group; `edgewatch doctor` "
            "lists the devices found. Or set detector.type: cpu",
            f"no Edge TPU answered on device '{where}'",
        )
    return failure


def _try_delegate(rt: _Runtime, library: str, options: dict[str, str]) -> Any:
    """The delegate, or the error text. A failed load leaves a half-built Delegate whose
    finaliser raises inside the runtime; collect it here with that noise muted."""
    error: str | None = None
    try:
        return rt.load_delegate(library, options)
    except (OSError, ValueError, AttributeError, RuntimeError) as exc:  # both kinds occur
        error = f"{type(exc).__name__}: {exc}"
    hook = sys.unraisablehook
    sys.unraisablehook = lambda _info: None
    try:
        gc.collect()
    finally:
        sys.unraisablehook = hook
    return error


def read_tensors(path: Path) -> tuple[TensorInfo, tuple[TensorInfo, ...]]:
    """The file's input and outputs as it declares them, no tensors allocated (under 1 ms):
    what another runtime reading the same file needs to know, e.g. what its int8 values mean."""
    rt = runtime()
    try:
        interp = rt.interpreter(model_path=str(path))
    except ValueError as exc:
        raise ModelError(f"{path}: not a readable TFLite model ({exc})") from exc

    return _info(interp.get_input_details()[0]), tuple(_info(d) for d in interp.get_output_details())


def _info(detail: dict[str, Any]) -> TensorInfo:
    """A runtime's tensor details (a dict of numpy values) → the frozen type the rest reads."""
    scale, zero_point = detail["quantization"]
    return TensorInfo(
        index=int(detail["index"]),
        name=str(detail["name"]),
        shape=tuple(int(d) for d in detail["shape"]),
        dtype=np.dtype(detail["dtype"]),
        quantization=(float(scale), int(zero_point)),
    )


class TfliteModel:
    """One interpreter with tensors allocated; plain numpy across its surface."""

    def __init__(self, path: Path, *, delegate: Any = None, threads: int | None = None) -> None:
        rt = runtime()
        self.runtime_name = rt.name
        try:
            self._interp = rt.interpreter(
                model_path=str(path),
                experimental_delegates=[delegate] if delegate is not None else None,
                num_threads=threads,
            )
            self._interp.allocate_tensors()
        except RuntimeError as exc:
            if "edgetpu-custom-op" in str(exc):
                raise ModelError(
                    f"{path} is compiled for the Edge TPU and cannot run on the CPU; "
                    "use its CPU twin or detector.type: edgetpu"
                ) from exc
            raise ModelError(f"{path}: the runtime refused the model ({exc})") from exc
        except ValueError as exc:
            raise ModelError(f"{path}: not a readable TFLite model ({exc})") from exc
        self._delegate = delegate  # keep it alive as long as the interpreter
        self.input: TensorInfo = _info(self._interp.get_input_details()[0])
        self.outputs: tuple[TensorInfo, ...] = tuple(_info(d) for d in self._interp.get_output_details())

    def op_outputs(self, op_name: str) -> list[int] | None:
        """Output tensor indices of the first op called `op_name`, if the runtime tells."""
        get_ops = getattr(self._interp, "_get_ops_details", None)
        if get_ops is None:
            return None
        try:
            for op in get_ops():
                if op.get("op_name") == op_name:
                    return [int(i) for i in op["outputs"]]
        except Exception:
            log.debug("op details unavailable", exc_info=True)
        return None

    def run(self, tensor: npt.NDArray[Any]) -> None:
        self._interp.set_tensor(self.input.index, tensor)
        self._interp.invoke()

    def output(self, index: int) -> npt.NDArray[Any]:
        return np.asarray(self._interp.get_tensor(index))

    def output_view(self, index: int) -> npt.NDArray[Any]:
        """The output tensor in place, no copy: valid only until the next run(); read it
        and let go (the NanoDet decoder scans 440 KB of scores per frame this way)."""
        return np.asarray(self._interp.tensor(index)())

    def close(self) -> None:
        self._interp = None
        self._delegate = None
