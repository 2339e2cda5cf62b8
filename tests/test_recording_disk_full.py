"""A nearly full disk (issue 16, storage): `edgewatch run` on a real tmpfs of its own. Filled to
under the recording reserve, recording pauses and says so in /api/status and the log, while
detection goes on and alerts still arrive over MQTT; with space again, recording resumes and
new footage is indexed. (The tmpfs needs root, as the soak's disk-full fault does.)
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app.demo.clip import ClipInfo
from app.recording import PAUSED, RESERVE_BYTES
from tests.publish.hub import Subscriber
from tests.support.appliance import Appliance
from tests.support.mosquitto import Mosquitto
from tests.support.rtsp import RtspCamera

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))  # bench/ is not a package
from soak import Disk

MIB = 1024 * 1024


@pytest.fixture
def disk(tmp_path: Path) -> Any:
    tmpfs = Disk(tmp_path / "box")
    tmpfs.mount(RESERVE_BYTES // MIB + 96)
    assert tmpfs.mounted, f"a tmpfs is needed for this test: {tmpfs.unavailable}"
    yield tmpfs
    tmpfs.unmount()


def recording(status: dict[str, Any]) -> dict[str, Any]:
    rec: dict[str, Any] = status["cameras"][0]["recording"]
    return rec


def test_a_nearly_full_disk_pauses_recording_and_nothing_else(
    disk: Disk,
    person_clip: ClipInfo,
    rtsp_cameras: Callable[..., RtspCamera],
    mosquitto_broker: Callable[..., Mosquitto],
) -> None:
    assert person_clip.annexb is not None
    camera = rtsp_cameras(person_clip.annexb)
    broker = mosquitto_broker()
    hub = Subscriber(broker, "edgewatch/test-box/alerts")
    extra = (
        "record: {mode: continuous}\n"
        f"mqtt: {{host: 127.0.0.1, port: {broker.port}}}\n"
        "rules: [{name: anyone, objects: [person], cooldown: 0s}]\n"
    )
    box = Appliance(disk.path, {"door": camera.url}, extra)
    with box:
        box.wait_for_status(lambda s: recording(s)["active"], timeout=30)

        disk.fill(leave_kb=(RESERVE_BYTES - 8 * MIB) // 1024)  # under the reserve
        _, paused = box.wait_for_status(lambda s: recording(s)["error"] == PAUSED, timeout=15)
        assert not recording(paused)["active"]
        hub.drain("#", wait=0.2)  # alerts from before the fill are not the point
        # Detection and alerts carry on while it is paused: her next walk through is an alert.
        payload, _ = hub.next("edgewatch/test-box/alerts", timeout=30)
        assert json.loads(payload)["label"] == "person"
        _, still = box.status()
        assert still["cameras"][0]["online"] and recording(still)["error"] == PAUSED

        disk.empty()  # space again (retention, or the owner)
        box.wait_for_status(lambda s: recording(s)["active"] and recording(s)["error"] is None, timeout=30)
        resumed_at = time.time()
        footage = disk.path / "state" / "recordings" / "door"

        def new_segment() -> bool:
            return any(p.stat().st_mtime > resumed_at for p in footage.rglob("*.mp4"))

        deadline = time.monotonic() + 30
        while not new_segment():
            assert time.monotonic() < deadline, "no footage written after recording resumed"
            time.sleep(0.5)
        log = box.stop()
    assert log.count("recording paused") >= 1, log[-3000:]
