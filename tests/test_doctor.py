"""`edgewatch doctor` against real parts: the built model, a real RTSP camera, a real mosquitto,
real directories (and a real unprivileged user for the permission case). No Coral here:
libedgetpu is absent, which is itself one of the things doctor must report well."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from app.config import DetectorConfig, StorageConfig, parse_config
from app.demo.clip import ClipInfo
from app.detect import ModelStore, openvino, tflite
from app.detect.devices import TpuDevice
from app.doctor import (
    CameraProbes,
    Check,
    check_broker,
    check_clock,
    check_coral,
    check_disk,
    check_libedgetpu,
    check_models,
    check_openvino,
    cmd_doctor,
    config_secrets,
    ntp_synchronized,
    scrub,
)
from tests.conftest import ROOT
from tests.detect.test_edgetpu import NO_DEVICE_LIB
from tests.detect.test_openvino import require_openvino
from tests.support.mosquitto import Mosquitto, free_port
from tests.support.rtsp import RtspCamera

CHECK_NAMES = ["runtime", "libedgetpu", "coral", "models"]
TAIL_NAMES = ["broker", "disk", "clock"]


@pytest.fixture(autouse=True)
def no_libedgetpu(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Pin "not installed" even on a box that has it, so the statuses below are this machine's."""
    monkeypatch.setenv(tflite.EDGETPU_LIBRARY_ENV, str(tmp_path / "missing" / "libedgetpu.so.1"))


def doctor(capfd: pytest.CaptureFixture[str], config: Path | None, *, as_json: bool) -> tuple[int, str, str]:
    code = cmd_doctor(argparse.Namespace(config=config, json=as_json))
    out, err = capfd.readouterr()  # file descriptors: FFmpeg's own messages are included
    return code, out, err


def by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    checks = report["checks"]
    assert isinstance(checks, list)
    return {c["name"]: c for c in checks}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "edgewatch.yaml"
    path.write_text(text)
    return path


def test_the_demo_config_is_healthy_here_and_the_json_matches_the_contract(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, person_clip: ClipInfo
) -> None:
    monkeypatch.setenv("EDGEWATCH_DEMO_CLIP", str(person_clip.path))
    monkeypatch.setenv("EDGEWATCH_DEMO_STATE", str(tmp_path / "state"))
    code, out, _ = doctor(capfd, None, as_json=True)
    report = json.loads(out)
    assert set(report) == {"ok", "checks"}
    assert report["ok"] is True
    assert code == 0
    checks = by_name(report)
    assert list(checks) == [*CHECK_NAMES, "camera:demo", *TAIL_NAMES]
    for check in checks.values():
        assert set(check) == {"name", "status", "summary", "details"}
        assert check["status"] in ("ok", "warn", "skip")
        assert isinstance(check["summary"], str)
    assert checks["runtime"]["status"] == "ok"
    assert checks["runtime"]["summary"].startswith("ai_edge_litert 2.")
    assert checks["runtime"]["details"]["loads"] == "coco_nanodet_int8.tflite"
    assert checks["libedgetpu"]["status"] == "skip"  # the demo runs on the CPU: nothing to install
    assert checks["models"]["status"] == "ok"
    assert checks["models"]["details"]["selected"] == {"cpu": "coco:cpu (sha256 ok)"}
    assert checks["models"]["details"]["files"]["coco:edgetpu"] == "not installed"
    assert checks["camera:demo"]["status"] == "ok"
    assert checks["camera:demo"]["details"]["resolution"] == "1280x720"
    assert checks["broker"]["status"] == "skip"
    assert checks["disk"]["status"] == "ok"
    assert checks["disk"]["details"]["free_mb"] > 0
    assert not (tmp_path / "state").exists()  # doctor looks, it does not create


@pytest.mark.parametrize(("kind", "status"), [("auto", "warn"), ("edgetpu", "fail"), ("cpu", "skip")])
def test_missing_libedgetpu_fails_only_when_the_edge_tpu_is_required(kind: str, status: str) -> None:
    check = check_libedgetpu(DetectorConfig(type=kind))
    assert check.status == status
    assert "not installed" in check.summary
    if status != "skip":
        assert "libedgetpu1-std" in check.summary


def test_a_loadable_libedgetpu_is_ok(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    source = tmp_path / "fake.c"
    source.write_text(NO_DEVICE_LIB)
    library = tmp_path / "libedgetpu.so.1"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(library), str(source)], check=True)
    monkeypatch.setenv(tflite.EDGETPU_LIBRARY_ENV, str(library))
    check = check_libedgetpu(DetectorConfig(type="edgetpu"))
    assert (check.status, check.details["library"]) == ("ok", str(library))


def test_an_edgetpu_config_without_a_coral_exits_1(
    capfd: pytest.CaptureFixture[str], tmp_path: Path, person_clip: ClipInfo
) -> None:
    config = write(
        tmp_path,
        f"cameras: {{door: {{source: {person_clip.path}}}}}\ndetector: {{type: edgetpu}}\n"
        f"storage: {{path: {tmp_path / 'state'}}}\n",
    )
    code, out, _ = doctor(capfd, config, as_json=False)
    assert code == 1
    assert "[FAIL] libedgetpu: not installed, and detector.type is edgetpu" in out
    assert "[FAIL] coral: no Coral found" in out
    assert "[FAIL] models: no edgetpu model is available" in out
    assert "[ OK ] camera:door: 1280x720" in out
    assert out.rstrip().endswith("3 problem(s) found")


def test_coral_findings_depend_on_the_detector_type(tmp_path: Path) -> None:
    node = tmp_path / "bus" / "usb" / "002" / "003"
    node.parent.mkdir(parents=True)
    node.write_text("")
    fast = TpuDevice("usb", 0, "/sys/bus/usb/devices/2-1", "18d1:9302", 5000, True, busnum=2, devnum=3)
    slow = TpuDevice("usb", 0, "/sys/bus/usb/devices/1-1", "18d1:9302", 480, True, busnum=2, devnum=3)
    unplugged = TpuDevice("usb", 0, "/sys/bus/usb/devices/1-1", "18d1:9302", 5000, True, busnum=9, devnum=9)

    assert check_coral(DetectorConfig(type="edgetpu"), [], tmp_path).status == "fail"
    assert check_coral(DetectorConfig(type="auto"), [], tmp_path).status == "warn"
    assert check_coral(DetectorConfig(type="cpu"), [fast], tmp_path).status == "skip"
    ok = check_coral(DetectorConfig(type="edgetpu"), [fast], tmp_path)
    assert (ok.status, ok.summary) == ("ok", "usb:0 18d1:9302, 5000 Mb/s")
    usb2 = check_coral(DetectorConfig(type="auto"), [slow], tmp_path)
    assert usb2.status == "warn"
    assert "USB 2 port (480 Mb/s)" in usb2.summary
    pinned = check_coral(DetectorConfig(type="edgetpu", device="usb:1"), [fast], tmp_path)
    assert pinned.status == "fail"
    assert "usb:1" in pinned.summary
    assert "usb:0" in pinned.summary
    missing_node = check_coral(DetectorConfig(type="edgetpu"), [unplugged], tmp_path)
    assert missing_node.status == "warn"
    assert "009/009 does not exist" in missing_node.summary


def test_openvino_is_checked_when_it_is_asked_for(
    capfd: pytest.CaptureFixture[str], tmp_path: Path, person_clip: ClipInfo
) -> None:
    require_openvino()
    config = write(
        tmp_path,
        f"cameras: {{door: {{source: {person_clip.path}}}}}\ndetector: {{type: openvino}}\n"
        f"storage: {{path: {tmp_path / 'state'}}}\n",
    )
    code, out, _ = doctor(capfd, config, as_json=True)
    checks = by_name(json.loads(out))
    assert list(checks) == ["runtime", "openvino", "libedgetpu", "coral", "models", "camera:door", *TAIL_NAMES]
    assert code == 0, out
    found = checks["openvino"]
    assert found["status"] == "ok", found
    assert found["summary"].startswith("openvino 2026."), found
    assert found["summary"].endswith("; reads coco_nanodet_int8.tflite")
    assert ", CPU: " in found["summary"]
    assert "CPU" in found["details"]["devices"]
    assert found["details"]["detector.device"] == "CPU"
    assert checks["libedgetpu"]["summary"] == "not installed (not needed: detector.type is openvino)"
    assert checks["coral"]["status"] == "skip"
    assert checks["models"]["details"]["selected"] == {"cpu": "coco:cpu (sha256 ok)"}


def test_openvino_findings_each_say_what_to_do(store: ModelStore, monkeypatch: pytest.MonkeyPatch) -> None:
    require_openvino()
    ssd = check_openvino(DetectorConfig(type="openvino", model="person"), store)
    assert ssd.status == "fail"
    assert "TFLite_Detection_PostProcess" in ssd.summary
    assert "detector.model: coco" in ssd.summary
    absent = check_openvino(DetectorConfig(type="openvino", device="GPU.7"), store)
    assert absent.status == "fail"
    assert absent.summary.startswith("OpenVINO device GPU.7 is not present here")
    assert absent.summary.endswith("Until then detection runs on the CPU (LiteRT)")
    monkeypatch.setattr(openvino, "PACKAGE", "openvino_not_installed_here")
    missing = check_openvino(DetectorConfig(type="openvino"), store)
    assert missing.status == "fail"
    assert missing.summary.startswith("OpenVINO is not installed")
    assert "deploy/requirements-openvino.lock" in missing.summary


def test_rtsp_cameras_live_and_dead_with_their_passwords_kept_out_of_the_report(
    capfd: pytest.CaptureFixture[str],
    tmp_path: Path,
    person_clip: ClipInfo,
    rtsp_cameras: Callable[..., RtspCamera],
) -> None:
    assert person_clip.annexb is not None
    live = rtsp_cameras(person_clip.annexb)
    closed = free_port()
    live_url = live.url.replace("rtsp://", "rtsp://viewer:t0psecret@")
    config = write(
        tmp_path,
        f"cameras:\n  porch: {{source: '{live_url}'}}\n"
        f"  gate: {{source: 'rtsp://admin:s3cret@127.0.0.1:{closed}/x'}}\n"
        f"detector: {{type: cpu}}\nstorage: {{path: {tmp_path / 'state'}}}\n",
    )
    code, out, err = doctor(capfd, config, as_json=False)
    assert code == 1
    assert "[ OK ] camera:porch: 1280x720, first frame in" in out
    assert f"[FAIL] camera:gate: rtsp://admin:***@127.0.0.1:{closed}/x: connection refused on port {closed}" in out
    assert "viewer:***@127.0.0.1" in out

    code, out_json, err_json = doctor(capfd, config, as_json=True)
    checks = by_name(json.loads(out_json))
    assert code == 1
    assert list(checks) == [*CHECK_NAMES, "camera:porch", "camera:gate", *TAIL_NAMES]
    assert checks["camera:porch"]["details"]["resolution"] == "1280x720"
    assert checks["camera:porch"]["details"]["source"] == live.url.replace("rtsp://", "rtsp://viewer:***@")
    assert checks["camera:gate"]["status"] == "fail"
    for text in (out, err, out_json, err_json):
        assert "s3cret" not in text
        assert "t0psecret" not in text


def test_silent_cameras_are_probed_in_parallel_and_cut_off_at_the_deadline() -> None:
    """Ports that accept TCP and then say nothing, like a wedged camera: FFmpeg would wait 5 s each."""
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(3):
            listener = stack.enter_context(socket.create_server(("127.0.0.1", 0)))
            ports.append(listener.getsockname()[1])
        started = time.monotonic()
        checks = CameraProbes({f"cam{i}": f"rtsp://u:hush-hush@127.0.0.1:{p}/s" for i, p in enumerate(ports)}, 1.0)
        results = checks.collect()
        elapsed = time.monotonic() - started
    assert elapsed < 2.5, elapsed  # one shared 1 s deadline, not one per camera (3 s)
    assert [r.name for r in results] == ["camera:cam0", "camera:cam1", "camera:cam2"]
    for result in results:
        assert result.status == "fail"
        assert result.summary.startswith("no frame within 1 s")
        assert str(result.details["source"]).startswith("rtsp://u:***@127.0.0.1:")


def test_the_broker_login_is_checked_for_real(mosquitto_broker: Callable[..., Mosquitto], tmp_path: Path) -> None:
    broker = mosquitto_broker(users={"edge": "pa55-word"})
    good = tmp_path / "good"
    good.write_text("pa55-word\n")
    config = parse_config(
        f"cameras: {{a: {{source: /x.mp4}}}}\n"
        f"mqtt: {{host: 127.0.0.1, port: {broker.port}, username: edge, password_file: {good}}}\n"
    )
    check = check_broker(config.mqtt, config.node_id)
    assert check.status == "ok", check.summary
    assert check.summary == f"MQTT login accepted by 127.0.0.1:{broker.port} as 'edge'"
    assert "pa55-word" not in json.dumps(check.details)

    broker.stop()
    down = check_broker(config.mqtt, config.node_id)
    assert down.status == "fail"
    assert "connection refused" in down.summary


def test_a_refused_login_is_named_and_the_password_never_printed(
    capfd: pytest.CaptureFixture[str],
    mosquitto_broker: Callable[..., Mosquitto],
    tmp_path: Path,
    person_clip: ClipInfo,
) -> None:
    broker = mosquitto_broker(users={"edge": "pa55-word"})
    wrong = tmp_path / "wrong"
    wrong.write_text("wr0ng-secret\n")
    config = write(
        tmp_path,
        f"cameras: {{door: {{source: {person_clip.path}}}}}\ndetector: {{type: cpu}}\n"
        f"mqtt: {{host: 127.0.0.1, port: {broker.port}, username: edge, password_file: {wrong}}}\n"
        f"storage: {{path: {tmp_path / 'state'}}}\n",
    )
    code, out, err = doctor(capfd, config, as_json=True)
    broker_check = by_name(json.loads(out))["broker"]
    assert code == 1
    assert broker_check["status"] == "fail"
    assert "refused the login" in broker_check["summary"]
    assert "'edge'" in broker_check["summary"]
    assert broker_check["details"]["password_file"] == str(wrong)
    assert "wr0ng-secret" not in out + err


def test_storage_that_cannot_be_created_or_written_fails(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    under_file = check_disk(StorageConfig(path=str(blocker / "state")))
    assert under_file.status == "fail"
    assert f"{blocker} is a file, not a directory" in under_file.summary

    fine = check_disk(StorageConfig(path=str(tmp_path / "new" / "state")))
    assert fine.status == "ok"
    assert "created at first run" in fine.summary
    assert not (tmp_path / "new").exists()

    huge = check_disk(StorageConfig(path=str(tmp_path), max_mb=1 << 40))
    assert huge.status == "warn"
    assert "set storage.max_mb to about" in huge.summary


def test_storage_the_service_user_may_not_write_fails() -> None:
    """A real unprivileged user (nobody, through setpriv) against a root-owned directory."""
    folder = Path(tempfile.mkdtemp(prefix="doctor-disk-"))
    try:
        folder.chmod(0o755)
        code = (
            "import json, sys; from app.config import StorageConfig; from app.doctor import check_disk; "
            f"c = check_disk(StorageConfig(path={str(folder / 'state')!r})); print(json.dumps([c.status, c.summary]))"
        )
        if os.geteuid() == 0:
            if shutil.which("setpriv") is None:
                pytest.skip("setpriv (util-linux) is needed to drop to an unprivileged user")
            command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", code]
        else:
            folder.chmod(0o555)
            command = [sys.executable, "-c", code]
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=30, check=False)
        assert done.returncode == 0, done.stderr
        status, summary = json.loads(done.stdout)
        assert status == "fail"
        assert "may not write in" in summary
        assert str(folder) in summary
    finally:
        folder.chmod(0o755)
        shutil.rmtree(folder)


def test_the_clock_check() -> None:
    booted = check_clock(datetime(1970, 1, 1, 0, 0, 42, tzinfo=UTC), None)
    assert booted.status == "fail"
    assert "1970-01-01" in booted.summary
    assert check_clock(datetime(2026, 3, 1, tzinfo=UTC), "yes").summary == "2026-03-01 00:00 UTC, NTP synchronised"
    assert check_clock(datetime(2026, 3, 1, tzinfo=UTC), "no").status == "warn"
    unknown = check_clock(datetime(2026, 3, 1, tzinfo=UTC), None)
    assert unknown.status == "ok"
    assert unknown.details["ntp"] == "unknown"
    assert ntp_synchronized() in ("yes", "no", None)  # this container has timedatectl but no systemd: None


def test_a_tampered_model_fails_and_an_idle_coral_without_its_model_warns(store: ModelStore, tmp_path: Path) -> None:
    root = tmp_path / "models"
    shutil.copytree(ROOT / "models" / "labels", root / "labels")
    shutil.copy(ROOT / "models" / "manifest.toml", root)
    (root / "build").mkdir()
    shutil.copy(ROOT / "models" / "build" / "SHA256SUMS", root / "build")
    data = bytearray((ROOT / "models" / "build" / "person_ssdlite_uint8.tflite").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (root / "build" / "person_ssdlite_uint8.tflite").write_bytes(bytes(data))

    tampered = check_models(DetectorConfig(type="cpu"), ModelStore(root), coral_found=False)
    assert tampered.status == "fail"
    assert "does not match its recorded sha256" in tampered.summary

    assert check_models(DetectorConfig(type="auto"), store, coral_found=False).status == "ok"
    idle = check_models(DetectorConfig(type="auto"), store, coral_found=True)
    assert idle.status == "warn"
    assert "no Edge TPU model is usable" in idle.summary


def test_a_bad_config_exits_2_with_file_line_col(capfd: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = write(tmp_path, "cameras:\n  door: {source: /x.mp4}\ndetector: {type: gpu}\n")
    code, out, err = doctor(capfd, config, as_json=True)
    assert code == 2
    assert out == ""
    assert f"{config}:3:" in err
    assert "detector.type" in err


def test_the_last_guard_scrubs_every_configured_secret(tmp_path: Path) -> None:
    password_file = tmp_path / "pw"
    password_file.write_text("br0ker-pass\n")
    config = parse_config(
        "cameras: {a: {source: 'rtsp://u:p%40ss-w0rd@10.0.0.2/s'}, b: {source: 'rtsp://u:abc@10.0.0.3/s'}}\n"
        f"mqtt: {{host: 10.0.0.1, username: edge, password_file: {password_file}}}\n"
    )
    found = config_secrets(config)
    assert set(found) == {"p%40ss-w0rd", "p@ss-w0rd", "br0ker-pass"}  # "abc" is too short to scrub safely
    assert scrub("p@ss-w0rd / br0ker-pass / 1280x720", found) == "*** / *** / 1280x720"
    assert Check("x", "ok", "y").details == {}


def test_the_edgewatch_command_runs_doctor(tmp_path: Path, person_clip: ClipInfo) -> None:
    usage = subprocess.run(
        [sys.executable, "-m", "app", "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert "doctor" in usage.stdout, usage.stdout
    config = write(
        tmp_path,
        f"cameras: {{door: {{source: {person_clip.path}}}}}\ndetector: {{type: cpu}}\n"
        f"storage: {{path: {tmp_path / 'state'}}}\n",
    )
    env = {**os.environ, tflite.EDGETPU_LIBRARY_ENV: str(tmp_path / "libedgetpu.so.1")}
    done = subprocess.run(
        [sys.executable, "-m", "app", "doctor", "--json", "--config", str(config)],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is True
    assert by_name(report)["camera:door"]["status"] == "ok"
    bad = write(tmp_path, "cameras: []\n")
    failed = subprocess.run([sys.executable, "-m", "app", "doctor", "--config", str(bad)],
                            capture_output=True, text=True, timeout=60, env=env, check=False)  # fmt: skip
    assert failed.returncode == 2
    assert f"{bad}:1:" in failed.stderr
