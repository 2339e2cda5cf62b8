"""The `edgewatch` command as an installer runs it (the console script, in a subprocess)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.demo.clip import ClipInfo
from app.domain import Box
from tests.conftest import FIXTURES, PhotoWriter
from tests.detect.test_detector import ASTRONAUT_PERSON

EDGEWATCH = str(Path(sys.executable).with_name("edgewatch"))


def edgewatch(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EDGEWATCH, *args], capture_output=True, text=True, timeout=timeout, check=False)


def test_detect_json_matches_the_spec(photo_file: PhotoWriter) -> None:
    astronaut, coffee = photo_file("astronaut"), photo_file("coffee", ".jpg")
    result = edgewatch("detect", str(astronaut), str(coffee), "--json")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["image"] for r in records] == [str(astronaut), str(coffee)]
    for record in records:
        assert set(record) == {"image", "detections", "inference_ms", "backend"}
        assert record["backend"] == "cpu"
        assert record["inference_ms"] > 0
    people = [d for d in records[0]["detections"] if d["label"] == "person"]
    assert people
    assert people[0]["score"] >= 0.6  # the default COCO NanoDet: 0.74
    assert set(people[0]) == {"label", "score", "box"}
    assert Box(*people[0]["box"]).iou(ASTRONAUT_PERSON) >= 0.7  # pixels of the 512x512 original
    assert not [d for d in records[1]["detections"] if d["label"] == "person"]
    assert "running on the CPU" in result.stderr  # auto says which backend it chose


def test_detect_human_output(photo_file: PhotoWriter) -> None:
    result = edgewatch("detect", str(photo_file("astronaut")), "--type", "cpu")
    assert result.returncode == 0
    assert re.search(r"astronaut\.png: person 0\.[6-9]\d", result.stdout)
    assert "cpu)" in result.stdout


def test_unreadable_images_exit_2_naming_the_file(photo_file: PhotoWriter, tmp_path: Path) -> None:
    good = photo_file("astronaut")
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(good.read_bytes()[:2000])
    missing = tmp_path / "missing.png"
    result = edgewatch("detect", str(corrupt), str(good), str(missing), "--json", "--type", "cpu")
    assert result.returncode == 2
    assert f"{corrupt}: not a decodable image" in result.stderr
    assert f"{missing}: cannot read" in result.stderr
    assert [json.loads(line)["image"] for line in result.stdout.splitlines()] == [str(good)]  # the good one still ran


def test_detect_edgetpu_without_a_tpu_is_a_clear_fatal_error(photo_file: PhotoWriter, tmp_path: Path) -> None:
    env = {**os.environ, "EDGEWATCH_EDGETPU_LIB": str(tmp_path / "libedgetpu.so.1")}
    result = subprocess.run(
        [EDGEWATCH, "detect", str(photo_file("astronaut")), "--type", "edgetpu"],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert "Edge TPU runtime is not installed" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_config(tmp_path: Path) -> None:
    ok = edgewatch("check-config", str(FIXTURES / "spec_example.yaml"))
    assert ok.returncode == 0
    assert "ok" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("cameras:\n  front:\n    source: a.mp4\n    detect_fps: 5\n    zonez: {}\n")
    result = edgewatch("check-config", str(bad))
    assert result.returncode == 2
    assert result.stderr.strip() == f"{bad}:5:5: cameras.front.zonez: unknown key 'zonez'; did you mean 'zones'?"


def test_run_with_a_bad_config_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("cameras: {}\n")
    result = edgewatch("run", "--config", str(bad))
    assert result.returncode == 2
    assert f"{bad}:1:10: cameras:" in result.stderr


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_run_demo_sees_the_person_and_stops_cleanly(
    signum: signal.Signals, person_clip: ClipInfo, tmp_path: Path
) -> None:
    env = {**os.environ, "EDGEWATCH_DEMO_CLIP": str(person_clip.path), "EDGEWATCH_DEMO_STATE": str(tmp_path / "state")}
    proc = subprocess.Popen([EDGEWATCH, "run"], stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stderr is not None
    started = time.monotonic()
    seen = ""
    while "camera demo: person demo-" not in seen and time.monotonic() - started < 30:
        line = proc.stderr.readline()
        if not line:
            break
        seen += line
    proc.send_signal(signum)
    assert proc.wait(timeout=15) == 0, seen
    assert "embedded demo" in seen
    assert "detector coco on cpu" in seen
    assert "camera demo: person demo-" in seen  # a newcomer sees a detection at once
    assert (tmp_path / "state" / "edgewatch.db").is_file()
