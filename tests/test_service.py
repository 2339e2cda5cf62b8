"""The live appliance core end to end: real RTSP cameras → motion → regions → the real
detector → tracking, driven by the service as `edgewatch run` drives it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from app.analysis.camera import Outcome
from app.analysis.pipeline import FrameResult
from app.capture import Camera
from app.config import Config, Mode, parse_config
from app.demo.clip import ClipInfo
from app.detect.base import DetectorInfo, Image
from app.detect.engine import TfliteDetector
from app.domain import Alert, Detections, Frame
from app.run.schedules import Every
from app.run.service import Service
from app.store import RetentionReport, Store
from tests.support.rtsp import RtspCamera
from tests.support.waiting import wait_until


def config_for(urls: dict[str, str], detect_fps: float = 5, rules: str = "") -> Config:
    cameras = "\n".join(f"  {name}:\n    source: {url}\n    detect_fps: {detect_fps}" for name, url in urls.items())
    return parse_config(f"node_id: test\ncameras:\n{cameras}\ndetector: {{type: cpu}}\n{rules}")


@pytest.fixture
def evidence(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "state", retain_days=7, max_mb=64) as opened:
        yield opened


@contextmanager
def running(service: Service) -> Iterator[Service]:
    service.start()
    try:
        yield service
    finally:
        service.stop()


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.results: list[FrameResult] = []
        self.alerts: list[Alert] = []

    def __call__(self, outcome: Outcome) -> None:
        with self.lock:
            self.results.append(outcome.result)
            self.alerts.extend(outcome.alerts)

    def first_pass(self, camera: str, frames: int) -> list[FrameResult]:
        """Results for the clip's first pass (the server loops it; a second pass is a new visit)."""
        with self.lock:
            return [r for r in self.results if r.frame.camera == camera and r.frame.seq <= frames]


def confirmed_ids(results: list[FrameResult], label: str) -> set[str]:
    return {t.id for r in results for t in r.tracks if t.confirmed and t.label == label}


def test_a_person_crossing_is_one_confirmed_track_and_an_empty_scene_none(
    person_clip: ClipInfo,
    empty_clip: ClipInfo,
    rtsp_cameras: Callable[..., RtspCamera],
    person_detector: TfliteDetector,
    evidence: Store,
) -> None:
    """With the person SSD: on this clip the COCO NanoDet loses her for over 2 s mid-walk
    (scores 0.3-0.5 once the light fades) and she comes back as a second track."""
    detector = person_detector
    assert person_clip.annexb is not None
    assert empty_clip.annexb is not None
    walk, still = rtsp_cameras(person_clip.annexb), rtsp_cameras(empty_clip.annexb)
    recorder = Recorder()
    rule = "rules: [{name: anyone, objects: [person], min_dwell: 1s, cooldown: 60s}]\n"
    service = Service(config_for({"walk": walk.url, "still": still.url}, rules=rule), detector, evidence)
    service.add_listener(recorder)
    with running(service):
        passed = wait_until(
            lambda: all(
                (f := r.camera.slot.peek()) is not None and f.seq > person_clip.frames for r in service.runners.values()
            ),
            person_clip.seconds + 15,
        )
        status = service.status()
    assert passed, status
    walk_results = recorder.first_pass("walk", person_clip.frames)
    people = confirmed_ids(walk_results, "person")
    assert len(people) == 1, people  # one stable id for the whole crossing
    (her,) = people
    seen = [r for r in walk_results if any(t.id == her for t in r.tracks)]
    assert len(seen) >= 0.5 * person_clip.seconds * 0.8 * 5, len(seen)  # followed through most of the walk
    assert confirmed_ids(recorder.first_pass("still", empty_clip.frames), "person") == set()
    # Two cameras on one detector: neither starves.
    by_camera = {c.name: c for c in status.cameras}
    assert all(c.online for c in by_camera.values()), status
    assert by_camera["walk"].fps_detect >= 3.0, status
    assert by_camera["still"].fps_detect >= 3.0, status
    assert status.detector.backend == "cpu"
    assert status.detector.inference_ms > 0
    # Her visit is evidence: one event with its best snapshot, one alert, stored durably.
    walk_alerts = [a for a in recorder.alerts if a.camera == "walk"]
    assert [a.rule for a in walk_alerts] == ["anyone"]
    assert not [a for a in recorder.alerts if a.camera == "still"]
    assert [a.id for a in evidence.alerts()] == [walk_alerts[0].id]
    event = evidence.event(walk_alerts[0].event_id)
    assert event is not None
    assert event.camera == "walk"
    assert event.label == "person"
    snapshot = evidence.snapshot_path(event.id)
    assert snapshot is not None
    assert snapshot.stat().st_size > 10_000


class SlowDetector:
    """The real detector made slow (a Pi CPU, a USB2 Coral): 0.4 s per call."""

    def __init__(self, inner: TfliteDetector) -> None:
        self.inner = inner

    @property
    def info(self) -> DetectorInfo:
        return self.inner.info

    def detect(self, image: Image, min_score: float = 0.0) -> Detections:
        time.sleep(0.4)  # scenario: the slow accelerator itself
        return self.inner.detect(image, min_score)

    def close(self) -> None:
        pass


def test_a_slow_detector_always_gets_the_freshest_frame_and_drops_are_counted(
    person_clip: ClipInfo, rtsp_cameras: Callable[..., RtspCamera], detector: TfliteDetector, evidence: Store
) -> None:
    assert person_clip.annexb is not None
    camera = rtsp_cameras(person_clip.annexb)
    service = Service(config_for({"walk": camera.url}, detect_fps=5), SlowDetector(detector), evidence)
    runner = service.runners["walk"]
    lags: list[int] = []
    pipeline = runner.analysis.pipeline
    process = pipeline.process  # instrument the real pipeline: how old is what it gets?

    def measured(frame: Frame) -> FrameResult:
        newest = runner.camera.slot.peek()
        assert newest is not None
        lags.append(newest.seq - frame.seq)
        return process(frame)

    pipeline.process = measured  # type: ignore[method-assign]
    with running(service):
        assert wait_until(lambda: len(lags) >= 8, 20)
        status = service.status().cameras[0]
    assert max(lags) <= 1, lags  # never a backlog: the newest frame (or one racing in) is worked on
    assert status.dropped > 0, status
    assert status.fps_detect < 5.0, status
    assert status.fps_in >= 9.0, status  # capture keeps its pace whatever detection does
    # The status says how far behind the camera detection is, not just a lower number.
    assert status.detect_fps_target == 5.0, status
    assert status.behind, status
    assert status.lag_s is not None, status
    assert status.lag_s >= 0.4, status  # at least one slow call per result


def test_the_mode_survives_a_restart(tmp_path: Path, detector: TfliteDetector, person_clip: ClipInfo) -> None:
    config = config_for({"demo": str(person_clip.path)})
    assert config.mode is Mode.AWAY
    with Store(tmp_path / "state", retain_days=7, max_mb=64) as first:
        service = Service(config, detector, first)
        assert service.mode is Mode.AWAY
        service.set_mode(Mode.DISARMED)
        assert service.status().mode == "disarmed"
    with Store(tmp_path / "state", retain_days=7, max_mb=64) as second:
        assert Service(config, detector, second).mode is Mode.DISARMED  # not the config's `away`


def test_two_edge_tpus_share_the_cameras_out(
    person_clip: ClipInfo, empty_clip: ClipInfo, rtsp_cameras: Callable[..., RtspCamera], evidence: Store
) -> None:
    from tests.detect.test_supervisor import FakeTpu

    assert person_clip.annexb is not None
    assert empty_clip.annexb is not None
    walk, still = rtsp_cameras(person_clip.annexb), rtsp_cameras(empty_clip.annexb)
    tpus = [FakeTpu("usb:0"), FakeTpu("usb:1")]
    service = Service(config_for({"walk": walk.url, "still": still.url}), tpus, evidence)
    try:
        with running(service):
            # The quiet camera is only swept now and then; the walking one keeps its TPU busy.
            assert wait_until(lambda: tpus[0].calls >= 10 and tpus[1].calls >= 1, 20), [t.calls for t in tpus]
            status = service.status()
    finally:
        for tpu in tpus:
            tpu.close()
    assert status.detector.device == "usb:0, usb:1"
    assert status.detector.backend == "edgetpu"
    by_camera = {c.name: c for c in status.cameras}
    assert by_camera["walk"].fps_detect >= 3.0, status
    assert by_camera["still"].fps_detect >= 3.0, status


class WedgingSource:
    """A camera that streams until `wedge` is set, then blocks in every read (a stream wedged
    inside FFmpeg) until `release` is."""

    fps = 10.0

    def __init__(self, wedge: threading.Event, release: threading.Event) -> None:
        self.wedge = wedge
        self.release = release

    def read(self) -> npt.NDArray[np.uint8] | None:
        if not self.wedge.wait(0.1):
            return np.zeros((48, 64, 3), np.uint8)
        self.release.wait()
        return None

    def close(self) -> None:
        pass


def test_a_retention_pass_that_never_ends_does_not_hold_up_the_camera_hang_checks(
    detector: TfliteDetector, evidence: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Retention may vacuum a big database on a slow SD card for minutes; a camera read that hangs
    meanwhile must still be abandoned for a fresh reader after `hang_after`."""
    release = threading.Event()
    in_retention = threading.Event()
    enforce = evidence.enforce_retention

    def stuck(now: float) -> RetentionReport:
        in_retention.set()
        release.wait()
        return enforce(now)

    monkeypatch.setattr(evidence, "enforce_retention", stuck)
    service = Service(config_for({"porch": "rtsp://127.0.0.1:9/none"}), detector, evidence)
    runner = service.runners["porch"]
    # The camera wedges only once retention is stuck: the hang is there to find after that.
    source = WedgingSource(in_retention, release)
    runner.camera = Camera("porch", "wedge://", open_source=lambda _: source, hang_after=1.0)
    with running(service):
        try:
            assert in_retention.wait(10), "retention never ran"
            assert runner.camera.health().stalls == 0
            assert wait_until(lambda: runner.camera.health().stalls >= 1, 10), runner.camera.health()
            assert not release.is_set()  # retention is still stuck ...
            assert service.health().ok, service.health()  # ... and the service is healthy all the same
        finally:
            release.set()  # lets the retention pass and the readers end, so stop() is quick


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_schedule_runs_its_job_each_period_and_a_job_that_raises_ends_it() -> None:
    turns: list[float] = []
    ticking = Every("ticks", 0.05, lambda: turns.append(time.monotonic()))

    def fail() -> None:
        raise OSError("disk gone")

    failing = Every("failing", 0.05, fail)
    ticking.join(1.0)  # never started: returns at once
    ticking.start()
    failing.start()
    try:
        assert wait_until(lambda: len(turns) >= 3, 5), turns
        assert wait_until(lambda: not failing.alive(), 5)  # the health check reports it from here
        assert ticking.alive()
    finally:
        ticking.stop()
        ticking.join(5.0)
    assert not ticking.alive()
