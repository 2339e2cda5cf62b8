"""Edge TPU lifecycle with the real model: a stand-in "TPU" (the real CPU model dressed as
one) fails, hangs, vanishes and returns on cue; the real CPU model is the fallback."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

from app.config import DetectorConfig
from app.detect import open_detector
from app.detect.base import Detector, DetectorInfo, EdgeTpuUnavailable, Image
from app.detect.devices import TpuDevice
from app.detect.engine import TfliteDetector
from app.detect.factory import open_detectors
from app.detect.supervisor import DetectorState, SupervisedDetector, selftest
from app.detect.timeouts import DetectTimeouts
from app.domain import Detections
from tests.conftest import photo
from tests.support.waiting import wait_until

ASTRONAUT = photo("astronaut")


class FakeTpu:
    """The real CPU model reporting itself as an Edge TPU, with faults on cue."""

    def __init__(self, device: str = "usb:0", *, blind: bool = False) -> None:
        self.inner = open_detector(DetectorConfig(type="cpu"))
        self.device = device
        self.blind = blind  # answers, but sees nothing (a TPU returning garbage)
        self.fail = threading.Event()
        self.hang = threading.Event()
        self.release = threading.Event()
        self.closed = False
        self.calls = 0

    @property
    def info(self) -> DetectorInfo:
        return replace(self.inner.info, backend="edgetpu", device=self.device)

    def detect(self, image: Image, min_score: float = 0.0) -> Detections:
        self.calls += 1
        if self.hang.is_set():
            self.release.wait(30)
        if self.fail.is_set():
            raise RuntimeError("Failed to invoke: USB transfer error")
        result = self.inner.detect(image, min_score)
        return Detections((), result.inference_ms) if self.blind else result

    def close(self) -> None:
        self.closed = True
        self.inner.close()


class Bench:
    """A supervised detector whose TPU can be plugged, unplugged and replaced."""

    def __init__(self, fallback: Detector, *, plugged: bool = True, quiet_absence: bool = False) -> None:
        self.plugged = plugged
        self.presence_checks = 0  # how often the supervisor (its prober) looked for the device
        self.next_tpu: Callable[[], FakeTpu] = FakeTpu
        self.tpus: list[FakeTpu] = []
        self.states: list[DetectorState] = []
        self.supervisor = SupervisedDetector(
            self._open,
            fallback,
            present=self._present,
            timeouts=DetectTimeouts(hang_s=1.0),
            probe_s=0.2,
            quiet_absence=quiet_absence,
        )
        self.supervisor.add_listener(self.states.append)

    def _present(self) -> bool:
        self.presence_checks += 1
        return self.plugged

    def _open(self) -> FakeTpu:
        if not self.plugged:
            raise EdgeTpuUnavailable("no Edge TPU answered on usb", "no Edge TPU found")
        tpu = self.next_tpu()
        self.tpus.append(tpu)
        return tpu

    @property
    def tpu(self) -> FakeTpu:
        return self.tpus[-1]


@pytest.fixture
def make_bench(detector: TfliteDetector) -> Iterator[Callable[..., Bench]]:
    benches: list[Bench] = []

    def make(**kwargs: bool) -> Bench:
        bench = Bench(Shared(detector), **kwargs)
        benches.append(bench)
        return bench

    yield make
    for bench in benches:
        for tpu in bench.tpus:
            tpu.release.set()
        bench.supervisor.close()


class Shared:
    """The session's CPU detector as a fallback that the supervisor may not close."""

    def __init__(self, inner: TfliteDetector) -> None:
        self.inner = inner

    @property
    def info(self) -> DetectorInfo:
        return self.inner.info

    def detect(self, image: Image, min_score: float = 0.0) -> Detections:
        return self.inner.detect(image, min_score)

    def close(self) -> None:
        pass


def people(result: Detections) -> list[float]:
    return [d.score for d in result.items if d.label == "person" and d.score >= 0.5]


def test_the_self_test_passes_on_the_real_model_and_fails_on_a_blind_one(detector: TfliteDetector) -> None:
    assert selftest(detector) is None
    blind = FakeTpu(blind=True)
    try:
        problem = selftest(blind)
    finally:
        blind.close()
    assert problem is not None
    assert "self-test failed" in problem


def test_a_healthy_tpu_serves_and_nothing_is_degraded(make_bench: Callable[..., Bench]) -> None:
    bench = make_bench()
    sup = bench.supervisor
    assert sup.info.backend == "edgetpu"
    assert sup.state().degraded is None
    assert people(sup.detect(ASTRONAUT, 0.3))
    assert bench.states == []  # no switch happened after start, so nothing to announce


def test_a_failing_tpu_hands_the_same_frame_to_the_cpu_and_says_so(make_bench: Callable[..., Bench]) -> None:
    bench = make_bench()
    sup = bench.supervisor
    bench.tpu.fail.set()
    bench.plugged = False  # and it is gone from the bus: the prober waits for it
    result = sup.detect(ASTRONAUT, 0.3)
    assert people(result)  # the frame was not lost
    state = sup.state()
    assert state.info.backend == "cpu"
    assert state.degraded is not None
    assert "USB transfer error" in state.degraded
    assert sup.info.note == state.degraded  # status shows why
    assert bench.states[-1].degraded == state.degraded


def test_a_hung_tpu_is_abandoned_within_seconds(make_bench: Callable[..., Bench]) -> None:
    bench = make_bench()
    sup = bench.supervisor
    bench.plugged = False
    bench.tpu.hang.set()
    started = time.monotonic()
    result = sup.detect(ASTRONAUT, 0.3)
    took = time.monotonic() - started
    assert people(result), took
    assert took < 5.0, took
    assert sup.state().degraded is not None
    assert "did not answer" in (sup.state().degraded or "")
    # The next calls go straight to the CPU: no waiting on the wedged TPU again.
    wedged, asked = bench.tpu, bench.tpu.calls
    started = time.monotonic()
    assert people(sup.detect(ASTRONAUT, 0.3))
    assert wedged.calls == asked  # the wedged TPU was not even asked
    # Generous (a loaded box runs the CPU model slowly): far below the TPU's 30 s hang.
    assert time.monotonic() - started < 5.0


def test_an_unplugged_tpu_comes_back_by_itself_after_the_self_test(make_bench: Callable[..., Bench]) -> None:
    bench = make_bench()
    sup = bench.supervisor
    bench.tpu.fail.set()
    bench.plugged = False
    sup.detect(ASTRONAUT, 0.3)
    assert sup.info.backend == "cpu"
    # Unplugged: the prober looks (three more times) but does not even try to open it.
    checks = bench.presence_checks
    assert wait_until(lambda: bench.presence_checks >= checks + 3, 10), bench.presence_checks
    assert len(bench.tpus) == 1
    bench.plugged = True  # replugged: a fresh, healthy device
    assert wait_until(lambda: sup.info.backend == "edgetpu", 5.0)
    assert len(bench.tpus) == 2
    assert sup.state().degraded is None
    assert bench.states[-1].degraded is None
    assert bench.states[-2].degraded is not None
    assert people(sup.detect(ASTRONAUT, 0.3))


def test_a_returning_tpu_that_fails_the_self_test_is_not_trusted(make_bench: Callable[..., Bench]) -> None:
    bench = make_bench()
    sup = bench.supervisor
    bench.next_tpu = lambda: FakeTpu(blind=True)
    bench.tpu.fail.set()
    sup.detect(ASTRONAUT, 0.3)
    assert wait_until(lambda: len(bench.tpus) >= 2, 5.0)
    # The self-test's verdict is the event: once it is announced, the switch was decided against.
    assert wait_until(lambda: "self-test failed" in (sup.state().degraded or ""), 10), sup.state()
    state = sup.state()
    assert state.info.backend == "cpu"
    assert "self-test failed" in (state.degraded or "")
    assert people(sup.detect(ASTRONAUT, 0.3))


def test_auto_without_any_tpu_is_plain_cpu_until_one_is_plugged_in(make_bench: Callable[..., Bench]) -> None:
    bench = make_bench(plugged=False, quiet_absence=True)
    sup = bench.supervisor
    assert sup.info.backend == "cpu"
    assert sup.state().degraded is None
    assert sup.info.note is None
    assert bench.states == []  # nothing to announce: the CPU was the plan
    bench.plugged = True
    assert wait_until(lambda: sup.info.backend == "edgetpu", 5.0)
    assert people(sup.detect(ASTRONAUT, 0.3))


def test_edgetpu_asked_for_and_absent_starts_degraded(make_bench: Callable[..., Bench]) -> None:
    bench = make_bench(plugged=False)
    state = bench.supervisor.state()
    assert state.info.backend == "cpu"
    assert "no Edge TPU found" in (state.degraded or "")
    assert bench.supervisor.info.note == state.degraded  # status reads it from the start


def test_one_supervised_detector_per_edge_tpu() -> None:
    tpus = [
        TpuDevice("usb", 0, "/sys/bus/usb/devices/2-1", "18d1:9302", 5000, True),
        TpuDevice("usb", 1, "/sys/bus/usb/devices/2-2", "18d1:9302", 5000, True),
        TpuDevice("usb", 2, "/sys/bus/usb/devices/1-1", "1a6e:089a", 480, False),
    ]
    opened = open_detectors(DetectorConfig(type="edgetpu"), tpus=tpus)
    try:
        assert [d.device for d in opened if isinstance(d, SupervisedDetector)] == ["usb:0", "usb:1"]
        # No libedgetpu on this machine: each runs degraded on its own CPU model and says which TPU.
        assert [d.info.backend for d in opened] == ["cpu", "cpu"]
        assert "Edge TPU usb:0" in (opened[0].info.note or "")
        assert "Edge TPU usb:1" in (opened[1].info.note or "")
        assert people(opened[1].detect(ASTRONAUT, 0.3))
    finally:
        for d in opened:
            d.close()
    single = open_detectors(DetectorConfig(type="edgetpu"), tpus=tpus[:1])
    try:
        assert len(single) == 1
    finally:
        single[0].close()
