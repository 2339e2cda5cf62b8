"""A TFLite detector: preprocess → invoke → decode, behind the `Detector` interface.

One class for every model family; what differs is how outputs are decoded, chosen from
the manifest's `family` (or, for a model given by path, from its outputs):
- `ssd`: the TFLite_Detection_PostProcess layout (Coral's models, our person SSD);
- `nanodet`: raw GFL heads, decoded and NMS'd in numpy (app/detect/nanodet.py).

The .tflite file runs on LiteRT (`TfliteModel`, CPU or Edge TPU delegate) unless another
runtime's model is handed in (`model=`, e.g. OpenVINO's); preprocess and decoders only see
the narrow `InferenceModel` surface, so they are the same for every runtime.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from app.detect import nanodet, ssd
from app.detect.base import DetectorBackend, DetectorInfo, Image, InferenceModel, ModelError
from app.detect.models import ModelSpec
from app.detect.preprocess import make_input_spec, prepare
from app.detect.tflite import TfliteModel
from app.domain import Detection, Detections
from app.labels import COCO_LABELS

# Upstream NanoDet's normalisation (BGR); used for a NanoDet model given by path.
NANODET_MEAN = (103.53, 116.28, 123.675)
NANODET_STD = (57.375, 57.12, 58.395)


# (model after invoke, min_score, frame width, frame height) → detections in frame pixels
_Decoder = Callable[[InferenceModel, float, int, int], tuple[Detection, ...]]


class TfliteDetector:
    """Not thread-safe: one owner calls detect() (the detection worker)."""

    def __init__(
        self,
        spec: ModelSpec,
        *,
        backend: DetectorBackend,
        device: str | None = None,
        delegate: Any = None,
        threads: int | None = None,
        note: str | None = None,
        model: InferenceModel | None = None,
    ) -> None:
        """`model`: spec.path already loaded by another runtime (this detector then owns and
        closes it; `delegate` and `threads` are LiteRT's and unused). Default: LiteRT."""
        self._model = model if model is not None else TfliteModel(spec.path, delegate=delegate, threads=threads)
        try:
            spec = _resolve_family(spec, self._model)
            self._input = make_input_spec(self._model.input, spec.mean, spec.std, order=spec.order)
            self._decode = _decoder(spec, self._model, (self._input.width, self._input.height))
            self.labels = spec.labels
        except ModelError:
            self._model.close()
            raise
        self._info = DetectorInfo(
            backend=backend,
            device=device,
            model=spec.name,
            model_file=str(spec.path),
            runtime=self._model.runtime_name,
            input_size=(self._input.width, self._input.height),
            note=note,
            family=spec.family,
            labels=frozenset(spec.labels.values()),
        )

    @property
    def info(self) -> DetectorInfo:
        return self._info

    def detect(self, image: Image, min_score: float = 0.0) -> Detections:
        tensor = prepare(image, self._input)
        started = time.perf_counter()
        self._model.run(tensor)
        inference_ms = (time.perf_counter() - started) * 1000.0
        return Detections(self._decode(self._model, min_score, image.shape[1], image.shape[0]), inference_ms)

    def close(self) -> None:
        self._model.close()


def _resolve_family(spec: ModelSpec, model: InferenceModel) -> ModelSpec:
    """A model given by path: its family from its outputs, and that family's defaults."""
    if spec.family != "auto":
        return spec
    if model.op_outputs(ssd.POSTPROCESS_OP) is not None or not nanodet.is_nanodet(model.outputs):
        return replace(spec, family="ssd")
    spec = replace(spec, family="nanodet")
    if spec.guessed_input:
        spec = replace(spec, mean=NANODET_MEAN, std=NANODET_STD, order="bgr")
    if spec.guessed_labels:
        spec = replace(spec, labels=dict(enumerate(COCO_LABELS)))
    return spec


def _decoder(spec: ModelSpec, model: InferenceModel, input_size: tuple[int, int]) -> _Decoder:
    labels = spec.labels
    if spec.family == "ssd":
        o = ssd.map_outputs(model.outputs, model.op_outputs(ssd.POSTPROCESS_OP))

        def decode_ssd(m: InferenceModel, min_score: float, width: int, height: int) -> tuple[Detection, ...]:
            return ssd.decode(
                m.output(o.boxes),
                m.output(o.classes),
                m.output(o.scores),
                m.output(o.count),
                labels=labels,
                min_score=min_score,
                width=width,
                height=height,
            )

        return decode_ssd
    if spec.family == "nanodet":
        classes = max(labels) + 1 if labels else 0
        layout = nanodet.map_heads(model.outputs, classes, input_size)
        indices = [i for head in layout.heads for i in (head.scores, head.boxes)]

        def decode_nanodet(m: InferenceModel, min_score: float, width: int, height: int) -> tuple[Detection, ...]:
            raw = {i: m.output_view(i) for i in indices}  # decoded before the next invoke
            return nanodet.decode(raw, layout, labels=labels, min_score=min_score, width=width, height=height)

        return decode_nanodet
    raise ModelError(f"model family '{spec.family}' is not supported (known: ssd, nanodet)")
