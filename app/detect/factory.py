"""Build the detector the config asks for: `edgetpu`, `cpu`, `auto` (TPU if it loads), or
`openvino` (Intel's runtime on an x86_64 box; LiteRT on the CPU, degraded, when it cannot run).

One path, `open_detector`: what each type falls back to is decided there, for a one-shot
command and for the service (`supervise`) alike; `open_supervised` and `open_detectors` (one
per Edge TPU) are the service's names for it."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Literal, overload

from app.config import DetectorConfig
from app.detect import openvino
from app.detect.base import Backend, Detector, EdgeTpuUnavailable, ModelError, OpenVinoUnavailable
from app.detect.devices import TpuDevice, list_tpus
from app.detect.engine import TfliteDetector
from app.detect.models import ModelSpec, ModelStore
from app.detect.supervisor import SupervisedDetector, unavailable
from app.detect.tflite import load_edgetpu

log = logging.getLogger(__name__)

DEFAULT_MODELS = ("coco", "person")  # SPEC: the COCO model for the backend, `person` until it exists


def cpu_threads() -> int:
    """Half the cores (1 to 4): the cameras' decoders need the rest. A second thread makes an
    invoke ~25 % quicker for ~35 % more CPU time (XNNPACK's pool waits busily; measured on 2
    cores, bench/RESULTS.md), so on a small box one thread does more detection per core."""
    return max(1, min(4, (os.cpu_count() or 1) // 2))


def open_detectors(
    config: DetectorConfig, store: ModelStore | None = None, tpus: Sequence[TpuDevice] | None = None
) -> list[Detector]:
    """One supervised detector per Edge TPU found at start when `detector.device` is unset and
    several are plugged in (the service shares the cameras out among them); else one."""
    if config.type in ("cpu", "openvino") or config.device is not None:
        return [open_supervised(config, store)]
    ready = [t for t in (list_tpus() if tpus is None else tpus) if t.ready]
    if len(ready) <= 1:
        return [open_supervised(config, store)]
    log.info("detector: %d Edge TPUs (%s): one detector each", len(ready), ", ".join(t.name for t in ready))
    return [open_supervised(config.model_copy(update={"device": t.name}), store) for t in ready]


def open_supervised(config: DetectorConfig, store: ModelStore | None = None) -> Detector:
    """For the running service: `open_detector(config, store, supervise=True)`."""
    return open_detector(config, store, supervise=True)


@overload
def open_detector(
    config: DetectorConfig, store: ModelStore | None = None, *, supervise: Literal[False] = False
) -> TfliteDetector: ...


@overload
def open_detector(config: DetectorConfig, store: ModelStore | None = None, *, supervise: Literal[True]) -> Detector: ...


def open_detector(config: DetectorConfig, store: ModelStore | None = None, *, supervise: bool = False) -> Detector:
    """The one way from `detector:` to a detector. One-shot (`edgewatch detect`, replay, benches)
    decides once; `supervise` (the service) keeps deciding while it runs (app/detect/supervisor.py):

        type      not available                 one-shot                 supervise
        cpu       -                             CPU                      CPU
        openvino  OpenVINO or its device        CPU (LiteRT), with why   the same
        auto      the Edge TPU or its model     CPU, with why            CPU, quietly until a TPU
                                                                         has been seen; TPU when plugged in
        edgetpu   the Edge TPU or its model     DetectorError (the fix)  CPU, degraded; TPU when back

    Raises DetectorError when even the CPU model cannot run, or OpenVINO cannot read the model."""
    store = store if store is not None else ModelStore()
    if config.type == "cpu":
        return _on_cpu(config, store, note=None)
    if config.type == "openvino":
        return _on_openvino(config, store)
    if supervise:  # the CPU model loaded up front, standing by for the frame a failing TPU drops
        return SupervisedDetector(
            lambda: _on_edgetpu(config, store),
            _on_cpu(config, store, note=None),
            present=lambda: tpu_present(config.device),
            quiet_absence=config.type == "auto",
            device=config.device,
        )
    try:
        return _on_edgetpu(config, store)
    except (EdgeTpuUnavailable, ModelError) as exc:
        if config.type == "edgetpu":
            raise  # asked for by name: say why it cannot run rather than run elsewhere
        return _on_cpu(config, store, note=f"{unavailable(exc)}; running on the CPU")


def tpu_present(device: str | None) -> bool:
    """Cheap (sysfs): is a usable TPU of the configured kind (or the exact usb:N / pci:N) plugged in?"""
    return any(t.ready and (device is None or device in (t.kind, t.name)) for t in list_tpus())


def _on_edgetpu(config: DetectorConfig, store: ModelStore) -> TfliteDetector:
    delegate = load_edgetpu(config.device)
    try:
        spec = resolve_model(config, store, "edgetpu")
        store.verify(spec)
    except ModelError:
        del delegate  # release the TPU for other processes
        raise
    return TfliteDetector(spec, backend="edgetpu", device=config.device or "first", delegate=delegate)


def resolve_model(config: DetectorConfig, store: ModelStore, backend: Backend) -> ModelSpec:
    if config.model:
        return store.spec(config.model, backend, config.labels)
    problems = []
    for name in DEFAULT_MODELS:
        try:
            spec = store.spec(name, backend, config.labels)
        except ModelError as exc:
            problems.append(str(exc))
            continue
        if store.is_present(spec):
            return spec
        problems.append(f"{spec.path} is not installed")
    raise ModelError(f"no {backend} model is available: " + "; ".join(problems))


def _on_cpu(config: DetectorConfig, store: ModelStore, note: str | None) -> TfliteDetector:
    spec = resolve_model(config, store, "cpu")
    store.verify(spec)
    if note:
        log.warning("detector: %s", note)
    detector = TfliteDetector(spec, backend="cpu", threads=cpu_threads(), note=note)
    log.info("detector: %s on %s (%s)", spec.name, detector.info.backend, detector.info.runtime)
    return detector


def _on_openvino(config: DetectorConfig, store: ModelStore) -> TfliteDetector:
    """The CPU variant of the model on OpenVINO's `detector.device` (default CPU). When OpenVINO is
    not installed or its device is absent or refuses the model, the box keeps detecting: the same
    model on LiteRT, with the reason as its note (status: degraded). A model OpenVINO cannot read
    at all (the person SSD) raises ModelError instead: that is the config to fix, not the box."""
    device = config.device or openvino.DEFAULT_DEVICE
    spec = resolve_model(config, store, "cpu")
    store.verify(spec)
    try:
        model = openvino.OpenVinoModel(spec.path, device=device, threads=cpu_threads())
    except OpenVinoUnavailable as exc:
        log.warning("detector: %s", exc)
        return _on_cpu(config, store, note=f"{exc.short}; running on the CPU (LiteRT)")
    detector = TfliteDetector(spec, backend="openvino", device=device, model=model)
    log.info("detector: %s on %s %s, running on %s (%s threads, %s)", spec.name, model.runtime_name, device,
             "+".join(model.execution_devices), model.threads or "-", model.precision)  # fmt: skip
    return detector
