"""The footage index and its retention, on real H.264 segments and a real SQLite store."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from app.domain import Alert, Event
from app.record import Segment
from app.store import SCHEMA_VERSION, Store
from app.store.footage import FootagePolicy
from tests.record.conftest import record
from tests.record.media import Source, make_source, packets


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Source:
    """20 s of 640x360 H.264 at 12 fps, a keyframe every second: five 4 s segments."""
    return make_source(tmp_path_factory.mktemp("footage") / "cam.mp4", seconds=20.0, size=(640, 360))


def recorded(store: Store, camera: str, source: Source, origin: float) -> list[Segment]:
    segments = record(packets(source.path, origin=origin), store.footage.folder(camera), camera=camera)
    assert len(segments) == 5
    for segment in segments:
        assert store.footage.add(segment)
    return segments


def event(event_id: str, camera: str, start: float, end: float) -> Event:
    return Event(event_id, camera, "person", 0.9, 0.9, (0.1, 0.1, 0.4, 0.9), (), start, end, False)


def starts(store: Store, camera: str) -> list[float]:
    return [round(s.start, 3) for s in store.footage.segments(camera, 0, time.time() + 3600)]


def test_the_index_round_trips_a_segment_and_answers_overlaps(tmp_path: Path, source: Source) -> None:
    with Store(tmp_path / "s", retain_days=7, max_mb=64) as store:
        segments = recorded(store, "porch", source, 1_700_000_000.0)
        found = store.footage.segments("porch", 1_700_000_005.0, 1_700_000_009.0)
        assert found == segments[1:3]  # every field, codec parameters included, as the writer reported it
        assert store.footage.has("porch", 1_700_000_019.0, 1_700_000_030.0)
        assert not store.footage.has("porch", 1_700_000_020.5, 1_700_000_030.0)
        assert not store.footage.has("yard", 0, 2e9)
        assert store.footage.total_bytes() == sum(s.size for s in segments)
        assert stat.S_IMODE(os.stat(store.footage.root).st_mode) == 0o700
    with Store(tmp_path / "s", retain_days=7, max_mb=64) as again:  # persisted, schema migrated once
        assert again.footage.segments("porch", 0, 2e9) == segments
    assert SCHEMA_VERSION == 4


def test_events_mode_keeps_only_segments_around_events_once_post_capture_passed(tmp_path: Path, source: Source) -> None:
    now = time.time()
    with Store(tmp_path / "s", retain_days=7, max_mb=64) as store:
        store.footage.policies = {
            "porch": FootagePolicy("events", 2.0, 2.0, 7),
            "yard": FootagePolicy("events", 2.0, 2.0, 7),
            "drive": FootagePolicy("continuous", 2.0, 2.0, 7),
        }
        old = now - 600.0
        porch = recorded(store, "porch", source, old)
        recorded(store, "drive", source, old)  # continuous: all kept
        recorded(store, "yard", source, now - 15.0)  # recent: post-capture (and grace) not over yet
        store.save_event(event("e1", "porch", old + 9.0, old + 9.5))  # ± 2 s: 7..11.5 → segments 4-8 and 8-12

        report = store.enforce_retention(now)

        assert report.segments_unwanted == 3
        assert starts(store, "porch") == [round(old + 4.0, 3), round(old + 8.0, 3)]
        for gone in (porch[0], porch[3], porch[4]):
            assert not gone.path.exists()
        assert all(s.path.exists() for s in porch[1:3])
        assert len(starts(store, "drive")) == 5
        assert len(starts(store, "yard")) == 5
        assert report.footage_bytes_freed == sum(porch[i].size for i in (0, 3, 4))
        assert report.files_deleted >= 3
        assert report.bytes_freed >= report.footage_bytes_freed
        # The event goes (age): its footage is unwanted now and follows it.
        store.retain_days = 1
        later = store.enforce_retention(now + 2 * 86_400.0)
        assert later.events_expired == 1
        assert starts(store, "porch") == []


def test_over_quota_the_oldest_footage_goes_first_and_alert_evidence_last(tmp_path: Path, source: Source) -> None:
    now = time.time()
    origin = now - 3600.0
    with Store(tmp_path / "s", retain_days=7, max_mb=64) as store:
        store.footage.policies = {"porch": FootagePolicy("continuous", 1.0, 1.0, 7)}
        segments = recorded(store, "porch", source, origin)
        alerted = event("e-alert", "porch", origin + 1.0, origin + 2.0)  # in the oldest segment
        store.save_event(alerted)
        store.add_alert(Alert("e-alert:r", "r", "porch", "person", 0.9, alerted.box, (), alerted.id,
                              alerted.start_time, alerted.start_time + 1, "alert"))  # fmt: skip
        store.enforce_retention(now)  # settle the database's own size first
        used = store.enforce_retention(now).used_bytes
        mean = sum(s.size for s in segments) // len(segments)
        store.max_bytes = used - int(2.5 * mean)

        report = store.enforce_retention(now)

        kept = starts(store, "porch")
        assert kept[0] == round(segments[0].start, 3)  # the alert's evidence stays, though oldest
        evicted = [s for s in segments if round(s.start, 3) not in kept]
        assert evicted == segments[1 : 1 + len(evicted)]  # then oldest first
        assert report.segments_evicted == len(evicted) >= 3
        assert report.footage_bytes_freed == sum(s.size for s in evicted)
        assert not report.over_quota
        assert report.used_bytes <= store.max_bytes
        assert store.event("e-alert") is not None
        assert store.snapshot_path("e-alert") is None
