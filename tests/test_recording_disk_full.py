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

from app.config import parse_config
from app.demo.clip import ClipInfo
from app.detect.engine import TfliteDetector
from app.run.recording import PAUSED, RESERVE_BYTES
from app.run.service import Service
from app.store import Store
from tests.publish.hub import Subscriber
from tests.record.media import make_source, packets
from tests.support.appliance import Appliance
from tests.support.mosquitto import Mosquitto
from tests.support.rtsp import RtspCamera
from tests.support.waiting import wait_until

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
        assert still["cameras"][0]["online"]
        assert recording(still)["error"] == PAUSED

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


def test_on_a_card_smaller_than_max_mb_the_oldest_footage_makes_room(
    disk: Disk, person_detector: TfliteDetector, tmp_path: Path
) -> None:
    """Footage itself fills the disk (max_mb larger than the card): recording pauses, the
    service's retention deletes the oldest footage until there is room, and recording resumes,
    without anyone freeing space. Real segments of real H.264 on the real tmpfs."""
    reserve = 2 * MIB
    source = make_source(tmp_path / "cam.mp4", seconds=12.0, size=(1280, 720))
    config = parse_config(
        "cameras:\n  drive: {source: 'rtsp://127.0.0.1:9/none'}\n"
        f"storage: {{path: '{disk.path / 'state'}', max_mb: 100000}}\nrecord: {{mode: continuous}}\n"
    )
    with Store(disk.path / "state", retain_days=7, max_mb=100000) as store:
        service = Service(config, person_detector, store, record_reserve_bytes=reserve)
        drive = service.recordings.cameras["drive"]
        start = time.time() - 100
        for loop in range(3):  # 36 s of footage: several MB
            for packet in packets(source.path, origin=start + 12.0 * loop):
                drive.push(packet)
        drive.close()
        footage = store.footage.total_bytes()
        assert footage > 3 * reserve, footage
        disk.fill(leave_kb=(reserve - MIB // 2) // 1024)  # the card is full, and footage is most of what fills it
        service.recordings.check_space()
        assert drive.paused
        kept = store.footage.segments("drive", 0, 2e9)

        service.start()  # its watchdog: check space, retention, make room
        try:
            resumed = wait_until(lambda: not drive.paused, 20, step=0.2)
        finally:
            service.stop()
        assert resumed, drive.state()
        left = store.footage.segments("drive", 0, 2e9)
        assert 0 < len(left) < len(kept)  # some footage went, not all of it
        assert [s.path for s in left] == [s.path for s in kept[-len(left) :]]  # the oldest went first
