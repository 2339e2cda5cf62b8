"""Edge TPU selection: clear errors without a TPU, `auto` falls back to the CPU and says so.

No Coral is attached here: the library-missing path is real (no libedgetpu on this
machine); the no-device path uses a tiny stand-in libedgetpu built with gcc that
loads but reports no TPU, exactly as the real library does without a device.
The hardware test runs only where a real Coral and libedgetpu exist.
"""

from __future__ import annotations

import ctypes.util
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import DetectorConfig
from app.detect import EdgeTpuUnavailable, ModelStore, RuntimeUnavailable, open_detector, tflite
from tests.conftest import photo

NO_DEVICE_LIB = r"""
#include <stddef.h>
void *tflite_plugin_create_delegate(char **keys, char **values, size_t n, void (*report)(const char *)) {
    if (report) report("Failed to open device");
    return NULL;
}
void tflite_plugin_destroy_delegate(void *d) { (void)d; }
"""


@pytest.fixture
def no_libedgetpu(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(tflite.EDGETPU_LIBRARY_ENV, str(tmp_path / "libedgetpu.so.1"))


@pytest.fixture
def libedgetpu_without_device(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    source = tmp_path / "fake.c"
    source.write_text(NO_DEVICE_LIB)
    library = tmp_path / "libedgetpu.so.1"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(library), str(source)], check=True)
    monkeypatch.setenv(tflite.EDGETPU_LIBRARY_ENV, str(library))


@pytest.mark.usefixtures("no_libedgetpu")
def test_edgetpu_without_the_library_says_how_to_install_it(store: ModelStore) -> None:
    with pytest.raises(EdgeTpuUnavailable) as caught:
        open_detector(DetectorConfig(type="edgetpu"), store)
    message = str(caught.value)
    assert "not installed" in message
    assert "libedgetpu1-std" in message
    assert "detector.type: cpu" in message


@pytest.mark.usefixtures("libedgetpu_without_device")
def test_edgetpu_without_a_device_says_what_to_check(store: ModelStore) -> None:
    with pytest.raises(EdgeTpuUnavailable) as caught:
        open_detector(DetectorConfig(type="edgetpu", device="usb:1"), store)
    message = str(caught.value)
    assert "no Edge TPU answered on device 'usb:1'" in message
    assert "plugdev" in message
    assert "edgewatch doctor" in message


@pytest.mark.parametrize("fixture", ["no_libedgetpu", "libedgetpu_without_device"])
def test_auto_runs_on_the_cpu_and_says_why(
    store: ModelStore, request: pytest.FixtureRequest, fixture: str, caplog: pytest.LogCaptureFixture
) -> None:
    request.getfixturevalue(fixture)
    with caplog.at_level(logging.WARNING):
        det = open_detector(DetectorConfig(type="auto"), store)
    try:
        assert det.info.backend == "cpu"
        assert det.info.note is not None
        assert det.info.note.endswith("running on the CPU")
        assert any("running on the CPU" in r.getMessage() for r in caplog.records)
        assert any(d.label == "person" and d.score >= 0.6 for d in det.detect(photo("astronaut")).items)
    finally:
        det.close()


def test_missing_runtime_names_the_package_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in ("ai_edge_litert", "ai_edge_litert.interpreter", "tflite_runtime", "tflite_runtime.interpreter"):
        monkeypatch.setitem(sys.modules, module, None)  # None in sys.modules makes the import fail
    tflite.runtime.cache_clear()
    try:
        with pytest.raises(RuntimeUnavailable, match="pip install 'ai-edge-litert"):
            tflite.runtime()
    finally:
        monkeypatch.undo()
        tflite.runtime.cache_clear()
    assert tflite.runtime().name.startswith(("ai_edge_litert", "tflite_runtime"))


def _has_coral() -> bool:
    usb = Path("/sys/bus/usb/devices")
    ids = set()
    if usb.is_dir():
        for dev in usb.iterdir():
            try:
                ids.add(((dev / "idVendor").read_text().strip(), (dev / "idProduct").read_text().strip()))
            except OSError:
                continue
    found = bool(ids & {("1a6e", "089a"), ("18d1", "9302")}) or any(Path("/dev").glob("apex_*"))
    return found and ctypes.util.find_library("edgetpu") is not None


@pytest.mark.hardware
@pytest.mark.skipif(not _has_coral(), reason="no Coral Edge TPU and libedgetpu on this machine")
def test_real_edgetpu_detects_the_astronaut(store: ModelStore) -> None:
    det = open_detector(DetectorConfig(type="edgetpu", model=os.environ.get("EDGEWATCH_TPU_MODEL", "coco")), store)
    try:
        assert det.info.backend == "edgetpu"
        assert any(d.label == "person" and d.score >= 0.7 for d in det.detect(photo("astronaut")).items)
    finally:
        det.close()
