"""The service's recording glue (app.run.recording) on real H.264 packets and a real store:
recovery and indexing at start, and footage wanted while an event's object is seen."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from app.config import parse_config
from app.run.recording import Recordings
from app.store import Store
from tests.publish.hub import outcome
from tests.record.conftest import record
from tests.record.media import Source, make_source, packets


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Source:
    return make_source(tmp_path_factory.mktemp("recording") / "cam.mp4", seconds=12.0, size=(640, 360))


CONFIG = """
cameras:
  drive: {source: rtsp://127.0.0.1:9/x}
  yard: {source: rtsp://127.0.0.1:9/y, record: {enabled: false}}
record: {pre_capture: 2s, post_capture: 3s}
"""


def test_start_repairs_half_written_segments_and_indexes_what_the_index_lacks(tmp_path: Path, source: Source) -> None:
    with Store(tmp_path / "s", retain_days=7, max_mb=64) as store:
        folder = store.footage.folder("drive")
        segments = record(packets(source.path, origin=time.time() - 60), folder, camera="drive")
        assert len(segments) == 3
        crashed = segments[2].path.rename(segments[2].path.with_name(segments[2].path.name + ".part"))
        broken = segments[1].path.with_name("1.mp4")
        broken.write_bytes(b"\0" * 100)  # a final name over garbage: never served

        recordings = Recordings(parse_config(CONFIG), store)

        assert set(recordings.cameras) == {"drive"}  # yard does not record
        # repaired under its final name
        assert not crashed.exists()
        assert segments[2].path.exists()
        assert not broken.exists()
        found = store.footage.segments("drive", 0, 2e9)
        assert [s.path for s in found] == [s.path for s in segments]
        assert [s.frames for s in found] == [s.frames for s in segments]


def test_footage_is_wanted_until_post_capture_after_the_last_sighting(tmp_path: Path, source: Source) -> None:
    with Store(tmp_path / "s", retain_days=7, max_mb=64) as store:
        recordings = Recordings(parse_config(CONFIG), store)
        drive = recordings.cameras["drive"]
        now = time.time()
        items = packets(source.path, origin=now - 6.0)  # 6 s before now to 6 s after
        before = [p for p in items if p.time < now - 1.0]
        for packet in before:
            drive.push(packet)
        assert not drive.recorder.writer.recording  # no event: only the ring
        recordings.on_outcome(outcome("yard", ("person",)))  # another camera's event changes nothing here
        assert not drive.recorder.recording
        recordings.on_outcome(outcome("drive", ("person",)))  # seen now: wanted until now + 3 s
        for packet in items[len(before) :]:
            drive.push(packet)
        recordings.close()
        found = store.footage.segments("drive", 0, 2e9)
        assert found, "nothing was recorded for the event"
        assert found[0].start == pytest.approx(now - 3.0, abs=1.01)  # the ring: 2 s pre-capture, whole GOPs
        assert max(s.end for s in found) == pytest.approx(now + 3.0, abs=1.01)  # stops at the keyframe after


def test_a_parked_car_keeps_its_event_but_not_the_recorder(tmp_path: Path, source: Source) -> None:
    """A stationary object is looked at only now and then: hours of a car standing still are
    no evidence, and its sightings must not switch the recorder on and off."""
    with Store(tmp_path / "s", retain_days=7, max_mb=64) as store:
        recordings = Recordings(parse_config(CONFIG), store)
        drive = recordings.cameras["drive"]
        now = time.time()
        for packet in packets(source.path, origin=now - 6.0):
            if abs(packet.time - now) < 0.05:
                recordings.on_outcome(outcome("drive", ("car",), stationary=True))
            drive.push(packet)
        recordings.close()
        assert store.footage.segments("drive", 0, 2e9) == []
