"""Camera passwords never shown (issue 15, security 5): the sources the attack used, through
the real service (its /api/status and its log, FFmpeg's own lines included) and the real
`edgewatch doctor`.

- an IP camera that takes its password in the query (`videostream.cgi?user=admin&pwd=...`),
  served for real as MJPEG on loopback, once with the right password and once with a wrong one;
- an RTSP URL whose password holds an unencoded `#`, `/` and `?`;
- an RTSP URL whose port is out of range (the old redaction raised on it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.detect import tflite
from tests.conftest import photo
from tests.support.appliance import Appliance, free_port
from tests.support.mjpeg import MjpegCamera

EDGEWATCH = str(Path(sys.executable).with_name("edgewatch"))
GOOD, WRONG = "Qu3ry-Pa55word", "Wr0ng-Pa55word"
ODD = "pa#ss/w?rd"  # the RTSP password: '#', '/' and '?' unencoded
PORT_PASSWORD = "P0rt-Pa55word"
SECRETS = (GOOD, WRONG, ODD, PORT_PASSWORD, "pa#ss", "w?rd")


@pytest.fixture
def camera() -> Iterator[MjpegCamera]:
    """A cheap IP camera: MJPEG at /videostream.cgi when ?pwd= is right, 401 otherwise."""
    with MjpegCamera([photo("astronaut")], fps=5, path="/videostream.cgi", password=GOOD) as cam:
        yield cam


def sources(camera: MjpegCamera) -> dict[str, str]:
    closed = free_port()
    return {
        "porch": camera.url_with(GOOD),
        "gate": camera.url_with(WRONG),
        "yard": f"rtsp://admin:{ODD}@127.0.0.1:{closed}/stream",
        "shed": f"rtsp://admin:{PORT_PASSWORD}@127.0.0.1:99999/stream",
    }


def shown_as(camera: MjpegCamera) -> dict[str, str]:
    return {
        "porch": f"http://127.0.0.1:{camera.port}/videostream.cgi?user=admin&pwd=***",
        "gate": f"http://127.0.0.1:{camera.port}/videostream.cgi?user=admin&pwd=***",
        "yard": "rtsp://admin:***@127.0.0.1:",
        "shed": "rtsp://admin:***@127.0.0.1:99999/stream",
    }


def assert_no_secret(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} shown in {where}:\n{text[-3000:]}"


def test_status_and_log_of_the_running_service_never_show_a_camera_password(
    tmp_path: Path, camera: MjpegCamera
) -> None:
    expected = shown_as(camera)
    with Appliance(tmp_path, sources(camera)) as box:

        def settled(status: dict[str, object]) -> bool:
            cams = {c["name"]: c for c in status["cameras"]}  # type: ignore[attr-defined]
            return bool(cams["porch"]["online"]) and all(cams[n]["error"] for n in ("gate", "yard", "shed"))

        text, status = box.wait_for_status(settled, timeout=45)
        # Kept: a reconnect or two more of the failing cameras into the log. Their retries are not
        # observable (the same failure is logged once, `reconnects` counts only successes, there is
        # no attempt counter in /api/status), so 1 s is the bound: a retry or two at their backoff.
        time.sleep(1.0)
        log = box.stop()
    assert_no_secret(text, "/api/status")
    assert_no_secret(log, "the log")
    errors = {c["name"]: c["error"] for c in status["cameras"]}
    # The source, redacted, and FFmpeg's reason in its own words.
    assert errors["gate"] == f"cannot open {expected['gate']}: Server returned 401 Unauthorized (authorization failed)"
    assert errors["yard"].startswith(f"cannot open {expected['yard']}")
    assert errors["shed"].startswith(f"cannot open {expected['shed']}")
    # What the log does say about them, redacted: the sources are named, not hidden away.
    assert f"camera porch: connected to {expected['porch']}" in log
    assert f"camera gate: cannot open {expected['gate']}" in log
    assert f"camera shed: cannot open {expected['shed']}" in log


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_doctor_never_shows_a_camera_password(tmp_path: Path, camera: MjpegCamera, as_json: bool) -> None:
    expected = shown_as(camera)
    cams = "".join(f"  {name}: {{source: '{url}'}}\n" for name, url in sources(camera).items())
    config = tmp_path / "edgewatch.yaml"
    config.write_text(f"cameras:\n{cams}detector: {{type: cpu}}\nstorage: {{path: '{tmp_path / 'state'}'}}\n")
    env = {**os.environ, tflite.EDGETPU_LIBRARY_ENV: str(tmp_path / "libedgetpu.so.1")}
    done = subprocess.run(
        [EDGEWATCH, "doctor", "--config", str(config), *(["--json"] if as_json else [])],
        capture_output=True, text=True, timeout=120, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr  # three cameras fail
    assert_no_secret(done.stdout + done.stderr, "doctor's output")
    if as_json:
        checks = {c["name"]: c for c in json.loads(done.stdout)["checks"]}
        assert checks["camera:porch"]["status"] == "ok"
        for name in ("porch", "gate", "shed"):
            assert checks[f"camera:{name}"]["details"]["source"] == expected[name]
        assert checks["camera:yard"]["details"]["source"].startswith(expected["yard"])
        assert checks["camera:gate"]["summary"].startswith(f"cannot open {expected['gate']}")
    else:
        assert f"source: {expected['porch']}" in done.stdout
        assert "[ OK ] camera:porch" in done.stdout
        assert f"[FAIL] camera:shed: {expected['shed']}: the URL's port is not a number" in done.stdout
