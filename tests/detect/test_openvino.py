"""`detector.type: openvino`: the real OpenVINO runtime on the real COCO models and real photos,
side by side with LiteRT; its config, its refusal of the person SSD, and the fall back to LiteRT
when OpenVINO is missing or its device is absent. OpenVINO is installed on x86_64 only (the dev
venv's `openvino` extra); elsewhere these tests skip, here a missing OpenVINO fails them."""

from __future__ import annotations

import json
import logging
import os
import platform
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from app.config import DetectorConfig, parse_config
from app.demo import photos
from app.detect import ModelError, ModelStore, open_detector, openvino, tflite
from app.detect.base import Image, OpenVinoUnavailable
from app.detect.devices import TpuDevice
from app.detect.engine import TfliteDetector
from app.detect.factory import open_detectors, open_supervised
from app.detect.preprocess import make_input_spec, prepare
from app.detect.supervisor import SupervisedDetector
from app.domain import Detection
from app.run.service import Service
from app.store import Store
from tests.config.test_loader import errors
from tests.conftest import ROOT, PhotoWriter, photo
from tests.detect.test_coco_detector import ASTRONAUT_PERSON, MOTORCYCLE, best

FALLBACK_NOTE = "OpenVINO is not installed; running on the CPU (LiteRT)"
SCORE_TOLERANCE = 0.05
PHOTOS = ("astronaut", "motorcycle", "coffee", "chelsea", "rocket")


def a_photo(name: str) -> Image:
    return photos.photo("stereo_motorcycle") if name == "motorcycle" else photo(name)


def require_openvino() -> None:
    """Skip where OpenVINO is not meant to be (not x86_64); fail where it is meant to be and is not."""
    try:
        openvino.runtime()
    except OpenVinoUnavailable as exc:
        if platform.machine() != "x86_64":
            pytest.skip("OpenVINO is installed on x86_64 only")
        pytest.fail(f"{exc} (`bash deploy/dev.sh setup` installs the dev venv's openvino extra)")


@pytest.fixture(scope="module", autouse=True)
def openvino_here() -> None:
    require_openvino()


@pytest.fixture(scope="module")
def ov_int8(store: ModelStore) -> Iterator[TfliteDetector]:
    det = open_detector(DetectorConfig(type="openvino"), store)
    yield det
    det.close()


@pytest.fixture(scope="module")
def ov_float(store: ModelStore) -> Iterator[TfliteDetector]:
    det = open_detector(DetectorConfig(type="openvino", model="coco:cpu-float"), store)
    yield det
    det.close()


@pytest.fixture(scope="module")
def lite_float(store: ModelStore) -> Iterator[TfliteDetector]:
    det = open_detector(DetectorConfig(type="cpu", model="coco:cpu-float"), store)
    yield det
    det.close()


@pytest.fixture
def no_openvino(monkeypatch: pytest.MonkeyPatch) -> None:
    """The import fails for real: openvino.py is pointed at a module that does not exist."""
    monkeypatch.setattr(openvino, "PACKAGE", "openvino_not_installed_here")


# -- what runs ----------------------------------------------------------------------------


def test_openvino_runs_the_default_coco_model_on_the_cpu(ov_int8: TfliteDetector) -> None:
    info = ov_int8.info
    assert (info.backend, info.device, info.model, info.family) == ("openvino", "CPU", "coco", "nanodet")
    assert info.runtime.startswith("openvino 2026.")
    assert info.note is None
    assert info.model_file.endswith("coco_nanodet_int8.tflite")
    assert info.input_size == (416, 416)


def test_the_int8_model_keeps_the_files_int8_tensors_and_quantization(store: ModelStore) -> None:
    """No conversion at the boundary: OpenVINO wants and gives int8 with the file's own scale and
    zero point, so its raw heads are LiteRT's to within a few quantization steps."""
    spec = store.spec("coco", "cpu")
    declared_input, declared_outputs = tflite.read_tensors(spec.path)
    ov = openvino.OpenVinoModel(spec.path, threads=2)
    lite = tflite.TfliteModel(spec.path, threads=2)
    try:
        assert ov.input.dtype == np.int8
        assert ov.input.shape == lite.input.shape
        assert ov.input.quantization == declared_input.quantization == lite.input.quantization
        assert ov.input.quantization[0] > 0  # quantized for real, not the float model's (0.0, 0)
        spec_in = make_input_spec(lite.input, spec.mean, spec.std, order=spec.order)
        tensor = prepare(photo("astronaut"), spec_in).copy()
        ov.run(tensor)
        lite.run(tensor)
        lite_index = {o.name: o.index for o in lite.outputs}
        assert {o.name for o in ov.outputs} == {t.name for t in declared_outputs} == set(lite_index)
        for out in ov.outputs:
            mine = ov.output_view(out.index)
            theirs = lite.output(lite_index[out.name])
            assert mine.dtype == np.int8
            assert mine.shape == out.shape == theirs.shape
            assert out.quantization == next(t.quantization for t in declared_outputs if t.name == out.name)
            steps = np.abs(mine.astype(np.int32) - theirs.astype(np.int32))
            assert np.percentile(steps, 99) <= 3, out.name
            if out.shape[2] == 80:  # class scores: in score units too
                assert steps.max() * out.quantization[0] <= SCORE_TOLERANCE, out.name
    finally:
        ov.close()
        lite.close()


def test_the_float_model_is_float32_through_and_through(ov_float: TfliteDetector, store: ModelStore) -> None:
    ov = openvino.OpenVinoModel(store.spec("coco:cpu-float", "cpu").path, threads=2)
    try:
        assert ov.input.dtype == np.float32
        assert ov.input.quantization == (0.0, 0)
        ov.run(np.zeros(ov.input.shape, np.float32))
        assert {ov.output_view(o.index).dtype for o in ov.outputs} == {np.dtype(np.float32)}
    finally:
        ov.close()
    assert ov_float.info.backend == "openvino"
    assert ov_float.info.model == "coco:cpu-float"


def _agree(a: tuple[Detection, ...], b: tuple[Detection, ...], floor: float, name: str) -> None:
    """Every detection of `a` at or over `floor` is in `b` (same label, score within the
    tolerance, the same place); `b` was asked for less, so a score just under is still seen."""
    for d in a:
        if d.score < floor:
            continue
        twin = max((e for e in b if e.label == d.label), key=lambda e: e.box.iou(d.box), default=None)
        assert twin is not None, f"{name}: {d.label} {d.score:.2f} missing"
        assert abs(twin.score - d.score) <= SCORE_TOLERANCE, (name, d, twin)
        assert twin.box.iou(d.box) >= 0.9, (name, d, twin)


@pytest.mark.parametrize(("ov", "lite"), [("ov_int8", "detector"), ("ov_float", "lite_float")])
@pytest.mark.parametrize("name", PHOTOS)
def test_openvino_and_litert_agree_on_real_photos(
    name: str, ov: str, lite: str, request: pytest.FixtureRequest
) -> None:
    """The same model file on both runtimes (int8: the default; float), the same photo."""
    ours_detector: TfliteDetector = request.getfixturevalue(ov)
    their_detector: TfliteDetector = request.getfixturevalue(lite)
    image = a_photo(name)
    ours, theirs = ours_detector.detect(image, 0.3).items, their_detector.detect(image, 0.3).items
    _agree(theirs, ours, 0.4, name)
    _agree(ours, theirs, 0.4, name)


def test_openvino_finds_what_is_there(ov_int8: TfliteDetector, ov_float: TfliteDetector) -> None:
    """Against boxes drawn by hand, not against LiteRT: agreeing on a wrong answer would pass above."""
    for det in (ov_int8, ov_float):
        person = best(det.detect(photo("astronaut"), 0.3).items, {"person"})
        assert person is not None
        assert person.score >= 0.6
        assert person.box.iou(ASTRONAUT_PERSON) >= 0.7
        bike = best(det.detect(a_photo("motorcycle"), 0.3).items, {"motorcycle"})
        assert bike is not None
        assert bike.score >= 0.6
        assert bike.box.iou(MOTORCYCLE) >= 0.7
        assert best(det.detect(photo("coffee"), 0.5).items, {"person", "car", "motorcycle"}) is None


def test_auto_lets_openvino_pick_a_device_and_reports_what_it_picked(store: ModelStore) -> None:
    det = open_detector(DetectorConfig(type="openvino", device="AUTO"), store)
    try:
        assert (det.info.backend, det.info.device) == ("openvino", "AUTO")
        person = best(det.detect(photo("astronaut"), 0.3).items, {"person"})
        assert person is not None
        assert person.score >= 0.6
    finally:
        det.close()


@pytest.mark.hardware
def test_an_intel_gpu_runs_the_model_and_agrees_with_litert(store: ModelStore, detector: TfliteDetector) -> None:
    gpus = [name for name in openvino.devices() if name.startswith("GPU")]
    if not gpus:
        pytest.skip("OpenVINO lists no GPU here")
    det = open_detector(DetectorConfig(type="openvino", device="GPU"), store)
    try:
        assert (det.info.backend, det.info.device, det.info.note) == ("openvino", "GPU", None)
        for name in ("astronaut", "motorcycle"):
            image = a_photo(name)
            _agree(detector.detect(image, 0.3).items, det.detect(image, 0.3).items, 0.5, name)
    finally:
        det.close()


# -- what does not run --------------------------------------------------------------------


def test_the_person_ssd_is_refused_at_start_with_the_fix(store: ModelStore) -> None:
    config = DetectorConfig(type="openvino", model="person")
    for opener in (open_detector, open_supervised):
        with pytest.raises(ModelError) as caught:
            opener(config, store)
        message = str(caught.value)
        assert "person_ssdlite_uint8.tflite cannot run on OpenVINO" in message
        assert "TFLite_Detection_PostProcess" in message
        assert "detector.model: coco" in message
        assert "detector.type: cpu" in message


def test_the_appliance_with_the_person_ssd_on_openvino_stops_at_start_without_a_traceback(tmp_path: Path) -> None:
    config = tmp_path / "edgewatch.yaml"
    config.write_text(
        f"cameras: {{door: {{source: {tmp_path / 'none.mp4'}}}}}\n"
        f"detector: {{type: openvino, model: person}}\nstorage: {{path: {tmp_path / 'state'}}}\n"
    )
    done = subprocess.run([sys.executable, "-m", "app", "run", "--config", str(config)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "cannot run on OpenVINO" in done.stderr
    assert "detector.model: coco" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


@pytest.mark.usefixtures("no_openvino")
def test_without_openvino_the_box_keeps_detecting_on_litert_degraded(
    store: ModelStore, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    with caplog.at_level(logging.INFO, logger="app.detect"):
        det = open_supervised(DetectorConfig(type="openvino"), store)
    try:
        info = det.info
        assert (info.backend, info.device, info.note) == ("cpu", None, FALLBACK_NOTE)
        assert info.runtime.startswith("ai_edge_litert")
        assert info.model == "coco"
        person = best(det.detect(photo("astronaut"), 0.3).items, {"person"})
        assert person is not None
        assert person.score >= 0.6
        logged = caplog.text
        assert "deploy/requirements-openvino.lock" in logged  # the fix, in the log
        assert "detector: coco on cpu (ai_edge_litert" in logged  # and what runs
        # ... and the service calls it degraded, with the reason
        cameras = parse_config(f"node_id: t\ncameras: {{door: {{source: {tmp_path / 'none.mp4'}}}}}\n")
        with Store(tmp_path / "state", retain_days=7, max_mb=64) as evidence:
            status = Service(cameras, det, evidence).status().detector
        assert (status.backend, status.degraded) == ("cpu", FALLBACK_NOTE)
    finally:
        det.close()


def test_openvino_is_not_imported_while_its_telemetry_is_installed(
    store: ModelStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With openvino-telemetry, `import openvino` sends usage data to Intel: not on this box."""
    monkeypatch.setattr(openvino, "TELEMETRY", "json")  # any module that is importable stands in
    det = open_supervised(DetectorConfig(type="openvino"), store)
    try:
        assert det.info.backend == "cpu"
        assert det.info.note == (
            "openvino-telemetry is installed (it would send usage data off the box); running on the CPU (LiteRT)"
        )
    finally:
        det.close()
    with pytest.raises(OpenVinoUnavailable, match=r"-m pip uninstall openvino-telemetry"):
        openvino.runtime()


def test_running_on_openvino_writes_nothing_to_home_and_loads_no_telemetry(
    tmp_path: Path, photo_file: PhotoWriter
) -> None:
    """The dev venv as deploy/dev.sh leaves it (and the installer's): no telemetry package, so no
    client id under ~/intel and nothing sent."""
    home = tmp_path / "home"
    home.mkdir()
    image = photo_file("astronaut", ".jpg")
    code = (
        "import sys, runpy; sys.argv = ['edgewatch', 'detect', sys.argv[1], '--type', 'openvino', '--json']\n"
        "try:\n    runpy.run_module('app', run_name='__main__')\n"
        "finally:\n    print('telemetry loaded:', 'openvino_telemetry' in sys.modules, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(image)], cwd=ROOT, env={**os.environ, "HOME": str(home)},
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["backend"] == "openvino", done.stderr
    assert "telemetry loaded: False" in done.stderr
    assert not any(home.iterdir()), list(home.rglob("*"))


def test_a_machine_whose_cpus_openvino_cannot_see_runs_litert_instead_of_hanging(
    store: ModelStore, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A bare chroot (no /proc, no /sys): OpenVINO's CPU plugin would spin forever listing devices."""
    monkeypatch.setattr(openvino, "TOPOLOGY", (tmp_path / "proc" / "cpuinfo", tmp_path / "sys" / "cpu"))
    det = open_supervised(DetectorConfig(type="openvino"), store)
    try:
        assert (det.info.backend, det.info.note) == (
            "cpu",
            "OpenVINO cannot see the CPUs (no /proc or /sys); running on the CPU (LiteRT)",
        )
    finally:
        det.close()


def test_a_module_that_only_has_openvinos_name_is_not_taken_for_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(openvino, "PACKAGE", "json")  # importable, but no Core
    with pytest.raises(OpenVinoUnavailable, match=r"the module imported as json \(.*json.*\) is not OpenVINO's"):
        openvino.runtime()


@pytest.mark.usefixtures("no_openvino")
def test_open_detector_falls_back_the_same_way(store: ModelStore) -> None:
    det = open_detector(DetectorConfig(type="openvino"), store)
    try:
        assert (det.info.backend, det.info.note) == ("cpu", FALLBACK_NOTE)
    finally:
        det.close()


def test_an_absent_device_falls_back_to_litert_saying_which(
    store: ModelStore, caplog: pytest.LogCaptureFixture
) -> None:
    assert "GPU.7" not in openvino.devices()
    with caplog.at_level(logging.WARNING, logger="app.detect"):
        det = open_supervised(DetectorConfig(type="openvino", device="GPU.7"), store)
    try:
        assert det.info.backend == "cpu"
        assert det.info.note == "OpenVINO device GPU.7 is not present; running on the CPU (LiteRT)"
        assert "OpenVINO finds: CPU" in caplog.text
        assert "detector.device: CPU" in caplog.text
    finally:
        det.close()


def test_openvino_gets_one_detector_even_with_edge_tpus_plugged_in(store: ModelStore) -> None:
    tpus = [TpuDevice("usb", i, f"/sys/bus/usb/devices/{i}-1", "18d1:9302", 5000, True) for i in range(2)]
    detectors = open_detectors(DetectorConfig(type="openvino"), store, tpus)
    try:
        assert [d.info.backend for d in detectors] == ["openvino"]
    finally:
        for d in detectors:
            d.close()


def test_auto_never_picks_openvino(store: ModelStore) -> None:
    """Installed and working here, OpenVINO is still only used when asked for."""
    det = open_supervised(DetectorConfig(), store)
    try:
        assert isinstance(det, SupervisedDetector)
        assert det.info.backend == "cpu"
        assert det.info.runtime.startswith("ai_edge_litert")
    finally:
        det.close()


def test_device_presence_follows_openvinos_names() -> None:
    assert openvino.is_present("CPU", ["CPU"])
    assert not openvino.is_present("GPU", ["CPU"])
    assert openvino.is_present("GPU", ["CPU", "GPU"])
    assert openvino.is_present("GPU.0", ["CPU", "GPU"])
    assert not openvino.is_present("GPU.1", ["CPU", "GPU"])
    assert openvino.is_present("GPU", ["GPU.0", "GPU.1"])
    assert openvino.is_present("GPU.1", ["GPU.0", "GPU.1"])
    assert openvino.is_present("AUTO", ["CPU"])
    assert not openvino.is_present("AUTO", [])


# -- config ---------------------------------------------------------------------------------


@pytest.mark.parametrize("device", ["CPU", "GPU", "GPU.1", "AUTO", None])
def test_openvino_device_names_as_openvino_spells_them(device: str | None) -> None:
    line = "" if device is None else f", device: {device}"
    config = parse_config(f"cameras: {{a: {{source: a.mp4}}}}\ndetector: {{type: openvino{line}}}\n")
    assert (config.detector.type, config.detector.device) == ("openvino", device)


@pytest.mark.parametrize(
    ("detector", "expected"),
    [
        (
            "{type: openvino, device: gpu}",
            "cfg.yaml:3:36: detector.device: 'gpu' is not an OpenVINO device: use CPU, GPU, GPU.N or AUTO; "
            "did you mean 'GPU'?",
        ),
        (
            "{type: openvino, device: usb:0}",
            "cfg.yaml:3:36: detector.device: 'usb:0' is not an OpenVINO device: use CPU, GPU, GPU.N or AUTO "
            "(that names an Edge TPU: detector.type auto or edgetpu)",
        ),
        (
            "{type: openvino, device: NPU}",
            "cfg.yaml:3:36: detector.device: 'NPU' is not an OpenVINO device: use CPU, GPU, GPU.N or AUTO",
        ),
        (
            "{type: edgetpu, device: GPU}",
            "cfg.yaml:3:35: detector.device: 'GPU' is not an Edge TPU device: use usb, usb:N, pci or pci:N "
            "(that names an OpenVINO device: set detector.type: openvino)",
        ),
        (
            "{device: CPU}",
            "cfg.yaml:3:20: detector.device: 'CPU' is not an Edge TPU device: use usb, usb:N, pci or pci:N "
            "(that names an OpenVINO device: set detector.type: openvino)",
        ),
    ],
)
def test_a_device_of_the_wrong_kind_is_reported_at_its_line(detector: str, expected: str) -> None:
    assert errors(f"\ncameras: {{a: {{source: a.mp4}}}}\ndetector: {detector}\n") == [expected]


def test_the_edge_tpu_names_still_validate_for_the_edge_tpu_types() -> None:
    for kind in ("auto", "edgetpu", "cpu"):
        for device in ("usb", "usb:1", "pci", "pci:0"):
            assert DetectorConfig(type=kind, device=device).device == device
    assert parse_config("cameras: {a: {source: a.mp4}}\n").detector.type == "auto"  # never openvino by default
