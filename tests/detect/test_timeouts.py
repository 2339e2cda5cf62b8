"""The three waits on one detect call keep their order: the Edge TPU lane gives up first, then the
worker's request, then the service calls it stuck."""

from __future__ import annotations

import inspect
import threading

import numpy as np
import pytest

from app.detect.base import DetectorInfo, Image
from app.detect.supervisor import SupervisedDetector
from app.detect.timeouts import CPU_REDO_S, DETECT_TIMEOUTS, DetectTimeouts
from app.detect.worker import DetectionWorker
from app.domain import Detections
from app.run import timings

RUNNER_FRAME_WAIT_S = 1.0  # app/run/runner.py: a turn waits at most this for a fresh frame


def test_the_product_values_are_unchanged() -> None:
    t = DETECT_TIMEOUTS
    assert (t.hang_s, t.selftest_s, t.request_s, t.stuck_s) == (3.0, 9.0, 10.0, 30.0)


@pytest.mark.parametrize("hang_s", [0.25, 1.0, 3.0, 12.0])
def test_each_wait_outlasts_the_one_inside_it(hang_s: float) -> None:
    t = DetectTimeouts(hang_s=hang_s)
    assert t.hang_s < t.lane_worst_s < t.request_s < t.stuck_s
    assert t.request_s - t.lane_worst_s >= CPU_REDO_S  # room to redo the images on the CPU
    assert t.stuck_s >= t.request_s + RUNNER_FRAME_WAIT_S  # a whole slow turn is not "stuck"
    assert t.selftest_s > t.hang_s  # a fresh TPU's first call is given longer


@pytest.mark.parametrize("hang_s", [0.0, -1.0])
def test_a_wait_of_nothing_is_refused(hang_s: float) -> None:
    with pytest.raises(ValueError, match="hang_s"):
        DetectTimeouts(hang_s=hang_s)


def test_the_parts_default_to_the_one_owner() -> None:
    worker_default = inspect.signature(DetectionWorker.detect).parameters["timeout"].default
    supervisor_default = inspect.signature(SupervisedDetector.__init__).parameters["timeouts"].default
    assert worker_default == DETECT_TIMEOUTS.request_s
    assert supervisor_default is DETECT_TIMEOUTS


def test_the_service_waits_are_the_derived_ones() -> None:
    """The worker request and the stuck check the service uses (app/run/timings.py) are these."""
    service = (timings.DETECT_TIMEOUT_S, timings.STUCK_AFTER_S)
    assert service == (DETECT_TIMEOUTS.request_s, DETECT_TIMEOUTS.stuck_s)


class _Tpu:
    """Answers at once until `hang` is set, then blocks until `release` (a wedged Coral)."""

    info = DetectorInfo("edgetpu", "usb:0", "stub", "-", "test", (300, 300))

    def __init__(self) -> None:
        self.hang = threading.Event()
        self.release = threading.Event()

    def detect(self, image: Image, min_score: float = 0.0) -> Detections:  # noqa: ARG002 - the Detector protocol
        if self.hang.is_set():
            self.release.wait(30)
        return Detections((), 1.0)

    def close(self) -> None:
        self.release.set()


class _Cpu:
    info = DetectorInfo("cpu", None, "stub", "-", "test", (300, 300))

    def detect(self, image: Image, min_score: float = 0.0) -> Detections:  # noqa: ARG002 - the Detector protocol
        return Detections((), 2.0)

    def close(self) -> None:
        pass


def test_a_hung_tpu_is_given_up_inside_the_workers_wait() -> None:
    """In order, for real: the lane abandons the TPU and the CPU answers before the worker's
    request times out, so the frame is detected, not lost."""
    t = DetectTimeouts(hang_s=0.2)
    tpu = _Tpu()
    supervised = SupervisedDetector(lambda: tpu, _Cpu(), test=lambda _d: None, timeouts=t, probe_s=60.0)
    worker = DetectionWorker(supervised)
    worker.start()
    try:
        assert supervised.info.backend == "edgetpu"
        tpu.hang.set()
        result = worker.detect("cam", [np.zeros((8, 8, 3), np.uint8)], 0.0, t.request_s)
        assert result is not None
        assert result[0].inference_ms == 2.0  # the CPU's answer, within the request
        assert supervised.state().degraded is not None
        assert worker.busy_for() < t.stuck_s
    finally:
        tpu.release.set()
        worker.stop()
        supervised.close()
