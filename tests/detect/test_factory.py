"""The one factory path: what `auto` and `edgetpu` become without an Edge TPU, one-shot and
supervised, and that both say why in the same words.

No Coral here, and libedgetpu is pointed at a file that does not exist: the real "runtime not
installed" path, nothing patched."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config import DetectorConfig
from app.detect import EdgeTpuUnavailable, ModelError, ModelStore, open_detector, tflite
from app.detect.base import DetectorInfo, Image
from app.detect.factory import open_supervised
from app.detect.supervisor import SupervisedDetector, unavailable
from app.domain import Detections

NO_RUNTIME = "the Edge TPU runtime (libedgetpu) is not installed"


@pytest.fixture
def no_libedgetpu(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(tflite.EDGETPU_LIBRARY_ENV, str(tmp_path / "libedgetpu.so.1"))


@pytest.mark.usefixtures("no_libedgetpu")
def test_auto_once_without_a_tpu_runs_on_the_cpu_with_the_reason(store: ModelStore) -> None:
    det = open_detector(DetectorConfig(type="auto"), store)
    try:
        assert det.info.backend == "cpu"
        assert det.info.device is None
        assert det.info.note == f"{NO_RUNTIME}; running on the CPU"
    finally:
        det.close()


@pytest.mark.usefixtures("no_libedgetpu")
def test_edgetpu_once_without_a_tpu_is_an_error(store: ModelStore) -> None:
    with pytest.raises(EdgeTpuUnavailable) as caught:
        open_detector(DetectorConfig(type="edgetpu"), store)
    assert caught.value.short == NO_RUNTIME


@pytest.mark.usefixtures("no_libedgetpu")
def test_auto_supervised_without_a_tpu_is_plain_cpu(store: ModelStore) -> None:
    det = open_detector(DetectorConfig(type="auto"), store, supervise=True)
    try:
        assert isinstance(det, SupervisedDetector)
        state = det.state()
        # the plan, no fault
        assert state.info.backend == "cpu"
        assert state.degraded is None
        assert det.info.note is None
    finally:
        det.close()


@pytest.mark.usefixtures("no_libedgetpu")
def test_edgetpu_supervised_without_a_tpu_is_degraded_in_the_one_shot_words(store: ModelStore) -> None:
    det = open_supervised(DetectorConfig(type="edgetpu"), store)
    try:
        assert isinstance(det, SupervisedDetector)
        assert det.info.backend == "cpu"
        # The same reason, worded once (supervisor.unavailable), as `auto` gives one-shot.
        assert det.state().degraded == det.info.note == f"{NO_RUNTIME}; running on the CPU"
    finally:
        det.close()


def test_cpu_is_the_same_detector_either_way(store: ModelStore) -> None:
    once = open_detector(DetectorConfig(type="cpu", model="person"), store)
    supervised = open_detector(DetectorConfig(type="cpu", model="person"), store, supervise=True)
    try:
        # nothing to supervise
        assert type(supervised) is type(once)
        assert supervised.info == once.info
    finally:
        once.close()
        supervised.close()


def test_one_wording_for_why_the_tpu_is_not_used() -> None:
    assert unavailable(EdgeTpuUnavailable("long text with the fix", "no Edge TPU found")) == "no Edge TPU found"
    model = ModelError("models/coco_edgetpu.tflite is not installed")
    assert unavailable(model) == "Edge TPU found but not usable: models/coco_edgetpu.tflite is not installed"


class _Cpu:
    info = DetectorInfo("cpu", None, "stub", "-", "test", (300, 300))

    def detect(self, image: Image, min_score: float = 0.0) -> Detections:  # noqa: ARG002 - the Detector protocol
        return Detections((), 1.0)

    def close(self) -> None:
        pass


def test_the_supervisor_says_it_in_the_same_words() -> None:
    def tpu_without_its_model() -> _Cpu:
        raise ModelError("models/coco_edgetpu.tflite is not installed")

    det = SupervisedDetector(tpu_without_its_model, _Cpu(), present=lambda: False, device="usb:1")
    try:
        assert det.state().degraded == (
            "Edge TPU usb:1: Edge TPU found but not usable: models/coco_edgetpu.tflite is not installed; "
            "running on the CPU"
        )
    finally:
        det.close()
