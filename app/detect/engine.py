"""A TFLite SSD detector: preprocess → invoke → decode, behind the `Detector` interface."""

from __future__ import annotations

import time
from typing import Any

from app.detect.base import Backend, DetectorInfo, Image, ModelError
from app.detect.models import ModelSpec
from app.detect.preprocess import make_input_spec, prepare
from app.detect.ssd import POSTPROCESS_OP, decode, map_outputs
from app.detect.tflite import TfliteModel
from app.domain import Detections


class SsdDetector:
    """Not thread-safe: one owner calls detect() (the detection worker)."""

    def __init__(
        self,
        spec: ModelSpec,
        *,
        backend: Backend,
        device: str | None = None,
        delegate: Any = None,
        threads: int | None = None,
        note: str | None = None,
    ) -> None:
        if spec.family != "ssd":
            raise ModelError(f"model family '{spec.family}' is not supported by this detector")
        self._model = TfliteModel(spec.path, delegate=delegate, threads=threads)
        self._input = make_input_spec(
            self._model.input_shape, self._model.input_dtype, self._model.input_quantization, spec.mean, spec.std
        )
        self._outputs = map_outputs(self._model.outputs, self._model.op_outputs(POSTPROCESS_OP))
        self._labels = spec.labels
        self._info = DetectorInfo(
            backend=backend,
            device=device,
            model=spec.name,
            model_file=str(spec.path),
            runtime=self._model.runtime_name,
            input_size=(self._input.width, self._input.height),
            note=note,
        )

    @property
    def info(self) -> DetectorInfo:
        return self._info

    def detect(self, image: Image, min_score: float = 0.0) -> Detections:
        tensor = prepare(image, self._input)
        started = time.perf_counter()
        self._model.run(tensor)
        inference_ms = (time.perf_counter() - started) * 1000.0
        o = self._outputs
        items = decode(
            self._model.output(o.boxes),
            self._model.output(o.classes),
            self._model.output(o.scores),
            self._model.output(o.count),
            labels=self._labels,
            min_score=min_score,
            width=image.shape[1],
            height=image.shape[0],
        )
        return Detections(items, inference_ms)

    def close(self) -> None:
        self._model.close()
